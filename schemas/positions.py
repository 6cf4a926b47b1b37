"""Log positions a reader asks to see: the `X-Runstream-After` header an SDK client sends with a read.

The SDK knows the highest offset the broker acknowledged per partition for its own events (`Tracker.acked_offsets`);
sent back as `X-Runstream-After: 0:1841,2:977`, a read waits, bounded, until the projector has passed those offsets,
so a job or a notebook reads what it just logged through Kafka, as the API's own writes are always read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

HEADER = "X-Runstream-After"
MAX_PARTITIONS = 1024  # a topic with more partitions than this is not one runstream makes
MAX_OFFSET = 2**63 - 1  # Kafka's offsets are signed 64-bit
_ENTRY = re.compile(r"(\d{1,10}):(\d{1,19})")


def format_positions(offsets: Mapping[int, int]) -> str:
    """`{0: 1841, 2: 977}` -> "0:1841,2:977" (partitions in order)."""
    return ",".join(f"{p}:{o}" for p, o in sorted(offsets.items()))


def parse_positions(text: str) -> dict[int, int]:
    """"0:1841,2:977" -> {0: 1841, 2: 977}; ValueError naming what is wrong. An empty value asks for nothing."""
    text = text.strip()
    if not text:
        return {}
    entries = text.split(",")
    if len(entries) > MAX_PARTITIONS:
        raise ValueError(f"{len(entries)} partitions; at most {MAX_PARTITIONS}")
    positions: dict[int, int] = {}
    for entry in entries:
        match = _ENTRY.fullmatch(entry.strip())
        if match is None:
            raise ValueError(f"{entry.strip()[:40]!r} is not partition:offset (e.g. 0:1841)")
        partition, offset = int(match[1]), int(match[2])
        if partition >= MAX_PARTITIONS or offset > MAX_OFFSET:
            raise ValueError(f"{entry.strip()!r} is out of range (partition < {MAX_PARTITIONS}, offset < 2^63)")
        if partition in positions:
            raise ValueError(f"partition {partition} is given twice")
        positions[partition] = offset
    return positions
