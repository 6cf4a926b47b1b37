"""The SDK's behaviour at the call site: what it publishes, in what order, and what it refuses."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import pytest

from producer import Tracker, TrackerSettings
from schemas import (
    ExperimentCreated,
    MetricsLogged,
    ParamsLogged,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagsSet,
)
from tests.unit.producer.fakes import RecordingPublisher


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def tracker(publisher: RecordingPublisher) -> Iterator[Tracker]:
    t = Tracker(publisher=publisher, settings=TrackerSettings(metrics_flush_interval_s=60))  # type: ignore[arg-type]
    yield t
    t.close()


def test_the_readme_example(tracker: Tracker, publisher: RecordingPublisher) -> None:
    with tracker.start_run(experiment="lr-sweep", name="trial-7", params={"lr": 0.01}, tags={"team": "vision"}) as run:
        run.log_metric("loss", 0.42, step=1)
        run.log_metrics({"loss": 0.40, "acc": 0.8}, step=2)
        run.log_param("batch_size", 64)
        run.set_tag("stage", "warmup")
    tracker.flush()
    assert re.fullmatch(r"[0-9a-f]{32}", run.run_id)
    events = publisher.events()
    assert [e.type for e in events] == ["ExperimentCreated", "RunStarted", "ParamsLogged", "TagsSet",
                                        "MetricsLogged", "ParamsLogged", "TagsSet", "RunStatusChanged"]
    assert events[0].payload == ExperimentCreated("lr-sweep") and events[0].run_id == ""
    run_events = events[1:]
    assert [e.seq for e in run_events] == list(range(1, 8))
    assert all(e.run_id == run.run_id for e in run_events)
    assert [key for key, _ in publisher.sent[1:]] == [run.run_id] * 7
    assert isinstance(run_events[0].payload, RunStarted) and run_events[0].payload.name == "trial-7"
    assert run_events[1].payload == ParamsLogged({"lr": "0.01"})
    batch = run_events[3].payload
    assert isinstance(batch, MetricsLogged)
    assert list(batch.points()) == [("loss", 1, batch.timestamps[0], 0.42), ("loss", 2, batch.timestamps[1], 0.40),
                                    ("acc", 2, batch.timestamps[2], 0.8)]
    assert run_events[4].payload == ParamsLogged({"batch_size": "64"})
    assert run_events[-1].payload.status == RunStatus.FINISHED  # type: ignore[union-attr]


def test_an_exception_ends_the_run_failed(tracker: Tracker, publisher: RecordingPublisher) -> None:
    with pytest.raises(ZeroDivisionError), tracker.start_run("e") as run:
        run.log_metric("loss", 1.0)
        _ = 1 / 0
    last = publisher.events()[-1]
    assert isinstance(last.payload, RunStatusChanged) and last.payload.status == RunStatus.FAILED
    assert last.payload.end_time is not None


def test_child_runs_carry_their_parent(tracker: Tracker, publisher: RecordingPublisher) -> None:
    with tracker.start_run("e") as parent, tracker.start_run("e", parent_run_id=parent.run_id) as child:
        pass
    started = [e for e in publisher.events() if isinstance(e.payload, RunStarted)]
    assert started[1].run_id == child.run_id and started[1].payload.parent_run_id == parent.run_id
    with pytest.raises(ValueError, match="parent_run_id"):
        tracker.start_run("e", parent_run_id="not-a-run")


@pytest.mark.parametrize(("call", "message"), [
    (lambda r: r.log_metric("", 1.0), "empty"),
    (lambda r: r.log_metric("k" * 251, 1.0), "251"),
    (lambda r: r.log_metric("it's", 1.0), "may only contain"),
    (lambda r: r.log_metric("loss", "0.1"), "number"),
    (lambda r: r.log_metric("loss", None), "number"),
    (lambda r: r.log_metric("loss", True), "number"),
    (lambda r: r.log_metric("loss", 1.0, step=1.5), "integer"),
    (lambda r: r.log_metric("loss", 1.0, step=2**63), "64 bits"),
    (lambda r: r.log_metrics({"ok": 1.0, "bad": "x"}), "number"),
    (lambda r: r.log_param("lr", 0.02), "not allowed"),
    (lambda r: r.log_param("p", "x" * 6001), "6001"),
    (lambda r: r.set_tag("t", "x" * 8001), "8001"),
])
def test_bad_input_raises_and_publishes_nothing(tracker: Tracker, publisher: RecordingPublisher, call, message) -> None:
    run = tracker.start_run("e", params={"lr": 0.01})
    before = len(publisher.sent)
    with pytest.raises(ValueError, match=message):
        call(run)
    tracker.flush()
    assert len(publisher.sent) == before, "nothing published, not even the valid part of the call"


def test_relogging_a_param_with_the_same_value_is_a_no_op(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("e", params={"lr": 0.01})
    before = len(publisher.sent)
    run.log_param("lr", 0.01)
    assert len(publisher.sent) == before


def test_bad_params_in_start_run_publish_nothing_at_all(tracker: Tracker, publisher: RecordingPublisher) -> None:
    with pytest.raises(ValueError):
        tracker.start_run("e", params={"": 1})
    with pytest.raises(ValueError):
        tracker.start_run("e", tags={"ok": "x", "bad key'": "y"})
    assert publisher.sent == []


def test_non_finite_values_are_legal(tracker: Tracker, publisher: RecordingPublisher) -> None:
    with tracker.start_run("e") as run:
        run.log_metrics({"a": math.nan, "b": math.inf, "c": -math.inf}, step=0)
    batch = next(e.payload for e in publisher.events() if isinstance(e.payload, MetricsLogged))
    assert math.isnan(batch.values[0]) and batch.values[1:].tolist() == [math.inf, -math.inf]


def test_points_are_batched_by_size_and_default_steps_count_up(publisher: RecordingPublisher) -> None:
    tracker = Tracker(publisher=publisher,  # type: ignore[arg-type]
                      settings=TrackerSettings(metrics_batch_points=10, metrics_flush_interval_s=60))
    try:
        run = tracker.start_run("e")
        for i in range(25):
            run.log_metric("loss", float(i))
        batches = [e.payload for e in publisher.events() if isinstance(e.payload, MetricsLogged)]
        assert [len(b) for b in batches] == [10, 10]
        tracker.flush()
        batches = [e.payload for e in publisher.events() if isinstance(e.payload, MetricsLogged)]
        assert [len(b) for b in batches] == [10, 10, 5]
        assert [s for b in batches for s in b.steps] == list(range(25))
    finally:
        tracker.close()


def test_the_background_flusher_sends_pending_points(publisher: RecordingPublisher) -> None:
    tracker = Tracker(publisher=publisher, settings=TrackerSettings(metrics_flush_interval_s=0.05))  # type: ignore
    try:
        run = tracker.start_run("e")
        run.log_metric("loss", 1.0)
        import time

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
                isinstance(e.payload, MetricsLogged) for e in publisher.events()):
            time.sleep(0.02)
        assert any(isinstance(e.payload, MetricsLogged) for e in publisher.events())
    finally:
        tracker.close()


def test_tags_after_points_keep_the_call_order(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("e")
    run.log_metric("loss", 1.0, step=0)
    run.set_tag("phase", "eval")
    types = [e.type for e in publisher.events()]
    assert types[-2:] == ["MetricsLogged", "TagsSet"]
    assert isinstance(publisher.events()[-1].payload, TagsSet)


def test_an_experiment_is_announced_once_per_tracker(tracker: Tracker, publisher: RecordingPublisher) -> None:
    tracker.start_run("same")
    tracker.start_run("same")
    assert [e.type for e in publisher.events()].count("ExperimentCreated") == 1
