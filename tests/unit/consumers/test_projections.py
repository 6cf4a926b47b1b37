"""consumers.projections: pure functions from logged events to columnar blocks, one per ClickHouse table."""

from __future__ import annotations

import json
import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumers.projections import POSITION_TABLE, PROJECTIONS, Block, LoggedEvent, Projection
from consumers.projections import artifacts as artifacts_projection
from consumers.projections import events as events_projection
from consumers.projections import experiments as experiments_projection
from consumers.projections import metrics as metrics_projection
from consumers.projections import params as params_projection
from consumers.projections import runs as runs_projection
from schemas import (
    ArtifactLogged,
    DatasetInput,
    ExperimentCreated,
    InputsLogged,
    MetricsLogged,
    ParamsLogged,
    Producer,
    RunDeleted,
    RunEvent,
    RunRestored,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
)

RUN_ID = "ab" * 16
PARENT_ID = "cd" * 16
EXPERIMENT_ID = "e" * 32
T0 = datetime(2026, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
PRODUCER = Producer("gpu-1", 99, "alice", "0.1.0")
FINGERPRINT = "878f963a300f1331"

ALL_PAYLOADS: list[Any] = [
    ExperimentCreated("sweep", artifact_location="s3://a"),
    RunStarted("trial", "alice", parent_run_id=PARENT_ID, source="git:1", description="d"),
    ParamsLogged({"lr": "0.1", "bs": "64"}),
    MetricsLogged(["loss"], [0], [1], [1000], [0.5]),
    TagsSet({"a": "1"}),
    TagDeleted("a"),
    ArtifactLogged("m.pt", "file:///m.pt", 10, "sha256:00", media_type=None),
    InputsLogged([DatasetInput("mnist", "dg")]),
    RunStatusChanged(RunStatus.FINISHED, end_time=T0),
    RunDeleted("x"),
    RunRestored(),
]


def logged(payload: Any, *, offset: int = 7, seq: int = 3, partition: int = 2, run_id: str = RUN_ID,
           event_time: datetime = T0, event_id: str | None = None) -> LoggedEvent:
    event = RunEvent(event_id or str(uuid.uuid4()), run_id, EXPERIMENT_ID, seq, event_time, PRODUCER, payload)
    return LoggedEvent(event, partition, offset, FINGERPRINT)


def rows(block: Block) -> list[dict[str, Any]]:
    """The block's rows as dicts; also checks every column has the same length."""
    assert len({len(column) for column in block.data}) <= 1, "columns of different lengths"
    return [dict(zip(block.columns, values, strict=True)) for values in zip(*block.data, strict=True)]


# -- the set of projections ---------------------------------------------------------------------------------


def test_the_events_table_comes_last_and_holds_the_position() -> None:
    assert PROJECTIONS[-1].table == POSITION_TABLE == "events"
    assert [p.table for p in PROJECTIONS] == [
        "experiments", "experiment_changes", "experiment_tags", "runs", "params", "tags", "run_state", "artifacts",
        "inputs", "run_model_inputs", "metric_chunks", "logged_models", "logged_model_kv", "logged_model_metrics",
        "run_outputs", "logged_model_artifacts",
        "registry_changes", "alert_rules", "alert_firings", "alert_deliveries", "gateway_changes", "events"]


def test_an_empty_block() -> None:
    block = Projection("t", ("a", "b"), lambda _logged, _block: None).block([])
    assert block.table == "t" and block.columns == ("a", "b") and len(block) == 0 and block.data == [[], []]


def test_block_holds_rows_column_by_column_and_refuses_a_row_too_wide() -> None:
    block = Block("t", ("a", "b"))
    block.append(1, 2)
    block.append(3, 4)
    assert len(block) == 2 and block.data == [[1, 3], [2, 4]]
    with pytest.raises(ValueError):
        block.append(1, 2, 3)


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: p.table)
def test_every_projection_keeps_its_columns_aligned_for_every_payload(projection: Projection) -> None:
    block = projection.block([logged(p, offset=i) for i, p in enumerate(ALL_PAYLOADS)])
    out = rows(block)
    assert all(set(r) == set(projection.columns) for r in out)
    if "kafka_offset" in projection.columns:
        offsets = [r["kafka_offset"] for r in out]
        assert offsets == sorted(offsets)


