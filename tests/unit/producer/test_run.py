"""Tracker and ActiveRun as a user sees them: what gets published, in what order, and what is refused.

The Kafka edge is replaced by RecordingPublisher; the recorded bytes are decoded with schemas.decode.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from fractions import Fraction

import numpy as np
import pytest

from producer import ActiveRun, Tracker, TrackerSettings
from schemas import (
    ExperimentCreated,
    MetricsLogged,
    ParamsLogged,
    RunEvent,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
    decode,
    validate_event,
)
from schemas.ids import experiment_id_for
from tests.unit.producer.fakes import RecordingPublisher

HEX32 = re.compile(r"[0-9a-f]{32}")


def make_tracker(publisher: RecordingPublisher, **settings: object) -> Tracker:
    settings.setdefault("metrics_flush_interval_s", 60)  # the background flusher stays out of the way
    return Tracker(publisher=publisher, settings=TrackerSettings(**settings))  # type: ignore[arg-type]


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def tracker(publisher: RecordingPublisher) -> Iterator[Tracker]:
    t = make_tracker(publisher)
    yield t
    t.close()


def assert_run_log_is_consistent(publisher: RecordingPublisher, run: ActiveRun) -> list[RunEvent]:
    """Keys equal the run id, seq counts 1..n in publish order, every event passes validate_event."""
    keyed = [(key, decode(value)) for key, value in publisher.sent]
    mine = [(key, e) for key, e in keyed if e.run_id == run.run_id]
    assert all(key == run.run_id for key, _ in mine)
    assert [e.seq for _, e in mine] == list(range(1, len(mine) + 1))
    assert all(e.experiment_id == run.experiment_id for _, e in mine)
    for _, e in mine:
        validate_event(e)
    return [e for _, e in mine]


# -- the README example ---------------------------------------------------------------------------------


def test_the_readme_example(tracker: Tracker, publisher: RecordingPublisher) -> None:
    with tracker.start_run(experiment="lr-sweep", name="trial-7",
                           params={"lr": 0.01}, tags={"team": "vision"}) as run:
        for step in range(1000):
            run.log_metrics({"loss": 0.40, "acc": 0.8}, step=step)
        run.log_param("batch_size", 64)
        run.set_tag("stage", "warmup")
    assert tracker.flush() == 0
    assert HEX32.fullmatch(run.run_id)

    events = publisher.events()
    assert [e.type for e in events] == [
        "ExperimentCreated", "RunStarted", "ParamsLogged", "TagsSet", "MetricsLogged", "MetricsLogged",
        "ParamsLogged", "TagsSet", "RunStatusChanged",
    ]
    created = events[0]
    assert created.payload == ExperimentCreated("lr-sweep")
    assert created.run_id == "" and created.experiment_id == experiment_id_for("lr-sweep") == run.experiment_id
    assert publisher.sent[0][0] == run.experiment_id  # an experiment event is keyed by its experiment

    run_events = assert_run_log_is_consistent(publisher, run)
    assert len(run_events) == 8
    started = run_events[0].payload
    assert isinstance(started, RunStarted)
    assert (started.name, started.parent_run_id, started.description) == ("trial-7", None, None)
    assert run_events[1].payload == ParamsLogged({"lr": "0.01"})
    assert run_events[2].payload == TagsSet({"team": "vision"})
    first, second = run_events[3].payload, run_events[4].payload
    assert isinstance(first, MetricsLogged) and isinstance(second, MetricsLogged)
    assert len(first) == len(second) == 1000  # the default batch size
    assert first.names == ["loss", "acc"] and first.name_index[:4].tolist() == [0, 1, 0, 1]
    assert first.steps[:4].tolist() == [0, 0, 1, 1] and second.steps[-2:].tolist() == [999, 999]
    assert set(first.values) == {0.40, 0.8}
    assert run_events[5].payload == ParamsLogged({"batch_size": "64"})
    assert run_events[6].payload == TagsSet({"stage": "warmup"})
    finished = run_events[7].payload
    assert isinstance(finished, RunStatusChanged) and finished.status == RunStatus.FINISHED
    assert finished.end_time is not None and finished.end_time.tzinfo is not None
    assert run.status == RunStatus.FINISHED


def test_log_metric_log_metrics_log_param_and_set_tag_in_call_order(tracker: Tracker,
                                                                     publisher: RecordingPublisher) -> None:
    with tracker.start_run("e", "r", params={"a": 1}, tags={"t": "x"}) as run:
        run.log_metric("loss", 0.42, step=1)
        run.log_metrics({"loss": 0.40, "acc": 0.8}, step=2)
        run.log_param("b", "two")
        run.log_metric("loss", 0.3, step=3)
        run.set_tag("stage", "warmup")
    events = assert_run_log_is_consistent(publisher, run)
    assert [e.type for e in events] == ["RunStarted", "ParamsLogged", "TagsSet", "MetricsLogged", "ParamsLogged",
                                        "MetricsLogged", "TagsSet", "RunStatusChanged"]
    batch = events[3].payload
    assert isinstance(batch, MetricsLogged)
    assert [(k, s, v) for k, s, _, v in batch.points()] == [("loss", 1, 0.42), ("loss", 2, 0.40), ("acc", 2, 0.8)]
    assert [(k, s, v) for k, s, _, v in events[5].payload.points()] == [("loss", 3, 0.3)]  # type: ignore[union-attr]


def test_events_carry_the_producer_identity_and_a_utc_event_time(tracker: Tracker,
                                                                 publisher: RecordingPublisher) -> None:
    before = datetime.now(UTC)
    run = tracker.start_run("e")
    after = datetime.now(UTC)
    event = publisher.run_events(run.run_id)[0]
    assert event.producer.pid == os.getpid() and event.producer.host
    assert before <= event.event_time <= after
    assert uuid.UUID(event.event_id).version == 4
    ids = {e.event_id for e in publisher.events()}
    assert len(ids) == len(publisher.sent)


# -- lifecycle ----------------------------------------------------------------------------------------------


def test_an_exception_in_the_with_block_ends_the_run_failed_and_is_re_raised(
        tracker: Tracker, publisher: RecordingPublisher) -> None:
    with pytest.raises(ZeroDivisionError), tracker.start_run("e") as run:
        run.log_metric("loss", 1.0)
        _ = 1 / 0
    events = assert_run_log_is_consistent(publisher, run)
    assert [e.type for e in events] == ["RunStarted", "MetricsLogged", "RunStatusChanged"]
    last = events[-1].payload
    assert isinstance(last, RunStatusChanged) and last.status == RunStatus.FAILED and last.end_time is not None
    assert run.status == RunStatus.FAILED


def test_ctrl_c_in_the_with_block_ends_the_run_killed(tracker: Tracker, publisher: RecordingPublisher) -> None:
    with pytest.raises(KeyboardInterrupt), tracker.start_run("e") as run:
        raise KeyboardInterrupt
    last = publisher.run_events(run.run_id)[-1].payload
    assert isinstance(last, RunStatusChanged) and last.status == RunStatus.KILLED


def test_end_without_a_with_block(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("e")
    run.log_metric("m", 1.0)
    run.end("KILLED")
    events = assert_run_log_is_consistent(publisher, run)
    assert [e.type for e in events] == ["RunStarted", "MetricsLogged", "RunStatusChanged"]
    assert events[-1].payload.status == RunStatus.KILLED  # type: ignore[union-attr]


@pytest.mark.parametrize("status", ["RUNNING", "SCHEDULED", "UNKNOWN", "DONE"])
def test_a_run_cannot_end_in_a_non_final_status(tracker: Tracker, publisher: RecordingPublisher,
                                                status: str) -> None:
    run = tracker.start_run("e")
    before = len(publisher.sent)
    with pytest.raises(ValueError):
        run.end(status)
    assert len(publisher.sent) == before and run.status == RunStatus.RUNNING


def test_run_ids_are_fresh_32_lowercase_hex(tracker: Tracker) -> None:
    ids = {tracker.start_run("e").run_id for _ in range(20)}
    assert len(ids) == 20 and all(HEX32.fullmatch(i) for i in ids)


def test_a_default_run_name_is_derived_from_the_run_id(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run()
    started = publisher.run_events(run.run_id)[0].payload
    assert isinstance(started, RunStarted) and started.name == f"run-{run.run_id[:8]}" == run.name
    assert publisher.events()[0].payload == ExperimentCreated("Default")


def test_start_run_carries_parent_source_and_description(tracker: Tracker, publisher: RecordingPublisher) -> None:
    with tracker.start_run("e") as parent, tracker.start_run(
            "e", "child", parent_run_id=parent.run_id, source="git:abc", description="a child") as child:
        pass
    started = {e.run_id: e.payload for e in publisher.events() if isinstance(e.payload, RunStarted)}
    assert started[parent.run_id].parent_run_id is None  # type: ignore[union-attr]
    assert started[child.run_id] == RunStarted("child", started[child.run_id].user, parent_run_id=parent.run_id,
                                                source="git:abc", description="a child")


@pytest.mark.parametrize("parent", ["not-a-run", "A" * 32, "a" * 31, ""])
def test_a_bad_parent_run_id_raises_and_publishes_nothing(tracker: Tracker, publisher: RecordingPublisher,
                                                          parent: str) -> None:
    with pytest.raises(ValueError, match="parent_run_id"):
        tracker.start_run("e", parent_run_id=parent)
    assert publisher.sent == []


def test_an_experiment_is_announced_once_per_tracker(tracker: Tracker, publisher: RecordingPublisher) -> None:
    a = tracker.start_run("same")
    b = tracker.start_run("same")
    tracker.start_run("other")
    created = [e for e in publisher.events() if isinstance(e.payload, ExperimentCreated)]
    assert [e.payload.name for e in created] == ["same", "other"]  # type: ignore[union-attr]
    assert a.experiment_id == b.experiment_id == experiment_id_for("same") != experiment_id_for("other")
    assert tracker.create_experiment("same") == a.experiment_id
    assert len([e for e in publisher.events() if isinstance(e.payload, ExperimentCreated)]) == 2


def test_two_runs_have_their_own_seq_counters(tracker: Tracker, publisher: RecordingPublisher) -> None:
    a, b = tracker.start_run("e"), tracker.start_run("e")
    a.set_tag("x", 1)
    b.set_tag("x", 1)
    a.set_tag("y", 2)
    a.end()
    b.end()
    assert [e.seq for e in assert_run_log_is_consistent(publisher, a)] == [1, 2, 3, 4]
    assert [e.seq for e in assert_run_log_is_consistent(publisher, b)] == [1, 2, 3]


def test_delete_tag_publishes_tag_deleted(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("e", tags={"stage": "warmup"})
    run.delete_tag("stage")
    assert publisher.run_events(run.run_id)[-1].payload == TagDeleted("stage")
    with pytest.raises(ValueError):
        run.delete_tag("bad'key")


# -- bad input ---------------------------------------------------------------------------------------------------

BAD_CALLS: list[tuple[str, Callable[[ActiveRun], None], str]] = [
    ("empty key", lambda r: r.log_metric("", 1.0), "must not be empty"),
    ("251-char key", lambda r: r.log_metric("k" * 251, 1.0), "251 characters"),
    ("quote in key", lambda r: r.log_metric("it's", 1.0), "may only contain"),
    ("double quote in key", lambda r: r.log_metric('a"b', 1.0), "may only contain"),
    ("string value", lambda r: r.log_metric("loss", "0.1"), "must be a number"),  # type: ignore[arg-type]
    ("None value", lambda r: r.log_metric("loss", None), "must be a number"),  # type: ignore[arg-type]
    ("bool value", lambda r: r.log_metric("loss", True), "must be a number"),
    ("float step", lambda r: r.log_metric("loss", 1.0, step=1.5), "integer"),  # type: ignore[arg-type]
    ("huge step", lambda r: r.log_metric("loss", 1.0, step=2**63), "64 bits"),
    ("negative timestamp", lambda r: r.log_metric("loss", 1.0, timestamp=-1), "before 1970"),
    ("one bad key of many", lambda r: r.log_metrics({"ok": 1.0, "bad'": 2.0}), "may only contain"),
    ("one bad value of many", lambda r: r.log_metrics({"ok": 1.0, "bad": "x"}), "must be a number"),
    ("not a mapping", lambda r: r.log_metrics([("a", 1.0)]), "mapping"),  # type: ignore[arg-type]
    ("param changed", lambda r: r.log_param("lr", 0.02), "not allowed"),
    ("param changed among new ones", lambda r: r.log_params({"new": 1, "lr": "0.1"}), "not allowed"),
    ("param too long", lambda r: r.log_param("p", "x" * 6001), "6001"),
    ("param bad key", lambda r: r.log_param("p q'", 1), "may only contain"),
    ("tag too long", lambda r: r.set_tag("t", "x" * 8001), "8001"),
    ("tag empty key", lambda r: r.set_tag("", "x"), "must not be empty"),
    ("tags not a mapping", lambda r: r.set_tags(["t"]), "mapping"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("call", "message"), [(c, m) for _, c, m in BAD_CALLS], ids=[n for n, _, _ in BAD_CALLS])
def test_bad_input_raises_value_error_and_publishes_nothing(tracker: Tracker, publisher: RecordingPublisher,
                                                           call: Callable[[ActiveRun], None], message: str) -> None:
    run = tracker.start_run("e", params={"lr": 0.01})
    before = len(publisher.sent)
    with pytest.raises(ValueError, match=message):
        call(run)
    tracker.flush()
    assert len(publisher.sent) == before, "nothing is published, not even the valid part of the call"
    run.log_metric("after", 1.0, step=0)  # the run still works, and nothing of the bad call was buffered
    tracker.flush()
    assert publisher.batches(run.run_id) == [MetricsLogged(["after"], [0], [0], publisher.batches()[0].timestamps,
                                                           [1.0])]


def test_relogging_a_param_with_the_same_value_is_a_no_op(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("e", params={"lr": 0.01})
    before = len(publisher.sent)
    run.log_param("lr", 0.01)
    run.log_param("lr", "0.01")
    run.log_params({"lr": 0.01})
    assert len(publisher.sent) == before
    run.log_params({"lr": 0.01, "epochs": 3})  # only the new param is published
    assert publisher.run_events(run.run_id)[-1].payload == ParamsLogged({"epochs": "3"})


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"params": {"": 1}}, "must not be empty"),
    ({"params": {"ok": 1, "x": "y" * 6001}}, "6001"),
    ({"tags": {"ok": "x", "bad key'": "y"}}, "may only contain"),
    ({"tags": ["not", "a", "mapping"]}, "mapping"),
    ({"name": ""}, "run name"),
    ({"name": "n" * 501}, "501"),
    ({"experiment": ""}, "experiment name"),
    ({"experiment": "   "}, "experiment name"),
])
def test_bad_arguments_to_start_run_publish_nothing_at_all(tracker: Tracker, publisher: RecordingPublisher,
                                                           kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tracker.start_run(**kwargs)  # type: ignore[arg-type]
    tracker.flush()
    assert publisher.sent == []  # not even the ExperimentCreated


# -- metrics ---------------------------------------------------------------------------------------------------


def test_nan_and_infinities_survive(tracker: Tracker, publisher: RecordingPublisher) -> None:
    with tracker.start_run("e") as run:
        run.log_metrics({"a": math.nan, "b": math.inf, "c": -math.inf}, step=0)
        run.log_metric("a", float("-nan"), step=1)
    (batch,) = publisher.batches(run.run_id)
    assert batch.names == ["a", "b", "c"]
    assert math.isnan(batch.values[0]) and batch.values[1:3].tolist() == [math.inf, -math.inf]
    assert math.isnan(batch.values[3])


def test_points_are_batched_by_size(publisher: RecordingPublisher) -> None:
    tracker = make_tracker(publisher, metrics_batch_points=10)
    try:
        run = tracker.start_run("e")
        for i in range(25):
            run.log_metric("loss", float(i))
        assert [len(b) for b in publisher.batches()] == [10, 10]
        assert tracker.flush() == 0
        batches = publisher.batches()
        assert [len(b) for b in batches] == [10, 10, 5]
        assert [v for b in batches for v in b.values] == [float(i) for i in range(25)]
        assert [s for b in batches for s in b.steps] == list(range(25))
        assert_run_log_is_consistent(publisher, run)
    finally:
        tracker.close()


def test_a_multi_key_call_is_never_split_across_batches(publisher: RecordingPublisher) -> None:
    tracker = make_tracker(publisher, metrics_batch_points=10)
    try:
        run = tracker.start_run("e")
        run.log_metrics({f"k{i}": float(i) for i in range(4)}, step=0)
        run.log_metrics({f"k{i}": float(i) for i in range(4)}, step=1)
        assert publisher.batches() == []
        run.log_metrics({f"k{i}": float(i) for i in range(4)}, step=2)  # 12 >= 10: flushed as one batch
        (batch,) = publisher.batches()
        assert len(batch) == 12 and batch.steps.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    finally:
        tracker.close()


def test_flush_sends_pending_points_and_waits_on_the_publisher(tracker: Tracker,
                                                               publisher: RecordingPublisher) -> None:
    run = tracker.start_run("e")
    run.log_metric("loss", 1.0)
    run.log_metric("loss", 2.0)
    assert publisher.batches() == []  # pending in the buffer, not yet published
    assert tracker.flush(timeout=3.5) == 0
    assert publisher.flushes == [3.5]
    (batch,) = publisher.batches()
    assert batch.values.tolist() == [1.0, 2.0] and batch.steps.tolist() == [0, 1]
    tracker.flush()
    assert len(publisher.batches()) == 1  # nothing new to send


def test_close_flushes_pending_points_and_is_idempotent(publisher: RecordingPublisher) -> None:
    tracker = make_tracker(publisher)
    run = tracker.start_run("e")
    run.log_metric("loss", 1.0)
    assert tracker.close(timeout=2.0) == 0
    assert [len(b) for b in publisher.batches()] == [1]
    assert publisher.closed == [2.0]
    assert tracker.close() == 0
    assert publisher.closed == [2.0]  # the second close does not close the publisher again


def test_the_tracker_is_a_context_manager(publisher: RecordingPublisher) -> None:
    with make_tracker(publisher) as tracker:
        tracker.start_run("e").log_metric("loss", 1.0)
    assert len(publisher.batches()) == 1 and len(publisher.closed) == 1


def test_the_background_flusher_sends_pending_points(publisher: RecordingPublisher) -> None:
    tracker = make_tracker(publisher, metrics_flush_interval_s=0.02)
    try:
        run = tracker.start_run("e")
        run.log_metric("loss", 1.0)
        deadline = time.monotonic() + 5
        while not publisher.batches() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [b.values.tolist() for b in publisher.batches()] == [[1.0]]
    finally:
        tracker.close()


def test_the_background_flusher_sends_points_logged_after_each_of_its_flushes(publisher: RecordingPublisher) -> None:
    tracker = make_tracker(publisher, metrics_flush_interval_s=0.02)
    try:
        run = tracker.start_run("e")
        for n in range(1, 4):  # a run is marked pending once per batch, and again after each flush
            run.log_metrics({"loss": float(n), "acc": 0.5})
            run.log_metric("loss", n + 0.5)
            deadline = time.monotonic() + 5
            while len(publisher.batches()) < n and time.monotonic() < deadline:
                time.sleep(0.01)
        assert [b.values.tolist() for b in publisher.batches()] == [[1.0, 0.5, 1.5], [2.0, 0.5, 2.5],
                                                                    [3.0, 0.5, 3.5]]
    finally:
        tracker.close()


def test_metric_values_of_any_real_type_are_sent_as_floats(tracker: Tracker, publisher: RecordingPublisher) -> None:
    class Loss(float):
        pass

    run = tracker.start_run("e")
    run.log_metrics({"int": 3, "np32": np.float32(0.5), "np64": np.float64(0.25), "sub": Loss(1.5),
                     "third": Fraction(1, 4), "huge_int": 2**70}, step=np.int64(7))
    with pytest.raises(ValueError, match="must be a number"):
        run.log_metrics({"flag": True})
    with pytest.raises(ValueError, match="too large"):
        run.log_metric("overflow", 10**400)
    with pytest.raises(ValueError, match="step must be an integer"):
        run.log_metric("x", 1.0, step=True)
    tracker.flush()
    (batch,) = publisher.batches()
    assert [(k, s, v) for k, s, _, v in batch.points()] == [
        ("int", 7, 3.0), ("np32", 7, 0.5), ("np64", 7, 0.25), ("sub", 7, 1.5), ("third", 7, 0.25),
        ("huge_int", 7, float(2**70))]


def test_a_tag_after_points_publishes_the_points_first(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("e")
    run.log_metric("loss", 1.0, step=0)
    run.log_metric("loss", 0.5, step=1)
    run.set_tag("phase", "eval")
    run.log_metric("loss", 0.2, step=2)
    run.log_param("p", 1)
    events = assert_run_log_is_consistent(publisher, run)
    assert [e.type for e in events] == ["RunStarted", "MetricsLogged", "TagsSet", "MetricsLogged", "ParamsLogged"]
    assert events[1].payload.steps.tolist() == [0, 1] and events[3].payload.steps.tolist() == [2]  # type: ignore[union-attr]
    assert events[2].payload == TagsSet({"phase": "eval"})


def test_default_steps_count_up_per_key_from_zero(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("e")
    for _ in range(3):
        run.log_metric("a", 1.0)
    run.log_metric("b", 1.0)
    run.log_metrics({"a": 1.0, "b": 2.0})
    run.log_metric("c", 1.0, step=41)
    run.log_metric("c", 1.0)
    tracker.flush()
    (batch,) = publisher.batches()
    assert [(k, s) for k, s, _, _ in batch.points()] == [
        ("a", 0), ("a", 1), ("a", 2), ("b", 0), ("a", 3), ("b", 1), ("c", 41), ("c", 42)]
    tracker.flush()
    run.log_metric("a", 1.0)  # the count carries on across batches
    tracker.flush()
    assert publisher.batches()[-1].steps.tolist() == [4]


def test_timestamps_are_milliseconds_now_unless_given(tracker: Tracker, publisher: RecordingPublisher) -> None:
    run = tracker.start_run("e")
    before = time.time_ns() // 1_000_000
    run.log_metric("a", 1.0)
    after = time.time_ns() // 1_000_000
    run.log_metric("a", 1.0, timestamp=1_600_000_000_123)
    tracker.flush()
    (batch,) = publisher.batches()
    assert before <= batch.timestamps[0] <= after
    assert batch.timestamps[1] == 1_600_000_000_123


def test_concurrent_logging_keeps_every_point_and_a_gapless_seq(publisher: RecordingPublisher) -> None:
    tracker = make_tracker(publisher, metrics_batch_points=7)
    try:
        run = tracker.start_run("e")

        def work(i: int) -> None:
            for step in range(200):
                run.log_metric(f"k{i}", float(step), step=step)
            run.set_tag(f"done{i}", "yes")

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        run.end()
        events = assert_run_log_is_consistent(publisher, run)
        points = [(k, s) for e in events if isinstance(e.payload, MetricsLogged) for k, s, _, _ in e.payload.points()]
        assert sorted(points) == sorted((f"k{i}", s) for i in range(4) for s in range(200))
        assert events[-1].type == "RunStatusChanged"
    finally:
        tracker.close()


def test_tracker_properties_read_the_publisher(tracker: Tracker, publisher: RecordingPublisher) -> None:
    publisher.acked_offsets[3] = 17
    publisher.failed.append("refused")
    assert tracker.acked_offsets == {3: 17}
    assert tracker.delivery_failures == ["refused"]
    tracker.acked_offsets[3] = 0  # a copy: the caller cannot corrupt the publisher's view
    assert publisher.acked_offsets == {3: 17}


def test_experiment_ids_are_integer_strings_and_default_is_zero() -> None:
    assert experiment_id_for("Default") == "0"
    some = experiment_id_for("lr-sweep")
    assert some.isdigit() and int(some) < 2**63 and some == experiment_id_for("lr-sweep")
    assert experiment_id_for("lr-sweep", 1) != some and experiment_id_for("lr-sweep", 1).isdigit()
    assert experiment_id_for("Default", 1) != "0"
