"""What every projection shares: a decoded event with its place in the log, and a columnar block."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consumers.logged import LoggedEvent  # re-exported: projections take it


class Block:
    """Rows for one table, held column by column (what clickhouse-connect inserts fastest)."""

    def __init__(self, table: str, columns: tuple[str, ...]) -> None:
        self.table = table
        self.columns = columns
        self.data: list[list[Any]] = [[] for _ in columns]

    def __len__(self) -> int:
        return len(self.data[0])

    def append(self, *row: Any) -> None:
        for column, value in zip(self.data, row, strict=True):
            column.append(value)


@dataclass(frozen=True)
class Projection:
    """A table and the pure function that adds an event's rows to a block of it."""

    table: str
    columns: tuple[str, ...]
    project: Callable[[LoggedEvent, Block], None]
    make_block: Callable[[str, tuple[str, ...]], Block] = Block
    """Rows as Python lists (Block), or another columnar holder with the same surface (metrics.MetricBlock)."""
    merged: bool = False
    """The table's engine merges the rows of a key (aggregates): it is compared and counted FINAL, since how many
    rows it holds before merging depends on how the inserts were batched."""
    payloads: tuple[type, ...] | None = None
    """The payload types `project` makes rows of (None: it looks at every event). Others are never handed to it:
    a chunk of metric batches would otherwise call every projection once per event for nothing."""

    def block(self, events: Iterable[LoggedEvent]) -> Block:
        block = self.make_block(self.table, self.columns)
        payloads = self.payloads
        for logged in events:
            if payloads is None or type(logged.event.payload) in payloads:
                self.project(logged, block)
        return block

    def block_of(self, events: list[LoggedEvent], by_type: Mapping[type, list[LoggedEvent]]) -> Block:
        """`block(events)`, given the same events grouped by payload type (each group in log order)."""
        if self.payloads is None:
            return self.block(events)
        groups = [by_type[kind] for kind in self.payloads if kind in by_type]
        if len(groups) > 1:  # back into log order: rows come out as `block(events)` makes them
            return self.block(sorted((e for group in groups for e in group), key=_offset))
        return self.block(groups[0] if groups else [])


def _offset(logged: LoggedEvent) -> int:
    return logged.offset


COORDINATES = ("event_id", "kafka_partition", "kafka_offset")


def coordinates(logged: LoggedEvent) -> tuple[str, int, int]:
    return logged.event.event_id, logged.partition, logged.offset
