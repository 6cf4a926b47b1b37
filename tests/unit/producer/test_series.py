"""log_metric_series: a key's whole history in one call, sent as columnar batches in call order."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from producer import Tracker, TrackerSettings
from producer.series import SERIES_BATCH_POINTS
from schemas import MetricsLogged, TagsSet, validate_event
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
