"""Schema version 5: logged models, run outputs, model-linked metrics and the registry as events."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastavro import schemaless_writer

from schemas import InvalidEventError, Producer, RunEvent, RunStarted, decode, default_catalog, encode, validate_event
from schemas.model_events import (
    LoggedModelArtifactLogged,
    LoggedModelCreated,
    LoggedModelDeleted,
    LoggedModelMetricsLogged,
    LoggedModelParamsLogged,
    LoggedModelStatusChanged,
    LoggedModelTagDeleted,
    LoggedModelTagsSet,
    ModelAliasDeleted,
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionDescribed,
    ModelVersionStageChanged,
    ModelVersionTagDeleted,
    ModelVersionTagsSet,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelDescribed,
    RegisteredModelRenamed,
    RegisteredModelTagDeleted,
    RegisteredModelTagsSet,
    RunOutputsLogged,
)

MID = "m-" + "a" * 32
RMID = "b" * 32
MODEL_PAYLOADS: list[Any] = [
    LoggedModelCreated(MID, "model", "c" * 32, "sklearn", "mlflow-artifacts:/1/models/x/artifacts", {"alpha": "0.1"},
                       {"mlflow.source.name": "train.py"}),
    LoggedModelCreated(MID, "bare"),
    LoggedModelStatusChanged(MID, "LOGGED_MODEL_READY"),
    LoggedModelStatusChanged(MID, "LOGGED_MODEL_UPLOAD_FAILED", "disk full"),
    LoggedModelTagsSet(MID, {"k": "v"}),
    LoggedModelTagDeleted(MID, "k"),
    LoggedModelParamsLogged(MID, {"n": "3"}),
    LoggedModelDeleted(MID),
    RunOutputsLogged([MID], [0]),
    LoggedModelMetricsLogged(MID, "train", "abc123", ["acc", "loss"], [0.9, float("inf")], [1, 2], [0, 1]),
    LoggedModelMetricsLogged(MID, None, None, [], [], [], []),
    RegisteredModelCreated(RMID, "clf", "a classifier", {"team": "v"}),
    RegisteredModelRenamed(RMID, "clf", "clf2"),
    RegisteredModelDescribed(RMID, "clf", None),
    RegisteredModelDeleted(RMID, "clf"),
    RegisteredModelTagsSet(RMID, "clf", {"a": "b"}),
    RegisteredModelTagDeleted(RMID, "clf", "a"),
    ModelVersionCreated(RMID, "clf", 1, f"models:/{MID}", "c" * 32, MID, None, "v1", {"x": "y"}),
    ModelVersionDescribed(RMID, "clf", 1, "better"),
    ModelVersionStageChanged(RMID, "clf", 1, "Production"),
    ModelVersionDeleted(RMID, "clf", 1),
    ModelVersionTagsSet(RMID, "clf", 1, {"t": "u"}),
    ModelVersionTagDeleted(RMID, "clf", 1, "t"),
    ModelAliasSet(RMID, "clf", "champion", 1),
    ModelAliasDeleted(RMID, "clf", "champion"),
    LoggedModelArtifactLogged(MID, "MLmodel", "mlflow-artifacts:/1/models/x/artifacts/MLmodel", 10, "sha256:00", None),
]
PRODUCER = Producer("h", 1, "u", "test")
AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def event(payload: Any, run_id: str = "", experiment_id: str = "") -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, experiment_id, 1, AT, PRODUCER, payload)


@pytest.mark.parametrize("payload", MODEL_PAYLOADS, ids=lambda p: type(p).__name__)
def test_every_model_payload_round_trips(payload: Any) -> None:
    original = event(payload, experiment_id="1")
    assert decode(encode(original)) == original


def test_run_started_keeps_the_clients_start_time() -> None:
    started = event(RunStarted("r", "u", start_time=datetime(2020, 5, 1, 0, 0, 1, 5000, tzinfo=UTC)), "c" * 32, "1")
    decoded = decode(encode(started)).payload
    assert isinstance(decoded, RunStarted) and decoded.start_time == datetime(2020, 5, 1, 0, 0, 1, 5000, tzinfo=UTC)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_events_written_with_older_versions_still_decode(index: int) -> None:
    """v1..v3 messages (a RunStarted without start_time) decode with the v5 reader, start_time None."""
    version = default_catalog().versions[index]
    out = io.BytesIO()
    out.write(b"\xc3\x01" + version.fingerprint)
    datum = {"event_id": str(uuid.uuid4()), "run_id": "c" * 32, "experiment_id": "1", "seq": 1, "event_time": AT,
             "producer": {"host": "h", "pid": 1, "user": "u", "sdk_version": "0"},
             "payload": ("runstream.v1.RunStarted", {"name": "r", "parent_run_id": None, "user": "u", "source": None,
                                                     "description": None})}
    schemaless_writer(out, version.parsed, datum)
    decoded = decode(out.getvalue())
    assert isinstance(decoded.payload, RunStarted)
    assert decoded.payload.name == "r" and decoded.payload.start_time is None


def test_registry_events_need_neither_run_nor_experiment() -> None:
    validate_event(event(ModelAliasSet(RMID, "clf", "champion", 1)))
    validate_event(event(LoggedModelTagsSet(MID, {"a": "b"}), experiment_id="1"))
    with pytest.raises(InvalidEventError, match="experiment_id"):
        validate_event(event(LoggedModelTagsSet(MID, {"a": "b"})))
    with pytest.raises(InvalidEventError, match="run_id"):
        validate_event(event(RunOutputsLogged([MID], [0]), experiment_id="1"))
