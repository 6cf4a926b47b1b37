"""consumers.decoding.classify: a raw Kafka message becomes a LoggedEvent or a DeadLetter with a reason."""

from __future__ import annotations

import io
import random
import struct
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastavro import schemaless_writer

from consumers.decoding import DeadLetter, classify
from consumers.projections import LoggedEvent
from schemas import (
    ExperimentCreated,
    MetricsLogged,
    Producer,
    RunEvent,
    RunStatus,
    RunStatusChanged,
    TagsSet,
    default_catalog,
    encode,
)

RUN_ID = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 2, 2, 2, 2, 2, tzinfo=UTC)
CURRENT_HEX = default_catalog().current.fingerprint.hex()


def make_event(payload: Any, *, run_id: str = RUN_ID, seq: int = 1) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, "exp", seq, NOW, Producer("h", 1, "u", "v"), payload)


NOT_PACKED = {"packed_name_index": b"", "packed_steps": b"", "packed_timestamps": b"", "packed_values": b""}


def packed(names: list[str], index: list[int], steps: list[int], stamps: list[int], values: list[float]) -> dict:
    """A version-4 MetricsLogged record with little-endian columns, written by hand."""
    return {"names": names, "name_index": [], "steps": [], "timestamps": [], "values": [],
            "packed_name_index": struct.pack(f"<{len(index)}i", *index),
            "packed_steps": struct.pack(f"<{len(steps)}q", *steps),
            "packed_timestamps": struct.pack(f"<{len(stamps)}q", *stamps),
            "packed_values": struct.pack(f"<{len(values)}d", *values)}


@pytest.mark.parametrize(("record", "words"), [
    ({**packed(["a"], [0], [1], [1], [1.0]), "packed_steps": b"\x01" * 9}, "multiple of 8"),
    ({**packed(["a"], [0], [1], [1], [1.0]), "steps": [1]}, "both"),
])
def test_a_malformed_packed_batch_is_an_undecodable_dead_letter(record: dict, words: str) -> None:
    result = classify(raw_message(payload=("runstream.v1.MetricsLogged", record)), b"key", 1, 2)
    assert isinstance(result, DeadLetter) and result.reason == "undecodable"
    assert words in result.message


def test_packed_columns_decode_to_the_same_batch_as_avro_arrays() -> None:
    arrays = {"names": ["a", "b"], "name_index": [0, 1, 0], "steps": [1, 1, 2], "timestamps": [5, 5, 6],
              "values": [0.5, -1.0, float("inf")], **NOT_PACKED}
    as_arrays = classify(raw_message(payload=("runstream.v1.MetricsLogged", arrays)), RUN_ID.encode(), 0, 1)
    as_packed = classify(raw_message(payload=("runstream.v1.MetricsLogged", packed(
        ["a", "b"], [0, 1, 0], [1, 1, 2], [5, 5, 6], [0.5, -1.0, float("inf")]))), RUN_ID.encode(), 0, 1)
    assert not isinstance(as_arrays, DeadLetter) and not isinstance(as_packed, DeadLetter)
    assert as_arrays.event.payload == as_packed.event.payload
    assert list(as_packed.event.payload.points()) == [  # type: ignore[union-attr]
        ("a", 1, 5, 0.5), ("b", 1, 5, -1.0), ("a", 2, 6, float("inf"))]


def raw_message(**overrides: Any) -> bytes:
    """Well-formed Avro written by hand, so it may break the rules encode() would not stop."""
    current = default_catalog().current
    datum: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "run_id": RUN_ID, "experiment_id": "exp", "seq": 1, "event_time": NOW,
        "producer": {"host": "h", "pid": 1, "user": "u", "sdk_version": "v"},
        "payload": ("runstream.v1.TagsSet", {"tags": {"k": "v"}}),
    }
    datum.update(overrides)
    out = io.BytesIO()
    out.write(b"\xc3\x01" + current.fingerprint)
    schemaless_writer(out, current.parsed, datum)
    return out.getvalue()


def test_a_good_message_becomes_a_logged_event_with_its_fingerprint() -> None:
    event = make_event(MetricsLogged(["loss"], [0], [1], [2], [0.5]), seq=4)
    result = classify(encode(event), RUN_ID.encode(), 3, 99)
    assert isinstance(result, LoggedEvent)
    assert result.event == event
    assert (result.partition, result.offset, result.fingerprint) == (3, 99, CURRENT_HEX)


def test_an_experiment_event_with_an_empty_run_id_is_good() -> None:
    result = classify(encode(make_event(ExperimentCreated("x"), run_id="")), b"exp", 0, 0)
    assert isinstance(result, LoggedEvent) and result.event.run_id == ""


