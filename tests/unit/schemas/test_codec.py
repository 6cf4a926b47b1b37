"""schemas.codec: single-object encoding (C3 01 + fingerprint + Avro body) and its failure modes."""

from __future__ import annotations

import dataclasses
import io
import math
import os
import random
import struct
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer
from fastavro.schema import to_parsing_canonical_form

from schemas import (
    ArtifactLogged,
    BadMagicError,
    DatasetInput,
    DecodeError,
    ExperimentCreated,
    ExperimentDeleted,
    ExperimentRenamed,
    ExperimentRestored,
    ExperimentTagDeleted,
    ExperimentTagsSet,
    InputsLogged,
    MetricsLogged,
    ParamsLogged,
    Producer,
    RunDeleted,
    RunEvent,
    RunRenamed,
    RunRestored,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    SchemaError,
    TagDeleted,
    TagsSet,
    TruncatedMessageError,
    UnknownFingerprintError,
    decode,
    default_catalog,
    encode,
)
from schemas.alerts import AlertDelivered, AlertFired, AlertRuleChanged, AlertRuleCreated, AlertRuleDeleted
from schemas.catalog import current_version
from schemas.codec import to_avro

RUN_ID = "0123456789abcdef0123456789abcdef"
PARENT_ID = "fedcba9876543210fedcba9876543210"
EVENT_TIME = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
END_TIME = datetime(2026, 3, 14, 16, 0, 0, 1, tzinfo=UTC)
PRODUCER = Producer(host="gpu-node-3", pid=4242, user="alice", sdk_version="0.1.0")

PAYLOADS: list[Any] = [
    ExperimentCreated("lr-sweep", artifact_location="s3://bucket/lr-sweep", tags={"team": "vision", "p": "1"}),
    ExperimentCreated("bare"),
    RunStarted("trial-7", "alice", parent_run_id=PARENT_ID, source="git:abc123", description="lr 0.01, warmup"),
    RunStarted("trial-8", "bob"),
    ParamsLogged({"lr": "0.01", "batch_size": "64", "optimizer": "adam"}),
    MetricsLogged(
        names=["loss", "acc"],
        name_index=[0, 1, 0, 1],
        steps=[0, 0, 1, -5],
        timestamps=[1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_123, 0],
        values=[0.5, 0.25, -1e300, 2.0**-1074],
    ),
    TagsSet({"stage": "warmup", "unicode": "größe ✓"}),
    TagDeleted("stage"),
    ArtifactLogged("model/weights.pt", "file:///tmp/w.pt", 123_456_789, "sha256:" + "ab" * 32,
                   media_type="application/octet-stream"),
    ArtifactLogged("notes.txt", "s3://b/notes.txt", 0, "sha256:" + "00" * 32),
    InputsLogged([
        DatasetInput("mnist", "d1g35t", source_type="local", source="/data/mnist", context="training"),
        DatasetInput("cifar", "0ff1ce"),
        DatasetInput("iris", "abc", source_type="code", schema='{"mlflow_colspec": []}', profile='{"num_rows": 150}'),
    ]),
    InputsLogged([]),
    RunStatusChanged(RunStatus.FINISHED, end_time=END_TIME),
    RunStatusChanged(RunStatus.KILLED),
    RunDeleted("cleanup"),
    RunDeleted(),
    RunRestored("oops"),
    RunRestored(),
    RunRenamed("trial-8"),
    ExperimentRenamed("lr-sweep-2"),
    ExperimentDeleted("cleanup"),
    ExperimentRestored(),
    ExperimentTagsSet({"team": "vision", "mlflow.note.content": "é ✓"}),
    ExperimentTagDeleted("team"),
    AlertRuleCreated("r1", "loss too high", "threshold", "http://127.0.0.1:9/hook", "42", "loss", ">", 2.5),
    AlertRuleChanged("r1", "loss too high", "stalled", "http://127.0.0.1:9/hook", None, minutes=15.0),
    AlertRuleDeleted("r1", "noisy"),
    AlertFired("f1", "r1", RUN_ID, "nan", "loss became NaN", 2, 1234, math.inf, "loss", 17),
    AlertDelivered("f1", "r1", RUN_ID, 200, 3),
]