# -- metrics -----------------------------------------------------------------------------------------------


def test_a_metric_batch_becomes_one_row_per_point() -> None:
    batch = MetricsLogged(
        names=["loss", "acc"], name_index=[0, 1, 0, 1, 1], steps=[5, 5, 6, 6, -1],
        timestamps=[1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002, 1_700_000_000_003, 0],
        values=[0.5, 0.9, math.inf, math.nan, -math.inf],
    )
    event = logged(batch, offset=41, partition=3)
    out = rows(metrics_projection.PROJECTION.block([event]))
    assert [(r["key"], r["step"], r["ts"], r["point_index"]) for r in out] == [
        ("loss", 5, 1_700_000_000_000, 0), ("acc", 5, 1_700_000_000_001, 1), ("loss", 6, 1_700_000_000_002, 2),
        ("acc", 6, 1_700_000_000_003, 3), ("acc", -1, 0, 4)]
    assert all(type(r["ts"]) is int for r in out)  # milliseconds, not datetimes
    values = [r["value"] for r in out]
    assert values[:3] == [0.5, 0.9, math.inf] and math.isnan(values[3]) and values[4] == -math.inf
    assert {(r["experiment_id"], r["run_id"], r["kafka_partition"], r["kafka_offset"]) for r in out} \
        == {(EXPERIMENT_ID, RUN_ID, 3, 41)}
    assert "event_id" not in out[0], "the batch's event is named by its Kafka coordinates"


def test_point_index_restarts_per_batch_and_other_events_add_no_points() -> None:
    first = logged(MetricsLogged(["a"], [0, 0], [0, 1], [1, 2], [1.0, 2.0]), offset=1)
    second = logged(MetricsLogged(["b"], [0], [9], [3], [3.0]), offset=2)
    block = metrics_projection.PROJECTION.block([first, logged(TagsSet({"x": "y"}), offset=3), second,
                                                 logged(MetricsLogged([], [], [], [], []), offset=4)])
    out = rows(block)
    assert [(r["key"], r["point_index"], r["kafka_offset"]) for r in out] == [("a", 0, 1), ("a", 1, 1), ("b", 0, 2)]


# -- runs ----------------------------------------------------------------------------------------------------


def test_run_started_records_attributes_status_running_and_start_time() -> None:
    (row,) = rows(runs_projection.PROJECTION.block([
        logged(RunStarted("trial", "alice", parent_run_id=PARENT_ID, source="git:1", description="d"), seq=1)]))
    assert row == {
        "experiment_id": EXPERIMENT_ID, "run_id": RUN_ID, "event_type": "RunStarted", "event_time": T0, "seq": 1,
        "name": "trial", "user": "alice", "parent_run_id": PARENT_ID, "source": "git:1", "description": "d",
        "status": "RUNNING", "start_time": T0, "end_time": None, "deleted": None,
        "event_id": row["event_id"], "kafka_partition": 2, "kafka_offset": 7,
    }


