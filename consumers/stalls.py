"""Partitions the consumer cannot read past, and how far the unreadable part of the log reaches.

librdkafka reports a record batch it cannot decompress (_BAD_COMPRESSION: a 5M-point metric batch whose
decompressed size exceeds receive.message.max.bytes, or corrupt data) at the batch's first offset, every
fetch, forever: the partition makes no progress. After a few such reports at one offset the projector skips
the batch, recording a dead letter per offset. Skipping to the reported offset + 1 is not enough: the broker
answers a fetch inside a batch with the whole batch, so the batch's end is found by probing (`batch_end`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError

UNREADABLE = frozenset({KafkaError._BAD_COMPRESSION, KafkaError._BAD_MSG, KafkaError.MSG_SIZE_TOO_LARGE,
                        KafkaError.INVALID_MSG})
"""Consumer errors that name an offset and repeat at it until it is skipped."""
UNREADABLE_REASON = "unreadable"


@dataclass
class Stall:
    partition: int
    offset: int
    error: str
    since: float
    repeats: int = 1


@dataclass
class StallWatch:
    """Counts repeated read errors at one offset of a partition; says when to give up on that offset."""

    skip_after: int = 3
    stalled: dict[int, Stall] = field(default_factory=dict)

    def error(self, partition: int, offset: int, code: int, text: str, now: float | None = None) -> Stall | None:
        """Note a consumer error; return the stall once it has repeated `skip_after` times at one offset."""
        if code not in UNREADABLE or partition < 0 or offset < 0:
            return None
        now = time.time() if now is None else now
        stall = self.stalled.get(partition)
        if stall is None or stall.offset != offset:
            stall = self.stalled[partition] = Stall(partition, offset, text, now)
        else:
            stall.repeats += 1
            stall.error = text
        return stall if stall.repeats >= self.skip_after else None

    def progressed(self, partition: int, offset: int) -> None:
        """A message at `offset` was read: a stall before it is over."""
        stall = self.stalled.get(partition)
        if stall is not None and offset > stall.offset:
            del self.stalled[partition]

    def report(self) -> list[dict[str, object]]:
        return [{"partition": s.partition, "offset": s.offset, "error": s.error, "repeats": s.repeats,
                 "since": s.since} for s in sorted(self.stalled.values(), key=lambda s: s.partition)]


def batch_end(first: int, high: int, unreadable_from: Callable[[int], bool]) -> int:
    """The last offset of the unreadable batch starting at `first`, below the high watermark `high`:
    `unreadable_from(o)` is true while a fetch from offset o still meets that batch. Binary search, so a batch
    of n records costs about log2(n) probes."""
    lo, hi = first, high  # unreadable_from(lo) holds; hi is past the batch
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if unreadable_from(mid):
            lo = mid
        else:
            hi = mid
    return lo