@pytest.mark.parametrize(("value", "reason", "fingerprint"), [
    (b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b", "bad_magic", ""),
    (b"{\"run_id\": \"x\"}", "bad_magic", ""),
    (b"\xc3\x02" + bytes(8) + b"\x00", "bad_magic", ""),
    (b"\xc3\x01" + bytes.fromhex("0011223344556677") + b"\x00\x00", "unknown_fingerprint", "0011223344556677"),
    (b"\xc3\x01\x87", "truncated", ""),
    (b"", "truncated", ""),
    (None, "truncated", ""),
])
def test_bad_bytes_become_dead_letters_with_a_reason(value: bytes | None, reason: str, fingerprint: str) -> None:
    result = classify(value, b"some-key", 5, 17)
    assert isinstance(result, DeadLetter)
    assert (result.reason, result.fingerprint, result.partition, result.offset, result.key) == (
        reason, fingerprint, 5, 17, "some-key")
    assert result.message


def test_truncated_avro_is_a_truncated_dead_letter_with_the_fingerprint() -> None:
    data = encode(make_event(TagsSet({"k": "v"})))
    for cut in (11, 20, len(data) - 1):
        result = classify(data[:cut], None, 0, 1)
        assert isinstance(result, DeadLetter)
        assert (result.reason, result.fingerprint, result.key) == ("truncated", CURRENT_HEX, "")


def test_trailing_bytes_are_a_truncated_dead_letter() -> None:
    result = classify(encode(make_event(TagsSet({"k": "v"}))) + b"\x00", b"k", 0, 1)
    assert isinstance(result, DeadLetter) and result.reason == "truncated"


@pytest.mark.parametrize(("overrides", "words"), [
    ({"run_id": ""}, "run_id"),
    ({"run_id": "NOT-A-RUN"}, "run_id"),
    ({"experiment_id": ""}, "experiment_id"),
    ({"seq": 0}, "seq"),
    ({"payload": ("runstream.v1.RunStatusChanged", {"status": "UNKNOWN", "end_time": None})}, "UNKNOWN"),
    ({"payload": ("runstream.v1.MetricsLogged", {"names": ["a"], "name_index": [0, 0], "steps": [1],
                                                 "timestamps": [1], "values": [1.0], **NOT_PACKED})}, "length"),
    ({"payload": ("runstream.v1.MetricsLogged", {"names": ["a"], "name_index": [3], "steps": [1],
                                                 "timestamps": [1], "values": [1.0], **NOT_PACKED})}, "name_index"),
    ({"payload": ("runstream.v1.MetricsLogged", packed(["a"], [0, 0], [1], [1], [1.0]))}, "length"),
    ({"payload": ("runstream.v1.MetricsLogged", packed(["a"], [3], [1], [1], [1.0]))}, "name_index"),
    ({"payload": ("runstream.v1.MetricsLogged", packed(["a"], [-1], [1], [1], [1.0]))}, "name_index"),
])
def test_valid_avro_that_breaks_a_rule_is_an_invalid_dead_letter(overrides: dict[str, Any], words: str) -> None:
    result = classify(raw_message(**overrides), b"key", 1, 2)
    assert isinstance(result, DeadLetter)
    assert (result.reason, result.fingerprint) == ("invalid", CURRENT_HEX)
    assert words in result.message


def test_a_status_unknown_event_made_with_the_dataclasses_is_invalid() -> None:
    result = classify(encode(make_event(RunStatusChanged(RunStatus.UNKNOWN))), b"k", 0, 0)
    assert isinstance(result, DeadLetter) and result.reason == "invalid"


def test_a_key_that_is_not_utf8_is_kept_readable() -> None:
    result = classify(b"junk", b"\xffrun", 0, 0)
    assert isinstance(result, DeadLetter) and result.key == "\ufffdrun"


def test_classify_never_raises_for_random_bytes() -> None:
    rng = random.Random(99)
    header = b"\xc3\x01" + default_catalog().current.fingerprint
    reasons = set()
    for _ in range(1000):
        body = rng.randbytes(rng.randrange(0, 64))
        for value in (body, header + body):
            result = classify(value, None, 0, 0)
            assert isinstance(result, DeadLetter)
            reasons.add(result.reason)
    assert {"bad_magic", "truncated"} <= reasons
    assert reasons <= {"bad_magic", "unknown_fingerprint", "truncated", "undecodable", "invalid"}


def test_an_out_of_range_event_time_is_a_dead_letter() -> None:
    result = classify(raw_message(event_time=2**62), b"k", 0, 0)
    assert isinstance(result, DeadLetter)


def test_a_chunk_checks_points_at_once_and_names_the_rule_classify_names() -> None:
    """prepare_chunk leaves the point rules out of each message's classify and checks every batch of the chunk
    at once; a chunk with bad batches still gives the dead letters (and reasons) of classify one by one."""
    from consumers.chunks import prepare_chunk
    from consumers.projections import PROJECTIONS

    batches = [
        MetricsLogged(["a", "b"], [0, 1], [1, 2], [1_700_000_000_000] * 2, [1.0, 2.0]),
        MetricsLogged(["a"], [0, 0], [1, 2**60], [1_700_000_000_000] * 2, [1.0, 2.0]),  # step out of range
        MetricsLogged(["a"], [0, 3], [1, 2], [1_700_000_000_000] * 2, [1.0, 2.0]),  # index outside names
        MetricsLogged(["a", ""], [0, 5], [1, 2], [1_700_000_000_000] * 2, [1.0, 2.0]),  # both: index named first
        MetricsLogged(["a"], [0], [1], [-(2**62)], [1.0]),  # timestamp out of range
        MetricsLogged(["a"], [-1], [1], [1_700_000_000_000], [1.0]),  # negative index
    ]
    for chosen in ([0], [0, 1], [0, 2, 3], [3, 0], [4, 0, 5], list(range(len(batches)))):
        raws = [(encode(make_event(batches[b], seq=i + 1)), RUN_ID.encode(), i, 0) for i, b in enumerate(chosen)]
        chunk = prepare_chunk(3, raws, PROJECTIONS)  # type: ignore[arg-type]
        one_by_one = [classify(value, key, 3, offset, stamp) for value, key, offset, stamp in raws]
        want = [(d.offset, d.reason, d.message) for d in one_by_one if isinstance(d, DeadLetter)]
        assert [(d.offset, d.reason, d.message) for d in chunk.dead] == want, chosen
        assert [e.offset for e in chunk.events] == [e.offset for e in one_by_one if isinstance(e, LoggedEvent)]
        assert len(want) == sum(b != 0 for b in chosen), chosen
