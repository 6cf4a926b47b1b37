"""log_metric_series: a key's whole history in one call, sent as columnar batches in call order."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import numpy as np
import pytest

from producer import Tracker, TrackerSettings
from producer.series import SERIES_BATCH_POINTS, check_series, merge, split
from schemas import MetricsLogged, RunStatus, TagsSet, validate_event
from tests.unit.producer.fakes import RecordingPublisher


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def tracker(publisher: RecordingPublisher) -> Iterator[Tracker]:
    t = Tracker(publisher=publisher, settings=TrackerSettings(metrics_flush_interval_s=60))  # type: ignore[arg-type]
    yield t
    t.close()


def test_a_series_is_sent_after_earlier_points_and_before_later_events(tracker: Tracker,
                                                                       publisher: RecordingPublisher) -> None:
    run = tracker.start_run("exp", "r")
    run.log_metric("loss", 1.0)  # pending in the buffer
    run.log_metric_series("val", np.arange(5), [0.5, math.nan, math.inf, 2, 3], timestamps=[10, 11, 12, 13, 14])
    run.set_tag("k", "v")
    events = publisher.run_events(run.run_id)
    kinds = [type(e.payload).__name__ for e in events]
    assert kinds == ["RunStarted", "MetricsLogged", "MetricsLogged", "TagsSet"]
    series = events[2].payload
    assert isinstance(series, MetricsLogged) and isinstance(events[3].payload, TagsSet)
    assert [(k, s, t) for k, s, t, _ in series.points()] == [("val", i, 10 + i, ) for i in range(5)]
    assert series.values[0] == 0.5 and math.isnan(series.values[1]) and series.values[2] == math.inf
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert all(validate_event(e) is e for e in events)


def test_a_long_series_is_cut_into_batches_and_default_steps_follow_it(tracker: Tracker,
                                                                       publisher: RecordingPublisher) -> None:
    run = tracker.start_run("exp", "r")
    n = SERIES_BATCH_POINTS * 2 + 10
    run.log_metric_series("loss", np.arange(n), np.linspace(1, 0, n))
    run.log_metric("loss", 0.0)  # no step given: one past the series
    run.end()
    batches = publisher.batches(run.run_id)
    assert [len(b) for b in batches] == [SERIES_BATCH_POINTS, SERIES_BATCH_POINTS, 10, 1]
    assert np.array_equal(np.concatenate([b.steps for b in batches]), np.arange(n + 1))
    assert len({int(t) for b in batches[:3] for t in b.timestamps}) == 1  # now, once for the whole series


@pytest.mark.parametrize(("steps", "values", "timestamps", "words"), [
    ([0, 1], [1.0], None, "differ in length"),
    ([0.5, 1], [1.0, 2.0], None, "steps must be integers"),
    ([0, 1], ["a", "b"], None, "must be numbers"),
    ([0, 1], [1.0, None], None, "must be numbers"),
    ([0, 1], [1.0, 2.0], [1, -5], "before 1970"),
    ([[0, 1]], [[1.0, 2.0]], None, "one-dimensional"),
    (np.array([2**63], dtype=np.uint64), [1.0], None, "64 bits"),
])
def test_a_bad_series_is_refused_whole(tracker: Tracker, publisher: RecordingPublisher, steps: object,
                                       values: object, timestamps: object, words: str) -> None:
    run = tracker.start_run("exp", "r")
    with pytest.raises(ValueError, match=words):
        run.log_metric_series("loss", steps, values, timestamps)
    with pytest.raises(ValueError, match="may only contain"):
        run.log_metric_series("bad key!", [0], [1.0])
    run.end()
    assert publisher.batches(run.run_id) == []


def test_an_empty_series_sends_nothing(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("exp", "r")
    run.log_metric_series("loss", [], [])
    run.end()
    assert publisher.batches(run.run_id) == []


def test_consecutive_series_of_a_run_travel_as_one_event(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("exp", "r")
    keys = ["val_loss", "train_loss", "accuracy"]
    for i, key in enumerate(keys):
        run.log_metric_series(key, np.arange(100), np.arange(100) * 0.5 + i, timestamps=np.full(100, 7 + i))
    assert publisher.batches(run.run_id) == []  # held until something else is logged
    run.end()
    kinds = [type(e.payload).__name__ for e in publisher.run_events(run.run_id)]
    assert kinds == ["RunStarted", "MetricsLogged", "RunStatusChanged"]
    (batch,) = publisher.batches(run.run_id)
    assert batch.names == keys
    assert list(batch.points()) == [(key, s, 7 + i, s * 0.5 + i) for i, key in enumerate(keys) for s in range(100)]


def test_held_series_go_before_later_points_and_after_earlier_ones(tracker: Tracker,
                                                                   publisher: RecordingPublisher) -> None:
    run = tracker.start_run("exp", "r")
    run.log_metric("a", 1.0, step=0)
    run.log_metric_series("b", [0, 1], [2.0, 3.0], timestamps=[5, 5])
    run.log_metric_series("c", [0], [4.0], timestamps=[5])
    run.log_metrics({"a": 5.0, "b": 6.0}, step=1, timestamp=9)
    run.log_metric_series("a", [2], [7.0], timestamps=[9])
    tracker.flush()
    batches = publisher.batches(run.run_id)
    assert [[(k, s, v) for k, s, _, v in b.points()] for b in batches] == [
        [("a", 0, 1.0)],
        [("b", 0, 2.0), ("b", 1, 3.0), ("c", 0, 4.0)],
        [("a", 1, 5.0), ("b", 1, 6.0)],
        [("a", 2, 7.0)],
    ]


def test_held_series_are_cut_at_the_batch_size_and_a_key_logged_twice_is_named_once(
        tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("exp", "r")
    third = 10_000
    for first in range(0, 3 * third, third):
        run.log_metric_series("loss", np.arange(first, first + third), np.ones(third))
    run.end()
    batches = publisher.batches(run.run_id)
    assert [len(b) for b in batches] == [2 * third, third]
    assert batches[0].names == ["loss"] and set(batches[0].name_index.tolist()) == {0}
    assert np.array_equal(np.concatenate([b.steps for b in batches]), np.arange(3 * third))
    assert all(len(b) <= SERIES_BATCH_POINTS for b in batches)


def test_held_series_are_sent_by_the_background_flush(publisher: RecordingPublisher) -> None:
    with Tracker(publisher=publisher,  # type: ignore[arg-type]
                 settings=TrackerSettings(metrics_flush_interval_s=0.05)) as tracker:
        run = tracker.start_run("exp", "r")
        run.log_metric_series("loss", [0, 1], [1.0, 0.5])
        deadline = time.monotonic() + 10
        while not publisher.batches(run.run_id) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [len(b) for b in publisher.batches(run.run_id)] == [2]
        assert run.status == RunStatus.RUNNING  # sent with the run still open: nothing else made it go


def test_merge_keeps_every_point_in_order() -> None:
    a = MetricsLogged(["x", "y"], [0, 1, 0], [0, 0, 1], [1, 1, 2], [0.1, 0.2, 0.3])
    b = MetricsLogged(["y", "z"], [1, 0], [5, 6], [3, 4], [0.4, 0.5])
    merged = merge([a, b])
    assert merged.names == ["x", "y", "z"]
    assert list(merged.points()) == [*a.points(), *b.points()]
    assert merge([a]) is a


def test_split_cuts_long_batches_into_views_and_keeps_a_short_one_whole() -> None:
    steps = np.arange(7, dtype=np.int64)
    batch = check_series("k", steps, steps * 0.5, None, 1_000)
    assert split(batch, 10) == [batch] and split(batch, 10)[0] is batch
    pieces = split(batch, 3)
    assert [len(p) for p in pieces] == [3, 3, 1]
    assert merge(pieces) == batch
    assert np.shares_memory(pieces[1].values, batch.values)
    empty = check_series("k", [], [], None, 1_000)
    assert split(empty, 10) == []


def test_default_timestamps_are_now_and_given_ones_are_checked() -> None:
    batch = check_series("k", [0, 1], [1.0, 2.0], None, 1_234)
    assert batch.timestamps.tolist() == [1_234, 1_234]
    with pytest.raises(ValueError, match="before 1970"):
        check_series("k", [0, 1], [1.0, 2.0], [5, -1], 1_234)
