"""The spool's file format and its ownership rules, on a real directory."""

from __future__ import annotations

import io
from pathlib import Path

from producer.spool import Segment, claim_orphans, encode_record, read_records


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