def test_status_changes_deletes_and_restores_become_run_rows_and_params_do_not() -> None:
    end = T0 + timedelta(hours=1)
    events = [
        logged(RunStatusChanged(RunStatus.FAILED, end_time=end), seq=2, offset=10),
        logged(ParamsLogged({"a": "1"}), seq=3, offset=11),
        logged(MetricsLogged(["m"], [0], [0], [0], [0.0]), seq=4, offset=12),
        logged(RunDeleted("cleanup"), seq=5, offset=13),
        logged(RunRestored(), seq=6, offset=14),
        logged(TagsSet({"k": "v"}), seq=7, offset=15),
        logged(RunStatusChanged(RunStatus.KILLED), seq=8, offset=16),
    ]
    out = rows(runs_projection.PROJECTION.block(events))
    assert [(r["event_type"], r["seq"], r["kafka_offset"]) for r in out] == [
        ("RunStatusChanged", 2, 10), ("RunDeleted", 5, 13), ("RunRestored", 6, 14), ("RunStatusChanged", 8, 16)]
    changed, deleted, restored, killed = out
    assert (changed["status"], changed["end_time"], changed["deleted"], changed["start_time"]) == (
        "FAILED", end, None, None)
    assert changed["name"] is None and changed["user"] is None  # not changed by this event
    assert (deleted["deleted"], deleted["status"]) == (1, None)
    assert (restored["deleted"], restored["status"]) == (0, None)
    assert (killed["status"], killed["end_time"]) == ("KILLED", None)


def test_params_alone_produce_no_run_rows() -> None:
    assert len(runs_projection.PROJECTION.block([logged(ParamsLogged({"a": "1"}))])) == 0


# -- params, tags, experiments, artifacts, inputs --------------------------------------------------------------


def test_params_become_one_row_per_key() -> None:
    out = rows(params_projection.PARAMS.block([logged(ParamsLogged({"lr": "0.1", "bs": "64"}), seq=4)]))
    assert sorted((r["key"], r["value"], r["seq"]) for r in out) == [("bs", "64", 4), ("lr", "0.1", 4)]
    assert len(params_projection.PARAMS.block([logged(TagsSet({"a": "b"}))])) == 0


def test_tags_rows_carry_a_deleted_flag() -> None:
    out = rows(params_projection.TAGS.block([
        logged(TagsSet({"stage": "warmup", "team": "vision"}), seq=2, offset=1),
        logged(TagDeleted("stage"), seq=3, offset=2),
        logged(ParamsLogged({"stage": "nope"}), seq=4, offset=3),
    ]))
    assert sorted((r["key"], r["value"], r["deleted"], r["seq"]) for r in out) == [
        ("stage", "", 1, 3), ("stage", "warmup", 0, 2), ("team", "vision", 0, 2)]
    assert all(r["event_time"] == T0 and r["run_id"] == RUN_ID for r in out)


def test_experiments_rows() -> None:
    event = logged(ExperimentCreated("sweep", artifact_location="s3://a"), run_id="", offset=5)
    (row,) = rows(experiments_projection.PROJECTION.block([event, logged(RunStarted("r", "u"))]))
    assert row == {"experiment_id": EXPERIMENT_ID, "name": "sweep", "artifact_location": "s3://a",
                   "created_time": T0, "event_id": event.event.event_id, "kafka_partition": 2, "kafka_offset": 5}


def test_artifact_and_input_rows() -> None:
    (artifact,) = rows(artifacts_projection.ARTIFACTS.block([
        logged(ArtifactLogged("m.pt", "file:///m.pt", 10, "sha256:00", "application/x")), logged(TagsSet({}))]))
    assert (artifact["path"], artifact["uri"], artifact["size"], artifact["digest"], artifact["media_type"]) == (
        "m.pt", "file:///m.pt", 10, "sha256:00", "application/x")
    out = rows(artifacts_projection.INPUTS.block([logged(InputsLogged([
        DatasetInput("mnist", "d1", "local", "/data", "train"), DatasetInput("cifar", "d2")]))]))
    assert [(r["name"], r["digest"], r["source_type"], r["source"], r["context"]) for r in out] == [
        ("mnist", "d1", "local", "/data", "train"), ("cifar", "d2", None, None, None)]
    assert [(r["tag_keys"], r["tag_values"]) for r in out] == [([], []), ([], [])]


def test_input_rows_keep_every_tag_in_order() -> None:
    tagged = DatasetInput("mnist", "d1", context="train", tags=(("foo", "baz"), ("mlflow.data.context", "train")))
    (row,) = rows(artifacts_projection.INPUTS.block([logged(InputsLogged([tagged]))]))
    assert (row["tag_keys"], row["tag_values"]) == (["foo", "mlflow.data.context"], ["baz", "train"])
    payload = json.loads(events_projection.payload_json(InputsLogged([tagged])))
    assert payload["datasets"][0]["tags"] == [["foo", "baz"], ["mlflow.data.context", "train"]]


