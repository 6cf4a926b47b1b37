"""How a live batch is cut into insert groups: oldest messages first across partitions.

A consumed batch of several partitions is written in groups of at most `chunk_bytes` (one insert per table per
group), and a message is visible once its own group is written. Taking the groups partition by partition left the
last partition's oldest messages waiting for every other partition's newest; taking them oldest first (by Kafka
timestamp, each partition's order kept) bounds how long any message of a batch waits behind younger ones. The
groups are also cut evenly, so a batch a little over `chunk_bytes` is two halves, not a group and a tiny tail
paying a whole group's statements.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, TypeVar


class Timestamped(Protocol):
    def value(self) -> bytes | None: ...

    def timestamp(self) -> tuple[int, int]: ...


M = TypeVar("M", bound=Timestamped)


def _stamp(msg: Timestamped) -> int:
    kind, stamp = msg.timestamp()
    return stamp if kind else -1  # a message without a timestamp is taken as soon as its partition reaches it


def groups_oldest_first(batches: Mapping[int, Sequence[M]], chunk_bytes: int) -> Iterator[list[tuple[int, list[M]]]]:
    """Groups covering every message once, each holding one consecutive run per partition (partitions in the
    batch's order), filled by always taking the partition whose next message is oldest, and cut into
    ceil(total / chunk_bytes) groups of about equal bytes."""
    sizes = {p: [len(m.value() or b"") for m in msgs] for p, msgs in batches.items()}
    total = sum(sum(s) for s in sizes.values())
    target = max(1.0, total / max(1, math.ceil(total / chunk_bytes)))  # empty values: one group, not one each
    taken = {p: 0 for p in batches}
    start = dict(taken)
    heap = [(_stamp(msgs[0]), order, p) for order, (p, msgs) in enumerate(batches.items()) if msgs]
    heapq.heapify(heap)
    size = 0
    while heap:
        _, order, p = heapq.heappop(heap)
        size += sizes[p][taken[p]]
        taken[p] += 1
        if taken[p] < len(batches[p]):
            heapq.heappush(heap, (_stamp(batches[p][taken[p]]), order, p))
        if size >= target and heap:
            yield [(q, list(batches[q][start[q]:taken[q]])) for q in batches if taken[q] > start[q]]
            start, size = dict(taken), 0
    last = [(q, list(batches[q][start[q]:taken[q]])) for q in batches if taken[q] > start[q]]
    if last:
        yield last
