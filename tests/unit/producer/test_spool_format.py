"""The spool's file format and its ownership rules, on a real directory."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest

from producer.spool import Segment, claim_orphans, encode_record, read_records, record_head


def test_records_round_trip_and_a_torn_tail_is_ignored() -> None:
    data = encode_record("run-a", b"\x00\x01payload") + encode_record("run-b", b"") + encode_record("k", b"x" * 300)
    assert list(read_records(io.BytesIO(data))) == [("run-a", b"\x00\x01payload"), ("run-b", b""), ("k", b"x" * 300)]
    assert list(read_records(io.BytesIO(data[:-5]))) == [("run-a", b"\x00\x01payload"), ("run-b", b"")]
    corrupt = bytearray(data)
    corrupt[12] ^= 0xFF
    assert list(read_records(io.BytesIO(bytes(corrupt)))) == []


def test_a_live_segment_is_not_claimed_and_an_orphan_is(tmp_path: Path) -> None:
    live = Segment.create(tmp_path)
    live.append(encode_record("r", b"v"))
    assert list(claim_orphans(tmp_path)) == [], "the owner holds the lock"
    live.close(delete=False)  # the owner ended with this event undelivered
    claimed = list(claim_orphans(tmp_path))
    assert [path for path, _ in claimed] == [live.path]
    path, stream = claimed[0]
    assert list(read_records(stream)) == [("r", b"v")]
    assert list(claim_orphans(tmp_path)) == [], "a claimed orphan is locked by its new owner"
    stream.close()


def test_a_delivered_segment_is_deleted(tmp_path: Path) -> None:
    segment = Segment.create(tmp_path)
    segment.append(encode_record("r", b"v"))
    segment.close(delete=True)
    assert list(tmp_path.iterdir()) == []


def _record_as_documented(key: str, value: bytes) -> bytes:
    """[u32 length][u32 crc32][u16 key length][key][value], the CRC over everything after it (the module's doc)."""
    payload = struct.pack("<H", len(key.encode())) + key.encode() + value
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def test_a_record_written_in_parts_is_the_documented_record(tmp_path: Path) -> None:
    records = [("run-a", b"\x00\x01payload"), ("run-b", b""), ("k\u00e9y", bytes(range(256)) * 600)]
    segment = Segment.create(tmp_path)
    for key, value in records:
        assert record_head(key, value) + value == encode_record(key, value) == _record_as_documented(key, value)
        segment.append(record_head(key, value), value)
    expected = b"".join(_record_as_documented(key, value) for key, value in records)
    assert segment.path.read_bytes() == expected, "on disk before close: each append is one write into the OS"
    assert segment.bytes == len(expected)
    segment.close(delete=False)
    with segment.path.open("rb") as stream:
        assert list(read_records(stream)) == records


def test_a_short_write_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_writev = os.writev

    def short_writev(fd: int, parts: list[bytes]) -> int:  # as a signal or a nearly full disk may cut it
        whole = b"".join(parts)
        return real_writev(fd, [whole[:7]])

    segment = Segment.create(tmp_path)
    monkeypatch.setattr(os, "writev", short_writev)
    value = b"v" * 1000
    segment.append(record_head("r", value), value)
    segment.append(record_head("s", b"w"), b"w")
    monkeypatch.undo()
    segment.close(delete=False)
    with segment.path.open("rb") as stream:
        assert list(read_records(stream)) == [("r", value), ("s", b"w")]
