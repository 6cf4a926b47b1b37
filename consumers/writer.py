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

from confluent_kafka import Message

from consumers.decoding import DeadLetter, classify
from consumers.derived import DERIVED, Derived
from consumers.dlq import DeadLetterPublisher
from consumers.projections import POSITION_TABLE, PROJECTIONS, Block, LoggedEvent, Projection
from consumers.projections.events import dead_letter_row, duplicate_row
from consumers.sink import ClickHouseSink
from consumers.stats import ProjectorStats
from schemas import MetricsLogged

log = logging.getLogger("runstream.projector")

CHUNK_BYTES = 8 * 1024 * 1024  # of Avro per block: about half a million metric points


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

    def load_positions(self, partitions: list[int]) -> dict[int, int]:
        """Read every table's position from ClickHouse, derive what a crash left underived, and return the
        position of the events table: consumption resumes after it (every message leaves an events row, while
        a sparse table such as artifacts may have no row in a partition at all)."""
        for table in self.tables.names:
            self.positions[table] = self.sink.positions(self.tables.physical(table), partitions)
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
                result = self._write_chunk(partition, msgs[start:i + 1])
                total.events += result.events
                total.points += result.points
                total.dead_letters += result.dead_letters
                total.duplicates += result.duplicates
                start, size = i + 1, 0
        return total

    def derive_pending(self, upto: dict[int, int]) -> None:
        """Bring every derived table up to `upto` per partition (after deferred batches)."""
        for derived in self.tables.derived:
            for partition, offset in upto.items():
                self.derive(derived, partition, offset)

    def _write_chunk(self, partition: int, msgs: list[Message]) -> BatchResult:
        """Every table's block for consecutive messages of a partition, the events table last."""
        good: list[LoggedEvent] = []
        dead: list[DeadLetter] = []
        for msg in msgs:
            kind, stamp = msg.timestamp()
            item = classify(msg.value(), msg.key(), partition, offset_of(msg), stamp if kind else None)
            if isinstance(item, DeadLetter):
                if self.dlq is not None:
                    self.dlq.publish(msg, reason=item.reason, message=item.message, fingerprint=item.fingerprint)
                dead.append(item)
            else:
                good.append(item)
        good, duplicates = self._split_duplicates(partition, good)
        if dead and self.dlq is not None:
            self.dlq.flush()
            log.warning("%d message(s) of partition %d sent to %s", len(dead), partition, self.dlq.topic)
        first, last = offset_of(msgs[0]), offset_of(msgs[-1])
        token = f"{self.token_prefix}:{partition}:{first}-{last}"
        for projection in self.tables.projections:
            done = self.positions[projection.table].get(partition, -1)
            block = projection.block(e for e in good if e.offset > done)
            if projection.table == POSITION_TABLE:
                _add_dead_letters(block, [d for d in dead if d.offset > done])
                for dup in duplicates:  # recorded at the duplicate's own event time: a replay writes the same row
                    if dup.offset > done:
                        block.append(*duplicate_row(dup, dup.event.event_time))
            if len(block):
                block.table = self.tables.physical(projection.table)
                began = time.perf_counter()
                self.sink.insert(block, token=token)
                if self.stats is not None:
                    self.stats.insert_latency.labels(projection.table).observe(time.perf_counter() - began)
            # A table may already be ahead of this batch (killed between inserts): never move it back.
            self.positions[projection.table][partition] = max(done, last)
            for derived in self.tables.derived:
                if derived.source == projection.table and not self.defer_derived:
                    self.derive(derived, partition, last)
        for derived in self.tables.derived:  # derived tables whose source is a live table we do not write
            if derived.source not in self._projection_names and not self.defer_derived:
                self.derive(derived, partition, last)
        points = sum(len(e.event.payload) for e in good if isinstance(e.event.payload, MetricsLogged))
        return BatchResult(len(good), points, len(dead), len(duplicates))

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

    def _split_duplicates(self, partition: int, good: list[LoggedEvent]) -> tuple[list[LoggedEvent], list[LoggedEvent]]:
        """Events whose event_id was already projected (a re-sent spool, a retried send) count once."""
        if not good or not self.tables.projections:
            return good, []
        earlier = self.sink.seen_event_ids(
            partition, sorted({e.event.run_id for e in good}), [e.event.event_id for e in good], good[0].offset,
            table=self.tables.physical(POSITION_TABLE),
        )
        fresh, duplicates = [], []
        for logged in good:
            if logged.event.event_id in earlier:
                duplicates.append(logged)
            else:
                earlier.add(logged.event.event_id)
                fresh.append(logged)
        return fresh, duplicates


def _add_dead_letters(block: Block, dead: Iterable[DeadLetter]) -> None:
    for d in dead:
        block.append(*dead_letter_row(d.partition, d.offset, d.key, d.reason, d.message, d.fingerprint, d.time))


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