# -- events (the audit log) --------------------------------------------------------------------------------------


def test_every_event_gets_an_events_row_with_its_coordinates() -> None:
    events = [logged(p, offset=100 + i, seq=i + 1) for i, p in enumerate(ALL_PAYLOADS)]
    out = rows(events_projection.PROJECTION.block(events))
    assert [r["event_type"] for r in out] == [type(p).__name__ for p in ALL_PAYLOADS]
    first = out[0]
    assert first == {
        "event_id": events[0].event.event_id, "run_id": RUN_ID, "experiment_id": EXPERIMENT_ID, "seq": 1,
        "event_type": "ExperimentCreated", "event_time": T0, "producer_host": "gpu-1", "producer_pid": 99,
        "producer_user": "alice", "sdk_version": "0.1.0", "schema_fingerprint": FINGERPRINT,
        "payload": first["payload"], "error": "", "kafka_partition": 2, "kafka_offset": 100,
    }
    assert json.loads(first["payload"]) == {"artifact_location": "s3://a", "name": "sweep", "tags": {}}


def test_the_events_payload_summarises_a_metric_batch() -> None:
    batch = MetricsLogged(["loss", "acc"], [0, 1, 0, 1], [3, 3, 9, -2], [1, 2, 3, 4], [math.nan, 1.0, math.inf, 2.0])
    (row,) = rows(events_projection.PROJECTION.block([logged(batch)]))
    assert json.loads(row["payload"]) == {"keys": ["loss", "acc"], "points": 4, "min_step": -2, "max_step": 9}
    assert "NaN" not in row["payload"] and "Infinity" not in row["payload"]  # the points live in metrics


def test_an_empty_metric_batch_summary() -> None:
    assert json.loads(events_projection.payload_json(MetricsLogged([], [], [], [], []))) == {
        "keys": [], "points": 0, "min_step": None, "max_step": None}


@pytest.mark.parametrize(("payload", "expected"), [
    (RunStatusChanged(RunStatus.FINISHED, end_time=T0), {"status": "FINISHED", "end_time": T0.isoformat()}),
    (RunStatusChanged(RunStatus.FAILED), {"status": "FAILED", "end_time": None}),
    (ParamsLogged({"lr": "0.1"}), {"params": {"lr": "0.1"}}),
    (TagDeleted("k"), {"key": "k"}),
    (RunDeleted(), {"reason": None}),
    (InputsLogged([DatasetInput("m", "d")]),
     {"datasets": [{"name": "m", "digest": "d", "source_type": None, "source": None, "context": None,
                   "schema": None, "profile": None}]}),
    (RunStarted("r", "u", description="ü"), {"name": "r", "user": "u", "parent_run_id": None, "source": None,
                                              "description": "ü", "start_time": None}),
])
def test_other_payloads_are_stored_as_json(payload: Any, expected: dict[str, Any]) -> None:
    assert json.loads(events_projection.payload_json(payload)) == expected


def test_dead_letter_row_shape() -> None:
    at = T0 + timedelta(seconds=5)
    row = events_projection.dead_letter_row(4, 1234, RUN_ID, "bad_magic", "message does not start with C3 01",
                                            "", at)
    assert len(row) == len(events_projection.COLUMNS)
    as_dict = dict(zip(events_projection.COLUMNS, row, strict=True))
    assert as_dict == {
        "event_id": events_projection.NIL_UUID, "run_id": RUN_ID, "experiment_id": "", "seq": 0,
        "event_type": "DeadLetter", "event_time": at, "producer_host": "", "producer_pid": 0, "producer_user": "",
        "sdk_version": "", "schema_fingerprint": "", "payload": as_dict["payload"], "error": "bad_magic",
        "kafka_partition": 4, "kafka_offset": 1234,
    }
    assert json.loads(as_dict["payload"]) == {"reason": "bad_magic", "message": "message does not start with C3 01"}
    assert str(uuid.UUID(events_projection.NIL_UUID)) == events_projection.NIL_UUID


