"""A chunk of consumed messages prepared for writing: pure (no ClickHouse, no Kafka), so it can be tested alone
and run in another process. The writer (`consumers.writer`) screens and applies what this prepares."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyarrow as pa
from confluent_kafka import Message

from consumers.decoding import DeadLetter, classify
from consumers.projections import POSITION_TABLE, Block, LoggedEvent, Projection
from consumers.projections.events import dead_letter_row, duplicate_row
from consumers.projections.metrics import MetricBlock
from consumers.projections.summary import SummaryBlock
from consumers.screening import ExperimentMismatchError
from schemas import MetricsLogged, points_valid


class EventRef(NamedTuple):
    """Where a decodable event of a chunk sits, and what it counts for."""

    offset: int
    event_id: str
    run_id: str
    points: int  # metric points it carries
    experiment_id: str


RawMessage = tuple[bytes | None, bytes | None, int, int | None]
"""(value, key, offset, broker timestamp in ms): what preparing a chunk needs of a Kafka message."""


def raw_of(msg: Message) -> RawMessage:
    kind, stamp = msg.timestamp()
    return msg.value(), msg.key(), offset_of(msg), stamp if kind else None


class DuplicateRows(Mapping[int, tuple[Any, ...]]):
    """Per offset, the events row an event would become if it is a duplicate: made only for the offsets asked
    (duplicates are rare, and each row costs a JSON rendering)."""

    def __init__(self, events: Iterable[LoggedEvent]) -> None:
        self._events = {e.offset: e for e in events}

    def __getitem__(self, offset: int) -> tuple[Any, ...]:
        logged = self._events[offset]
        return duplicate_row(logged, logged.event.event_time)

    def __iter__(self) -> Iterator[int]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)


@dataclass
class PreparedChunk:
    """Consecutive messages of a partition turned into one block per projection, before duplicates are known.

    Preparing is pure (no ClickHouse, no Kafka), so it can run in another process (parallel replay)."""

    partition: int
    first: int
    last: int
    blocks: list[Block]
    events: list[EventRef]  # the decodable events
    duplicate_rows: Mapping[int, tuple[Any, ...]]  # the events row each would become if it is a duplicate
    dead: list[DeadLetter]


def prepare_chunk(partition: int, raws: list[RawMessage], projections: Iterable[Projection]) -> PreparedChunk:
    """Classify every message and build every projection's block; dead letters become events rows."""
    good: list[LoggedEvent] = []
    dead: list[DeadLetter] = []
    # The metric batches' point rules are checked for the whole chunk at once; where they or any rule fail, the
    # message is classified again with every rule, so each dead letter names the rule classify() names.
    items = [classify(value, key, partition, offset, stamp, points=False) for value, key, offset, stamp in raws]
    again = not points_valid([i.event.payload for i in items
                              if isinstance(i, LoggedEvent) and isinstance(i.event.payload, MetricsLogged)])
    for raw, item in zip(raws, items, strict=True):
        if isinstance(item, DeadLetter) or (again and isinstance(item.event.payload, MetricsLogged)):
            item = classify(raw[0], raw[1], partition, raw[2], raw[3])
        if isinstance(item, DeadLetter):
            dead.append(item)
        else:
            good.append(item)
    by_type: dict[type, list[LoggedEvent]] = {}
    for logged in good:
        by_type.setdefault(type(logged.event.payload), []).append(logged)
    blocks = []
    for projection in projections:
        block = projection.block_of(good, by_type)
        if projection.table == POSITION_TABLE:
            for d in dead:
                block.append(*dead_letter_row(d.partition, d.offset, d.key, d.reason, d.message, d.fingerprint,
                                              d.time))
        blocks.append(block)
    events = [EventRef(e.offset, e.event.event_id, e.event.run_id,
                       len(e.event.payload) if isinstance(e.event.payload, MetricsLogged) else 0,
                       e.event.experiment_id) for e in good]
    return PreparedChunk(partition, raws[0][2], raws[-1][2], blocks, events, DuplicateRows(good), dead)


def dead_letter(prepared: PreparedChunk, wrong: dict[int, str]) -> None:
    """Take these events out of every block and record them as dead letters (at their event time, so a replay
    writes the same rows)."""
    offsets = set(wrong)
    prepared.blocks = [block if offsets.isdisjoint(block.data[block.columns.index("kafka_offset")])
                       else without(block, offsets, -1) for block in prepared.blocks]
    for offset, message in wrong.items():
        row = prepared.duplicate_rows[offset]
        dead = DeadLetter(prepared.partition, offset, row[1], ExperimentMismatchError.reason, message, row[10], row[5])
        prepared.dead.append(dead)
        for block in prepared.blocks:
            if block.table == POSITION_TABLE:
                block.append(*dead_letter_row(dead.partition, dead.offset, dead.key, dead.reason, dead.message,
                                              dead.fingerprint, dead.time))
    prepared.events = [e for e in prepared.events if e.offset not in offsets]


def merged(blocks: list[Any]) -> Any:
    """One block of the rows of blocks of the same table (and kind)."""
    first = blocks[0]
    if len(blocks) == 1:
        return first
    if isinstance(first, MetricBlock):
        points = MetricBlock(first.table, first.columns)
        points.parts = [part for block in blocks for part in block.parts]
        points.sorted_insert = first.sorted_insert
        return points
    if isinstance(first, SummaryBlock):
        return SummaryBlock(first.table, pa.concat_tables([block.rows for block in blocks]))
    out = Block(first.table, first.columns)
    out.data = [[value for block in blocks for value in block.data[i]] for i in range(len(first.columns))]
    return out


def without(block: Block, offsets: set[int], done: int) -> Block:
    """The block without rows from these offsets or from offsets up to `done`."""
    if isinstance(block, MetricBlock):
        return block.without(offsets, done)  # type: ignore[return-value]
    column = block.data[block.columns.index("kafka_offset")]
    keep = [i for i, offset in enumerate(column) if offset > done and offset not in offsets]
    out = Block(block.table, block.columns)
    out.data = [[values[i] for i in keep] for values in block.data]
    return out


def partition_of(msg: Message) -> int:
    partition = msg.partition()
    if partition is None:
        raise ValueError("a consumed message without a partition")
    return partition


def offset_of(msg: Message) -> int:
    offset = msg.offset()
    if offset is None:
        raise ValueError("a consumed message without an offset")
    return offset
