"""What every projection shares: a decoded event with its place in the log, and a columnar block."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from schemas import RunEvent


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """A decoded event and where it sits in the log."""

    event: RunEvent
    partition: int
    offset: int
    fingerprint: str


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

    def block(self, events: Iterable[LoggedEvent]) -> Block:
        block = self.make_block(self.table, self.columns)
        for logged in events:
            self.project(logged, block)
        return block


COORDINATES = ("event_id", "kafka_partition", "kafka_offset")


def coordinates(logged: LoggedEvent) -> tuple[str, int, int]:
    return logged.event.event_id, logged.partition, logged.offset