def test_duplicate_row_shape() -> None:
    original = logged(TagsSet({"a": "b"}), seq=5, offset=9)
    row = dict(zip(events_projection.COLUMNS, events_projection.duplicate_row(original, T0), strict=True))
    assert (row["event_id"], row["event_type"], row["run_id"], row["seq"], row["kafka_offset"], row["error"]) == (
        events_projection.NIL_UUID, "Duplicate", RUN_ID, 5, 9, "")
    assert json.loads(row["payload"]) == {"duplicate_of": original.event.event_id, "type": "TagsSet"}


def test_metric_points_leave_as_one_arrow_table_of_numpy_columns() -> None:
    import pyarrow as pa

    first = logged(MetricsLogged(["a", "b"], [0, 1, 1], [0, 0, 1], [5, 5, 6], [1.0, 2.0, 3.0]), offset=1)
    second = logged(MetricsLogged(["b", "c"], [1, 0], [7, 7], [8, 8], [4.0, 5.0]), offset=2, run_id="cd" * 16)
    block = metrics_projection.PROJECTION.block([first, second])
    table = block.to_arrow()
    assert table.column_names == list(metrics_projection.COLUMNS) and table.num_rows == len(block) == 5
    assert pa.types.is_dictionary(table.schema.field("key").type)  # one int32 per point, each key once
    assert table.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert table.column("key").to_pylist() == ["a", "b", "b", "c", "b"]
    assert table.column("run_id").to_pylist() == [RUN_ID] * 3 + ["cd" * 16] * 2
    assert table.column("point_index").to_pylist() == [0, 1, 2, 0, 1]
    assert table.column("kafka_offset").to_pylist() == [1, 1, 1, 2, 2]


def test_a_metric_block_drops_whole_events_already_written_or_duplicated() -> None:
    events = [logged(MetricsLogged(["a"], [0], [i], [i], [float(i)]), offset=i) for i in range(1, 6)]
    block = metrics_projection.PROJECTION.block(events)
    kept = block.without({4}, done=2)
    assert sorted(set(kept.to_arrow().column("kafka_offset").to_pylist())) == [3, 5]
    assert len(block) == 5 and len(kept) == 2
    assert len(block.without(set(), done=5)) == 0 and block.without(set(), done=5).to_arrow().num_rows == 0


def test_model_inputs_are_rows_of_their_own_and_older_inputs_keep_their_json() -> None:
    model_id = "m-" + "b" * 32
    (row,) = rows(artifacts_projection.MODEL_INPUTS.block([logged(InputsLogged([], [model_id]))]))
    assert (row["run_id"], row["model_id"]) == (RUN_ID, model_id)
    assert json.loads(events_projection.payload_json(InputsLogged([DatasetInput("m", "d")]))) == {"datasets": [
        {"name": "m", "digest": "d", "source_type": None, "source": None, "context": None, "schema": None,
         "profile": None}]}


def test_a_metric_batch_summary_is_the_text_json_dumps_gives() -> None:
    rng = random.Random(3)
    for _ in range(200):
        names = [rng.choice(["loss", 'q"uote', "back\\slash", "ünï", "tab\t", "a/b:c d", "x" * 40])
                 for _ in range(rng.randint(0, 4))]
        n = rng.randint(0, 5) if names else 0
        steps = [rng.randint(-2**53 + 1, 2**53 - 1) for _ in range(n)]
        batch = MetricsLogged(names, [rng.randrange(len(names)) for _ in range(n)], steps, [0] * n, [0.5] * n)
        expected = json.dumps({"keys": names, "points": n, "min_step": min(steps) if n else None,
                               "max_step": max(steps) if n else None})
        assert events_projection.payload_json(batch) == expected
