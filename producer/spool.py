"""The on-disk spool: every event is appended here before it is sent, and forgotten once Kafka has it.

A segment is one process's append-only file of records, [u32 length][u32 crc32][u16 key length][key][value],
held under an exclusive flock while its owner lives. A segment nobody holds belongs to a process that ended
before the broker took everything; the next Tracker on the machine (or `runstream spool flush`) sends its
records first, in their order, then deletes it. A record torn by a crash mid-write fails its CRC and ends
the segment. Records already delivered may be sent again after a crash; the projector counts an event_id once.
"""

from __future__ import annotations

import fcntl
import os
import struct
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_HEADER = struct.Struct("<II")
_KEY_LEN = struct.Struct("<H")
SUFFIX = ".spool"


def record_head(key: str, value: bytes) -> bytes:
    """The bytes of a record before its value (lengths, CRC, key): the record is `head + value`, which
    `Segment.append(head, value)` writes without joining them (a 5,000-point event is 140 KB; joining copied it
    twice)."""
    raw_key = key.encode()
    prefix = _KEY_LEN.pack(len(raw_key)) + raw_key
    return _HEADER.pack(len(prefix) + len(value), zlib.crc32(value, zlib.crc32(prefix))) + prefix


def encode_record(key: str, value: bytes) -> bytes:
    """A whole record as one bytes object (tests and tools; the publisher appends head and value apart)."""
    return record_head(key, value) + value


def read_records(stream: BinaryIO) -> Iterator[tuple[str, bytes]]:
    """(key, value) of every whole record; stops at the end or at a torn or corrupt record."""
    while True:
        header = stream.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        length, crc = _HEADER.unpack(header)
        payload = stream.read(length)
        if len(payload) < length or zlib.crc32(payload) != crc or length < _KEY_LEN.size:
            return
        (key_len,) = _KEY_LEN.unpack_from(payload)
        yield payload[2 : 2 + key_len].decode(), payload[2 + key_len :]


class Segment:
    """One locked spool file, appended to by its owner."""

    def __init__(self, path: Path, stream: BinaryIO) -> None:
        self.path = path
        self._stream = stream
        self.bytes = path.stat().st_size

    @classmethod
    def create(cls, directory: Path) -> Segment:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{os.getpid()}-{uuid.uuid4().hex[:12]}{SUFFIX}"
        stream = open(path, "ab", buffering=0)  # noqa: SIM115 - owned by the segment until close()
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return cls(path, stream)

    def append(self, *parts: bytes) -> None:
        """Append one record, whole or in consecutive parts, with one system call: in the OS when this returns,
        which survives the process, even SIGKILL."""
        size = sum(len(part) for part in parts)
        written = os.writev(self._stream.fileno(), parts)
        if written < size:  # a short write (a signal, a full disk): the rest after it, or the error it meets
            rest = memoryview(b"".join(parts))[written:]
            while rest:
                rest = rest[os.write(self._stream.fileno(), rest):]
        self.bytes += size

    def close(self, *, delete: bool) -> None:
        if delete:
            self.path.unlink(missing_ok=True)
        self._stream.close()


def claim_orphans(directory: Path) -> Iterator[tuple[Path, BinaryIO]]:
    """Segments whose owner is gone, each locked for the caller (who deletes it once delivered)."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime):
        try:
            stream = open(path, "rb")  # noqa: SIM115 - handed to the caller
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.close()  # a live Tracker owns it
            continue
        if not path.exists():  # deleted between listing and locking
            stream.close()
            continue
        yield path, stream