def make_event(payload: Any, *, run_id: str = RUN_ID, seq: int = 7) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, "exp-0001", seq, EVENT_TIME, PRODUCER, payload)


def write_raw(datum: dict[str, Any], version_index: int = -1) -> bytes:
    """A single-object message written by hand with one of the shipped schema versions."""
    version = default_catalog().versions[version_index]
    out = io.BytesIO()
    out.write(b"\xc3\x01" + version.fingerprint)
    schemaless_writer(out, version.parsed, datum)
    return out.getvalue()


def raw_datum(**overrides: Any) -> dict[str, Any]:
    datum: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "run_id": RUN_ID, "experiment_id": "exp-0001", "seq": 1,
        "event_time": EVENT_TIME, "producer": {"host": "h", "pid": 1, "user": "u", "sdk_version": "0.0.1"},
        "payload": ("runstream.v1.TagsSet", {"tags": {"k": "v"}}),
    }
    datum.update(overrides)
    return datum


# -- round trips -------------------------------------------------------------------------------------


def test_every_payload_type_is_covered() -> None:
    from schemas.events import PAYLOAD_TYPES
    from tests.unit.schemas.test_gateway_events import GATEWAY_PAYLOADS
    from tests.unit.schemas.test_model_events import MODEL_PAYLOADS

    assert {type(p) for p in [*PAYLOADS, *MODEL_PAYLOADS, *GATEWAY_PAYLOADS]} == set(PAYLOAD_TYPES)


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_every_payload_round_trips_to_an_equal_event(payload: Any) -> None:
    original = make_event(payload)
    decoded = decode(encode(original))
    assert decoded == original
    assert type(decoded.payload) is type(payload)
    assert decoded.type == type(payload).__name__


def test_decoded_fields_have_the_python_types_of_the_dataclasses() -> None:
    changed = decode(encode(make_event(RunStatusChanged(RunStatus.FAILED, end_time=END_TIME)))).payload
    assert isinstance(changed, RunStatusChanged)
    assert changed.status is RunStatus.FAILED
    assert changed.end_time == END_TIME and changed.end_time.utcoffset() is not None
    inputs = decode(encode(make_event(PAYLOADS[10]))).payload
    assert isinstance(inputs, InputsLogged)
    assert all(isinstance(d, DatasetInput) for d in inputs.datasets)
    event = decode(encode(make_event(TagsSet({}))))
    assert isinstance(event.event_id, str) and uuid.UUID(event.event_id)
    assert event.event_time == EVENT_TIME


def test_non_finite_metric_values_survive_the_round_trip() -> None:
    batch = MetricsLogged(["a", "b", "c", "d"], [0, 1, 2, 3], [1, 2, 3, 4], [10, 20, 30, 40],
                          [math.nan, math.inf, -math.inf, 1.5])
    decoded = decode(encode(make_event(batch))).payload
    assert isinstance(decoded, MetricsLogged)
    assert math.isnan(decoded.values[0])
    assert decoded.values[1] == math.inf and decoded.values[2] == -math.inf and decoded.values[3] == 1.5
    assert decoded == batch
    assert (decoded.names, decoded.name_index.tolist(), decoded.steps.tolist(), decoded.timestamps.tolist()) == (
        ["a", "b", "c", "d"], [0, 1, 2, 3], [1, 2, 3, 4], [10, 20, 30, 40])
    keys = [key for key, _, _, _ in decoded.points()]
    assert keys == ["a", "b", "c", "d"]


def test_an_empty_metric_batch_round_trips() -> None:
    original = make_event(MetricsLogged([], [], [], [], []))
    assert decode(encode(original)) == original


# -- header --------------------------------------------------------------------------------------------


