"""Avro single-object encoding of every event type, errors on bad bytes, and schema evolution."""

from __future__ import annotations

import io
import math
import random
import uuid
from datetime import UTC, datetime

import pytest
from fastavro import schemaless_writer

from schemas import (
    ArtifactLogged,
    BadMagicError,
    DatasetInput,
    DecodeError,
    ExperimentCreated,
    InputsLogged,
    InvalidEventError,
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
    TruncatedMessageError,
    UnknownFingerprintError,
    decode,
    default_catalog,
    encode,
    validate_event,
)
from schemas.codec import MAGIC

RUN = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC)
PAYLOADS = [
    ExperimentCreated("sweep", artifact_location="s3://bucket/x", tags={"team": "vision"}),
    RunStarted("trial-7", "alice", parent_run_id="f" * 32, source="git:abc123", description="first"),
    ParamsLogged({"lr": "0.01", "batch_size": "64"}),
    MetricsLogged(["loss", "acc"], [0, 1, 0], [1, 1, 2], [1700000000000, 1700000000001, 1700000000002],
                  [0.5, math.inf, -math.inf]),
    TagsSet({"stage": "warmup"}),
    TagDeleted("stage"),
    ArtifactLogged("model.pt", "file:///tmp/model.pt", 1024, "sha256:" + "0" * 64, media_type="application/x"),
    InputsLogged([DatasetInput("mnist", "d1g35t", "local", "/data/mnist", "training")]),
    RunStatusChanged(RunStatus.FINISHED, end_time=NOW),
    RunDeleted("cleanup"),
    RunRestored(None),
]


def event(payload: object, run_id: str = RUN, seq: int = 1) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, "exp1", seq, NOW, Producer("host", 42, "alice", "0.1.0"),
                    payload)  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_every_event_type_round_trips(payload: object) -> None:
    original = event(payload)
    data = encode(original)
    assert data[:2] == MAGIC and data[2:10] == default_catalog().current.fingerprint
    assert decode(data) == original


def test_nan_survives() -> None:
    batch = MetricsLogged(["loss"], [0], [0], [0], [math.nan])
    decoded = decode(encode(event(batch)))
    assert math.isnan(decoded.payload.values[0])  # type: ignore[union-attr]


def test_unknown_fingerprint_bad_magic_truncated_and_trailing_bytes() -> None:
    data = encode(event(TagsSet({"k": "v"})))
    with pytest.raises(UnknownFingerprintError):
        decode(MAGIC + b"\x00" * 8 + data[10:])
    with pytest.raises(BadMagicError):
        decode(b"\xc3\x02" + data[2:])
    for cut in (1, 5, 9, 11, len(data) - 1):
        with pytest.raises(DecodeError):
            decode(data[:cut])
    with pytest.raises(TruncatedMessageError):
        decode(data[: len(data) - 3])
    with pytest.raises(TruncatedMessageError):
        decode(data + b"\x00")


def test_random_bytes_only_ever_raise_decode_errors() -> None:
    rng = random.Random(7)
    header = MAGIC + default_catalog().current.fingerprint
    for _ in range(300):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        for data in (body, header + body):
            with pytest.raises(DecodeError):
                decode(data)


def test_a_v1_message_decodes_with_the_current_reader() -> None:
    v1 = default_catalog().versions[0]
    assert v1.version == 1 and v1 is not default_catalog().current
    out = io.BytesIO()
    out.write(MAGIC + v1.fingerprint)
    schemaless_writer(out, v1.parsed, {
        "event_id": str(uuid.uuid4()), "run_id": RUN, "experiment_id": "exp1", "seq": 1, "event_time": NOW,
        "producer": {"host": "h", "pid": 1, "user": "u", "sdk_version": "0.0.1"},
        "payload": ("runstream.v1.RunStarted", {"name": "old", "parent_run_id": None, "user": "u", "source": None}),
    })
    decoded = decode(out.getvalue())
    assert decoded.payload == RunStarted("old", "u", None, None, description=None)


@pytest.mark.parametrize(("bad", "reason"), [
    (event(TagsSet({"k": "v"}), run_id=""), "run_id"),
    (event(TagsSet({"k": "v"}), run_id="ABC"), "run_id"),
    (event(TagsSet({"k": "v"}), seq=0), "seq"),
    (event(RunStatusChanged(RunStatus.UNKNOWN)), "UNKNOWN"),
    (event(MetricsLogged(["a"], [0, 0], [1], [1], [1.0])), "length"),
    (event(MetricsLogged(["a"], [1], [1], [1], [1.0])), "name_index"),
    (event(MetricsLogged([""], [0], [1], [1], [1.0])), "empty"),
])
def test_events_with_invalid_meaning_are_refused(bad: RunEvent, reason: str) -> None:
    with pytest.raises(InvalidEventError, match=reason):
        validate_event(bad)


def test_experiment_events_need_no_run_id() -> None:
    assert validate_event(event(ExperimentCreated("x"), run_id="")).run_id == ""
