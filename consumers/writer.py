"""Writing consumed batches into ClickHouse: the one piece of code that applies events to tables.

The live projector and a replay (rebuild, verify) both use it; a replay writes the same rows into other
physical tables (`Tables.physical`), skips tables it is not rebuilding and never re-publishes dead letters.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from confluent_kafka import Message

from consumers.decoding import DeadLetter, classify
from consumers.derived import DERIVED, Derived
from consumers.dlq import DeadLetterPublisher
from consumers.projections import POSITION_TABLE, PROJECTIONS, Block, LoggedEvent, Projection
from consumers.projections.events import dead_letter_row, duplicate_row
from consumers.projections.metrics import MetricBlock
from consumers.screening import ExperimentMismatchError, misfiled
from consumers.sink import ClickHouseSink
from consumers.stats import ProjectorStats
from schemas import MetricsLogged

log = logging.getLogger("runstream.projector")

CHUNK_BYTES = 8 * 1024 * 1024  # of Avro per block: about half a million metric points
MAX_REMEMBERED_RUNS = 200_000  # per partition: past it the owners are forgotten and asked again


@dataclass(frozen=True)
class Tables:
    """Which projections and derived tables a writer fills, and under which physical names."""

    projections: tuple[Projection, ...] = PROJECTIONS
    derived: tuple[Derived, ...] = DERIVED
    suffix: str = ""

    def physical(self, table: str) -> str:
        """Where rows for `table` go. A derived table reads its source from here only if the source is ours."""
        return f"{table}{self.suffix}" if table in self.names else table

    @property
    def names(self) -> list[str]:
        return [p.table for p in self.projections] + [d.table for d in self.derived]


@dataclass
class BatchResult:
    events: int = 0
    points: int = 0
    dead_letters: int = 0
    duplicates: int = 0

    def add(self, other: BatchResult) -> None:
        self.events += other.events
        self.points += other.points
        self.dead_letters += other.dead_letters
        self.duplicates += other.duplicates


@dataclass
class BatchWriter:
    """Applies a partition's consumed messages to every table it owns, each table skipping what it holds."""

    sink: ClickHouseSink
    tables: Tables = field(default_factory=Tables)
    dlq: DeadLetterPublisher | None = None
    stats: ProjectorStats | None = None
    token_prefix: str = ""
    defer_derived: bool = False
    """A replay fills derived tables once per catch-up (`derive_pending`), not after every batch."""
    chunk_bytes: int = CHUNK_BYTES
    positions: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    owners: dict[int, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    """Per partition, the experiment each run seen so far belongs to (filled from ClickHouse on first sight)."""

    def load_positions(self, partitions: list[int]) -> dict[int, int]:
        """Read every table's position from ClickHouse, derive what a crash left underived, and return the
        position of the events table: consumption resumes after it (every message leaves an events row, while
        a sparse table such as artifacts may have no row in a partition at all)."""
        for table in self.tables.names:
            self.positions[table] = self.sink.positions(self.tables.physical(table), partitions)
        self.owners.clear()
        for derived in self.tables.derived:
            if derived.source in self.positions:
                for partition in partitions:
                    self.derive(derived, partition, self.positions[derived.source].get(partition, -1))
        return dict(self.positions.get(POSITION_TABLE, {}))

    @property
    def _projection_names(self) -> list[str]:
        return [p.table for p in self.tables.projections]

    def write(self, partition: int, msgs: list[Message]) -> BatchResult:
        """Project one partition's consecutive messages, in chunks of at most `chunk_bytes` of Avro (so a
        backlog of large metric batches never becomes one block of tens of millions of rows in memory)."""
        total = BatchResult()
        start, size = 0, 0
        for i, msg in enumerate(msgs):
            size += len(msg.value() or b"")
            if size >= self.chunk_bytes or i == len(msgs) - 1:
                total.add(self._write_chunk(partition, msgs[start:i + 1]))
                start, size = i + 1, 0
        return total

    def skip_unreadable(self, partition: int, first: int, last: int, reason: str, message: str) -> BatchResult:
        """Record offsets first..last, which the consumer cannot read, as dead letters (so the position moves
        past them, and a replay that meets the same batch writes the same rows)."""
        dead = [DeadLetter(partition, offset, "", reason, message, "") for offset in range(first, last + 1)]
        blocks = [Block(p.table, p.columns) for p in self.tables.projections]
        for block in blocks:
            if block.table == POSITION_TABLE:
                for d in dead:
                    block.append(*dead_letter_row(d.partition, d.offset, d.key, d.reason, d.message, d.fingerprint,
                                                  d.time))
        return self.apply(PreparedChunk(partition, first, last, blocks, [], {}, dead))

    def derive_pending(self, upto: dict[int, int]) -> None:
        """Bring every derived table up to `upto` per partition (after deferred batches)."""
        for derived in self.tables.derived:
            for partition, offset in upto.items():
                self.derive(derived, partition, offset)

    def _write_chunk(self, partition: int, msgs: list[Message]) -> BatchResult:
        """Prepare a chunk (pure), send its dead letters on (live only), then apply it."""
        prepared = self.screen(prepare_chunk(partition, [raw_of(m) for m in msgs], self.tables.projections))
        if prepared.dead and self.dlq is not None:
            by_offset = {offset_of(m): m for m in msgs}
            for d in prepared.dead:
                self.dlq.publish(by_offset[d.offset], reason=d.reason, message=d.message, fingerprint=d.fingerprint)
            self.dlq.flush()
            log.warning("%d message(s) of partition %d sent to %s", len(prepared.dead), partition, self.dlq.topic)
        return self.apply(prepared)

    def screen(self, prepared: PreparedChunk) -> PreparedChunk:
        """Turn the chunk's events whose run belongs to another experiment into dead letters. Unlike preparing,
        this needs what earlier offsets hold: each run's first experiment, asked of the events table once per
        run and partition, then remembered."""
        runs = [(e.offset, e.run_id, e.experiment_id) for e in prepared.events if e.run_id]
        if not runs or not self.tables.projections:
            return prepared
        owners = self.owners[prepared.partition]
        if len(owners) > MAX_REMEMBERED_RUNS:
            owners.clear()
        unknown = sorted({run for _, run, _ in runs if run not in owners})
        if unknown:
            owners.update(self.sink.first_experiments(prepared.partition, unknown, prepared.first,
                                                      table=self.tables.physical(POSITION_TABLE)))
        wrong = misfiled(runs, owners)
        if wrong:
            _dead_letter(prepared, wrong)
        return prepared

    def apply(self, prepared: PreparedChunk) -> BatchResult:
        """Insert a prepared chunk: duplicates found against the events table become Duplicate rows, each
        table skips the offsets it already holds, and the events table is written last."""
        partition, first, last = prepared.partition, prepared.first, prepared.last
        duplicates = self._duplicate_offsets(prepared)
        token = f"{self.token_prefix}:{partition}:{first}-{last}"
        for projection, block in zip(self.tables.projections, prepared.blocks, strict=True):
            done = self.positions[projection.table].get(partition, -1)
            if duplicates or done >= first:
                block = _without(block, duplicates, done)
            if projection.table == POSITION_TABLE:
                for offset in sorted(duplicates):  # at the duplicate's own event time: a replay writes the same row
                    if offset > done:
                        block.append(*prepared.duplicate_rows[offset])
            if len(block):
                block.table = self.tables.physical(projection.table)
                began = time.perf_counter()
                self.sink.insert(block, token=token)
                if self.stats is not None:
                    self.stats.insert_latency.labels(projection.table).observe(time.perf_counter() - began)
            # A table may already be ahead of this batch (killed between inserts): never move it back.
            self.positions[projection.table][partition] = max(done, last)
            for derived in self.tables.derived:
                if derived.source == projection.table:
                    self._follow(derived, partition, done, last, block, token)
        for derived in self.tables.derived:  # derived tables whose source is a live table we do not write
            if derived.source not in self._projection_names and not self.defer_derived:
                self.derive(derived, partition, last)
        good = [e for e in prepared.events if e.offset not in duplicates]
        return BatchResult(len(good), sum(e.points for e in good), len(prepared.dead), len(duplicates))

    def _duplicate_offsets(self, prepared: PreparedChunk) -> set[int]:
        """Offsets of events whose event_id was already projected (a re-sent spool, a retried send): they
        count once. Earlier offsets of the partition are asked of the events table; this chunk is checked
        in order."""
        events = prepared.events
        if not events or not self.tables.projections:
            return set()
        earlier = self.sink.seen_event_ids(
            prepared.partition, sorted({e.run_id for e in events}), [e.event_id for e in events], events[0].offset,
            table=self.tables.physical(POSITION_TABLE),
        )
        duplicates = set()
        for offset, event_id, *_ in events:
            if event_id in earlier:
                duplicates.add(offset)
            else:
                earlier.add(event_id)
        return duplicates

    def _follow(self, derived: Derived, partition: int, source_done: int, upto: int, block: Block,
                token: str) -> None:
        """Bring a derived table up to `upto` after its source received `block` (its rows past `source_done`).
        When the derived table stood where its source did, its rows come from the block in memory; otherwise
        (a crash between the two) the SQL reads the source."""
        done = self.positions[derived.table].get(partition, -1)
        if derived.from_block is None or done != source_done:
            if not self.defer_derived:
                self.derive(derived, partition, upto)
            return
        rows = derived.from_block(block)
        if len(rows):
            rows.table = self.tables.physical(derived.table)
            began = time.perf_counter()
            self.sink.insert(rows, token=token)
            if self.stats is not None:
                self.stats.insert_latency.labels(derived.table).observe(time.perf_counter() - began)
        self.positions[derived.table][partition] = max(done, upto)

    def derive(self, derived: Derived, partition: int, upto: int) -> None:
        """Bring a derived table of a partition up to offset `upto` of its source."""
        done = self.positions[derived.table].get(partition, -1)
        if done < upto:
            began = time.perf_counter()
            log.debug("deriving %s for partition %d, offsets %d..%d", derived.table, partition, done + 1, upto)
            self.sink.derive(derived, partition, done, upto, target=self.tables.physical(derived.table),
                             source=self.tables.physical(derived.source))
            if self.stats is not None:
                self.stats.insert_latency.labels(derived.table).observe(time.perf_counter() - began)
            self.positions[derived.table][partition] = upto


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


@dataclass
class PreparedChunk:
    """Consecutive messages of a partition turned into one block per projection, before duplicates are known.

    Preparing is pure (no ClickHouse, no Kafka), so it can run in another process (parallel replay)."""

    partition: int
    first: int
    last: int
    blocks: list[Block]
    events: list[EventRef]  # the decodable events
    duplicate_rows: dict[int, tuple[Any, ...]]  # the events row each would become if it is a duplicate
    dead: list[DeadLetter]


def prepare_chunk(partition: int, raws: list[RawMessage], projections: Iterable[Projection]) -> PreparedChunk:
    """Classify every message and build every projection's block; dead letters become events rows."""
    good: list[LoggedEvent] = []
    dead: list[DeadLetter] = []
    for value, key, offset, stamp in raws:
        item = classify(value, key, partition, offset, stamp)
        if isinstance(item, DeadLetter):
            dead.append(item)
        else:
            good.append(item)
    blocks = []
    for projection in projections:
        block = projection.block(good)
        if projection.table == POSITION_TABLE:
            for d in dead:
                block.append(*dead_letter_row(d.partition, d.offset, d.key, d.reason, d.message, d.fingerprint,
                                              d.time))
        blocks.append(block)
    events = [EventRef(e.offset, e.event.event_id, e.event.run_id,
                       len(e.event.payload) if isinstance(e.event.payload, MetricsLogged) else 0,
                       e.event.experiment_id) for e in good]
    duplicate_rows = {e.offset: duplicate_row(e, e.event.event_time) for e in good}
    return PreparedChunk(partition, raws[0][2], raws[-1][2], blocks, events, duplicate_rows, dead)


def _dead_letter(prepared: PreparedChunk, wrong: dict[int, str]) -> None:
    """Take these events out of every block and record them as dead letters (at their event time, so a replay
    writes the same rows)."""
    offsets = set(wrong)
    prepared.blocks = [block if offsets.isdisjoint(block.data[block.columns.index("kafka_offset")])
                       else _without(block, offsets, -1) for block in prepared.blocks]
    for offset, message in wrong.items():
        row = prepared.duplicate_rows[offset]
        dead = DeadLetter(prepared.partition, offset, row[1], ExperimentMismatchError.reason, message, row[10], row[5])
        prepared.dead.append(dead)
        for block in prepared.blocks:
            if block.table == POSITION_TABLE:
                block.append(*dead_letter_row(dead.partition, dead.offset, dead.key, dead.reason, dead.message,
                                              dead.fingerprint, dead.time))
    prepared.events = [e for e in prepared.events if e.offset not in offsets]


def _without(block: Block, offsets: set[int], done: int) -> Block:
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