def _crc64_avro(data: bytes) -> int:
    """The Avro spec's CRC-64-AVRO (Rabin) fingerprint, written out independently of fastavro."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def test_header_is_c3_01_and_the_current_fingerprint_little_endian() -> None:
    catalog = default_catalog()
    data = encode(make_event(TagDeleted("x")))
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == catalog.current.fingerprint
    canonical = to_parsing_canonical_form(catalog.current.parsed).encode()
    assert data[2:10] == struct.pack("<Q", _crc64_avro(canonical))


def test_the_catalog_holds_every_version_with_the_highest_current() -> None:
    catalog = default_catalog()
    assert [v.version for v in catalog.versions] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert catalog.current is catalog.versions[-1]
    assert len({v.fingerprint for v in catalog.versions}) == len(catalog.versions)
    assert all(len(v.fingerprint) == 8 for v in catalog.versions)
    assert catalog.writer(catalog.versions[0].fingerprint) is catalog.versions[0]


def test_encoding_reads_only_the_current_version_and_the_catalog_shares_it() -> None:
    """A producer encodes with the highest version alone (the older ones cost ~20 ms to fingerprint); the full
    catalogue, built for readers, holds that same object as its current version."""
    script = (
        "from schemas import Producer, TagDeleted, decode, encode, default_catalog\n"
        "from schemas.catalog import current_version\n"
        "from schemas.factory import EventFactory\n"
        "data = encode(EventFactory(Producer('h', 1, 'u', '0')).event('a' * 32, '1', 1, TagDeleted('x')))\n"
        "assert default_catalog.cache_info().currsize == 0, 'encode built the full catalogue'\n"
        "assert data[2:10] == current_version().fingerprint\n"
        "assert default_catalog().current is current_version()\n"
        "assert decode(data).payload == TagDeleted('x')\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr
    assert current_version() is default_catalog().current
    assert current_version().version == max(v.version for v in default_catalog().versions)


# -- errors ----------------------------------------------------------------------------------------------


def test_an_unknown_fingerprint_is_an_unknown_fingerprint_error() -> None:
    data = encode(make_event(TagsSet({"k": "v"})))
    forged = b"\xc3\x01" + b"\x01\x02\x03\x04\x05\x06\x07\x08" + data[10:]
    with pytest.raises(UnknownFingerprintError) as info:
        decode(forged)
    assert isinstance(info.value, DecodeError)
    assert info.value.fingerprint == b"\x01\x02\x03\x04\x05\x06\x07\x08"
    assert info.value.reason == "unknown_fingerprint"
    assert "0102030405060708" in str(info.value)


@pytest.mark.parametrize("magic", [b"\xc3\x02", b"\x00\x01", b"{\"", b"\xc3\xc3", b"\x01\xc3"])
def test_bad_magic_is_a_bad_magic_error(magic: bytes) -> None:
    data = encode(make_event(TagsSet({"k": "v"})))
    with pytest.raises(BadMagicError) as info:
        decode(magic + data[2:])
    assert info.value.reason == "bad_magic"


@pytest.mark.parametrize("short", [b"\x00", b"x", b"\xc4\x01\x00"])
def test_a_short_message_with_wrong_magic_is_bad_magic_not_truncated(short: bytes) -> None:
    with pytest.raises(BadMagicError):
        decode(short)


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: type(p).__name__)
def test_a_message_cut_anywhere_is_truncated(payload: Any) -> None:
    data = encode(make_event(payload))
    for cut in range(len(data)):  # inside the magic, inside the fingerprint, and inside the body
        with pytest.raises(TruncatedMessageError):
            decode(data[:cut])


@pytest.mark.parametrize("extra", [b"\x00", b"\x02\x04", b"trailing garbage"])
def test_bytes_left_after_the_body_are_truncated_errors(extra: bytes) -> None:
    data = encode(make_event(ParamsLogged({"lr": "0.1"})))
    with pytest.raises(TruncatedMessageError, match=f"{len(extra)} bytes left"):
        decode(data + extra)


def _assert_only_decode_errors(messages: list[bytes]) -> None:
    for data in messages:
        try:
            decode(data)
        except DecodeError:
            pass
        except Exception as exc:
            pytest.fail(f"{type(exc).__name__} ({exc}) escaped decode for {data.hex()}")


def test_random_bytes_only_ever_raise_decode_errors() -> None:
    rng = random.Random(20260314)
    header = b"\xc3\x01" + default_catalog().current.fingerprint
    v1_header = b"\xc3\x01" + default_catalog().versions[0].fingerprint
    messages = []
    for _ in range(1500):
        body = rng.randbytes(rng.randrange(0, 120))
        messages += [body, header + body, v1_header + body]
    _assert_only_decode_errors(messages)


def test_valid_messages_with_random_byte_flips_only_ever_raise_decode_errors() -> None:
    rng = random.Random(20260314)
    good = encode(make_event(PAYLOADS[5]))
    messages = []
    for _ in range(3000):
        mutated = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            mutated[rng.randrange(10, len(mutated))] = rng.randrange(256)
        messages.append(bytes(mutated))
    _assert_only_decode_errors(messages)


def test_an_empty_message_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        decode(b"")


def test_decode_errors_are_schema_errors() -> None:
    for cls in (BadMagicError, UnknownFingerprintError, TruncatedMessageError):
        assert issubclass(cls, DecodeError) and issubclass(cls, SchemaError)


@pytest.mark.parametrize("micros", [2**62, -(2**62)])
def test_an_out_of_range_timestamp_is_a_decode_error(micros: int) -> None:
    data = write_raw(raw_datum(event_time=micros))
    with pytest.raises(DecodeError):
        decode(data)


# -- schema evolution --------------------------------------------------------------------------------------


def test_a_v1_message_decodes_with_the_current_reader_and_no_description() -> None:
    catalog = default_catalog()
    v1 = catalog.versions[0]
    assert v1.version == 1 and v1 is not catalog.current
    event_id = str(uuid.uuid4())
    data = write_raw(raw_datum(
        event_id=event_id, seq=1,
        payload=("runstream.v1.RunStarted",
                 {"name": "old-run", "parent_run_id": PARENT_ID, "user": "carol", "source": "git:v1"}),
    ), version_index=0)
    assert data[2:10] == v1.fingerprint != catalog.current.fingerprint
    decoded = decode(data)
    assert decoded.payload == RunStarted("old-run", "carol", parent_run_id=PARENT_ID, source="git:v1")
    assert isinstance(decoded.payload, RunStarted) and decoded.payload.description is None
    assert decoded.event_id == event_id and decoded.run_id == RUN_ID and decoded.event_time == EVENT_TIME


def test_v1_messages_of_other_types_decode_unchanged() -> None:
    data = write_raw(raw_datum(payload=("runstream.v1.MetricsLogged", {
        "names": ["loss"], "name_index": [0], "steps": [3], "timestamps": [99], "values": [math.inf]})),
        version_index=0)
    payload = decode(data).payload
    assert payload == MetricsLogged(["loss"], [0], [3], [99], [math.inf])


def test_a_v1_message_cut_short_is_truncated() -> None:
    data = write_raw(raw_datum(), version_index=0)
    with pytest.raises(TruncatedMessageError):
        decode(data[:-1])


@pytest.mark.parametrize("payload", [p for p in PAYLOADS if not type(p).__name__.startswith("Alert")],
                         ids=lambda p: type(p).__name__)
def test_v3_messages_decode_with_the_current_reader(payload: Any) -> None:
    catalog = default_catalog()
    v3 = next(v for v in catalog.versions if v.version == 3)
    assert catalog.current.version == max(v.version for v in catalog.versions)
    event = make_event(payload, run_id="" if type(payload).__name__.startswith("Experiment") else RUN_ID)
    out = io.BytesIO()
    out.write(b"\xc3\x01" + v3.fingerprint)
    schemaless_writer(out, v3.parsed, to_avro(event, version=3))
    decoded = decode(out.getvalue())
    if isinstance(payload, MetricsLogged):  # v3 carried Avro arrays; they decode to the same numpy columns
        assert list(decoded.payload.points()) == list(payload.points())  # type: ignore[union-attr]
        assert decoded == dataclasses.replace(event, payload=decoded.payload)
    else:
        assert decoded == event
