"""Writing consumed batches into ClickHouse: the one piece of code that applies events to tables.

The live projector and a replay (rebuild, verify) both use it; a replay writes the same rows into other
physical tables (`Tables.physical`), skips tables it is not rebuilding and never re-publishes dead letters.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka import Message

from consumers.chunks import PreparedChunk, dead_letter, merged, offset_of, prepare_chunk, raw_of, without
from consumers.decoding import DeadLetter
from consumers.derived import DERIVED, Derived
from consumers.dlq import DeadLetterPublisher
from consumers.projections import POSITION_TABLE, PROJECTIONS, Block, Projection
from consumers.projections.events import dead_letter_row
from consumers.projections.metrics import CHUNK_TABLE, MetricBlock
from consumers.screening import misfiled
from consumers.sink import ClickHouseSink
from consumers.stats import ProjectorStats

log = logging.getLogger("runstream.projector")

CHUNK_BYTES = 8 * 1024 * 1024  # of Avro per block: about half a million metric points
MAX_REMEMBERED_RUNS = 200_000  # per partition: past it the owners are forgotten and asked again
MAX_PENDING_DERIVED_ROWS = 100_000  # a replay's derived rows kept for one insert (summary rows: ~10 MB)
MAX_REMEMBERED_EVENT_IDS = 100_000  # per partition, while the writer has seen it whole (about 12 MB of ids)
SIDE_TABLES = frozenset({CHUNK_TABLE})  # inserted through `BatchWriter.side`, with the tables derived from them


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
    whole: set[int] = field(default_factory=set)
    """Partitions this writer has seen from their first offset (its tables were empty there when it started):
    every earlier event went through it, so a run it does not know has no earlier event and an event id it
    has not seen is new. Those are answered from memory instead of asking the events table."""
    event_ids: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    pending: dict[str, list[Block]] = field(default_factory=dict)
    """Derived rows built from blocks and not inserted yet (replays: `defer_derived`)."""
    sort_metrics: bool = True
    """Metric points go to a table that sorts them (False: verify's Null table; see `MetricBlock.sorted_insert`)."""
    side: ClickHouseSink | None = None
    """A second sink (its own client) for the metrics table beside the others (`apply_all`); None: one sink."""
    on_written: Callable[[str, Block], None] | None = None
    """Called with a table and the block just inserted into it, before the table's positions move (a host's
    in-memory copies drop what the block changes; may run on the side-insert thread)."""
    _side_thread: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    def load_positions(self, partitions: list[int], *, empty: bool = False) -> dict[int, int]:
        """Read every table's position from ClickHouse, derive what a crash left underived, and return the
        position of the events table: consumption resumes after it (every message leaves an events row, while
        a sparse table such as artifacts may have no row in a partition at all). `empty`: the caller has just
        created every table empty (a replay's shadows), so nothing is read."""
        physical = [self.tables.physical(t) for t in self.tables.names]
        found: dict[str, dict[int, int]] = {t: {} for t in physical} if empty else \
            self.sink.positions_of(physical, partitions)
        for table in self.tables.names:
            self.positions[table] = found[self.tables.physical(table)]
        self.owners.clear()
        self.event_ids.clear()
        self.pending.clear()  # the positions just read do not count them
        self.whole = {p for p in partitions if POSITION_TABLE in self.tables.names
                      and self.positions[POSITION_TABLE].get(p, -1) < 0}
        for derived in self.tables.derived:
            if derived.source in self.positions:
                for partition in partitions:
                    self.derive(derived, partition, self.positions[derived.source].get(partition, -1))
        return dict(self.positions.get(POSITION_TABLE, {}))

    @property
    def _projection_names(self) -> list[str]:
        return [p.table for p in self.tables.projections]

    def write(self, partition: int, msgs: list[Message]) -> BatchResult:
        """Project one partition's consecutive messages (see `write_all`)."""
        return self.write_all({partition: msgs})

    def write_all(self, batches: dict[int, list[Message]]) -> BatchResult:
        """Project consumed messages of several partitions (each partition's consecutive), in groups of at most
        `chunk_bytes` of Avro (so a backlog of large metric batches never becomes one block of tens of millions
        of rows in memory). A group holds one run of messages per partition, and is written with one insert per
        table for all its partitions: the statements' fixed cost is paid once per group, not per partition."""
        total = BatchResult()
        for group in self._groups(batches):
            total.add(self._write_group(group))
        return total

    def _groups(self, batches: dict[int, list[Message]]) -> Iterator[list[tuple[int, list[Message]]]]:
        """The groups of `write_all`, in order."""
        group: list[tuple[int, list[Message]]] = []
        size = 0
        for partition, msgs in batches.items():
            start = 0
            for i, msg in enumerate(msgs):
                size += len(msg.value() or b"")
                if size >= self.chunk_bytes:
                    group.append((partition, msgs[start:i + 1]))
                    yield group
                    group, size, start = [], 0, i + 1
            if start < len(msgs):
                group.append((partition, msgs[start:]))
        if group:
            yield group

    def skip_unreadable(self, partition: int, first: int, last: int, reason: str, message: str) -> BatchResult:
        """Record offsets first..last, which the consumer cannot read, as dead letters (so the position moves
        past them, and a replay that meets the same batch writes the same rows)."""
        dead = [DeadLetter(partition, offset, "", reason, message, "") for offset in range(first, last + 1)]
        blocks = [p.block([]) for p in self.tables.projections]  # each of its own kind (metrics: MetricBlock)
        for block in blocks:
            if block.table == POSITION_TABLE:
                for d in dead:
                    block.append(*dead_letter_row(d.partition, d.offset, d.key, d.reason, d.message, d.fingerprint,
                                                  d.time))
        return self.apply(PreparedChunk(partition, first, last, blocks, [], {}, dead))

    def derive_pending(self, upto: dict[int, int]) -> None:
        """Bring every derived table up to `upto` per partition (after deferred batches): the rows kept from the
        blocks in one insert, then the SQL for whatever is still behind."""
        for derived in self.tables.derived:
            self._flush_pending(derived)
            for partition, offset in upto.items():
                self.derive(derived, partition, offset)

    def _flush_pending(self, derived: Derived) -> None:
        pending = self.pending.pop(derived.table, [])
        if pending:
            token = f"{self.token_prefix}:{derived.table}:{self.positions[derived.table]}"
            self._insert(derived.table, merged(pending), token)

    def _write_group(self, group: list[tuple[int, list[Message]]]) -> BatchResult:
        """Prepare each partition's chunk (pure), send its dead letters on (live only), then apply them together."""
        return self.apply_all(self._screened([self._prepared(partition, msgs) for partition, msgs in group]))

    def _prepared(self, partition: int, msgs: list[Message]) -> tuple[PreparedChunk, list[Message]]:
        chunk = prepare_chunk(partition, [raw_of(m) for m in msgs], self.tables.projections)
        if not self.sort_metrics:
            for block in chunk.blocks:
                if isinstance(block, MetricBlock):
                    block.sorted_insert = False
        return chunk, msgs

    def _screened(self, prepared: list[tuple[PreparedChunk, list[Message]]]) -> list[PreparedChunk]:
        """Screen prepared chunks (`screen`) and publish their dead letters (live only), in order."""
        chunks = []
        for chunk, msgs in prepared:
            chunk = self.screen(chunk)
            if chunk.dead and self.dlq is not None:
                by_offset = {offset_of(m): m for m in msgs}
                for d in chunk.dead:
                    self.dlq.publish(by_offset[d.offset], reason=d.reason, message=d.message,
                                     fingerprint=d.fingerprint)
                self.dlq.flush()
                log.warning("%d message(s) of partition %d sent to %s", len(chunk.dead), chunk.partition,
                            self.dlq.topic)
            chunks.append(chunk)
        return chunks

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
            self.whole.discard(prepared.partition)
        unknown = sorted({run for _, run, _ in runs if run not in owners})
        if unknown and prepared.partition not in self.whole:
            owners.update(self.sink.first_experiments(prepared.partition, unknown, prepared.first,
                                                      table=self.tables.physical(POSITION_TABLE)))
        wrong = misfiled(runs, owners)
        if wrong:
            dead_letter(prepared, wrong)
        return prepared

    def apply(self, prepared: PreparedChunk) -> BatchResult:
        """Insert one prepared chunk (see `apply_all`)."""
        return self.apply_all([prepared])

    def apply_all(self, chunks: list[PreparedChunk]) -> BatchResult:
        """Insert prepared chunks of different partitions, one insert per table for all of them: duplicates
        found against the events table become Duplicate rows, each table skips the offsets it already holds
        (per partition), and the events table is written last.

        With a `side` sink (a second ClickHouse client), the metrics table and what derives from it are
        inserted on it while this thread inserts the other tables: each statement of a small table costs
        10-100 ms whatever its size, and the two never depend on each other. The events table still waits
        for both."""
        duplicates = self._duplicate_offsets(chunks)
        token = f"{self.token_prefix}:" + ",".join(f"{c.partition}:{c.first}-{c.last}" for c in chunks)
        indexes = range(len(self.tables.projections))
        last = [i for i in indexes if self.tables.projections[i].table == POSITION_TABLE]
        beside = [i for i in indexes if self.tables.projections[i].table in SIDE_TABLES] if self.side else []
        rest = [i for i in indexes if i not in last and i not in beside]
        if beside and self.side is not None:
            if self._side_thread is None:
                self._side_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runstream-side-inserts")
            side = self._side_thread.submit(self._apply_tables, chunks, duplicates, token, beside, self.side)
            try:
                self._apply_tables(chunks, duplicates, token, rest, self.sink)
            finally:
                side.result()  # never leave it running: its error (or ours) is raised before the events table
        else:
            self._apply_tables(chunks, duplicates, token, rest, self.sink)
        self._apply_tables(chunks, duplicates, token, last, self.sink)
        for derived in self.tables.derived:  # derived tables whose source is a live table we do not write
            if derived.source not in self._projection_names and not self.defer_derived:
                for chunk in chunks:
                    self.derive(derived, chunk.partition, chunk.last)
        total = BatchResult()
        for chunk, dups in zip(chunks, duplicates, strict=True):
            good = [e for e in chunk.events if e.offset not in dups]
            total.add(BatchResult(len(good), sum(e.points for e in good), len(chunk.dead), len(dups)))
        return total

    def close_side(self) -> None:
        """Stop using the side sink and end its thread (the projector's client behind it is closed by its owner)."""
        self.side = None
        if self._side_thread is not None:
            self._side_thread.shutdown(wait=True)
            self._side_thread = None

    def _apply_tables(self, chunks: list[PreparedChunk], duplicates: list[set[int]], token: str,
                      indexes: list[int], sink: ClickHouseSink) -> None:
        """Insert the chunks' blocks of these projections (in order) through `sink`, each followed by the
        tables derived from it."""
        for i in indexes:
            projection = self.tables.projections[i]
            parts = []
            for chunk, dups in zip(chunks, duplicates, strict=True):
                block, done = chunk.blocks[i], self.positions[projection.table].get(chunk.partition, -1)
                if dups or done >= chunk.first:
                    block = without(block, dups, done)
                if projection.table == POSITION_TABLE:
                    for offset in sorted(dups):  # at the duplicate's own event time: a replay writes the same row
                        if offset > done:
                            block.append(*chunk.duplicate_rows[offset])
                parts.append((chunk, done, block))
            inserted = merged([block for _, _, block in parts])
            try:
                self._insert(projection.table, inserted, token, sink)
            finally:  # also after a failed insert: its rows may have landed
                if self.on_written is not None and len(inserted):
                    self.on_written(projection.table, inserted)
            for chunk, done, _ in parts:
                # A table may already be ahead of this batch (killed between inserts): never move it back.
                self.positions[projection.table][chunk.partition] = max(done, chunk.last)
            for derived in self.tables.derived:
                if derived.source == projection.table:
                    self._follow(derived, parts, inserted, token, sink)

    def _insert(self, table: str, block: Block, token: str, sink: ClickHouseSink | None = None) -> None:
        if len(block):
            block.table = self.tables.physical(table)
            began = time.perf_counter()
            (sink or self.sink).insert(block, token=token)
            if self.stats is not None:
                self.stats.insert_latency.labels(table).observe(time.perf_counter() - began)

    def _duplicate_offsets(self, chunks: list[PreparedChunk]) -> list[set[int]]:
        """Per chunk, the offsets of events whose event_id was already projected in its partition (a re-sent
        spool, a retried send): they count once. Earlier offsets are known from memory for a partition seen whole,
        else asked of the events table, for every such partition in one query; each chunk is then checked in
        order."""
        if not self.tables.projections:
            return [set() for _ in chunks]
        for partition in {c.partition for c in chunks} & self.whole:
            if len(self.event_ids[partition]) > MAX_REMEMBERED_EVENT_IDS:
                self.whole.discard(partition)
                self.event_ids.pop(partition)
        asked = [c for c in chunks if c.events and c.partition not in self.whole]
        earlier = self.sink.seen_event_ids(
            {c.partition: c.events[0].offset for c in asked}, sorted({e.run_id for c in asked for e in c.events}),
            [e.event_id for c in asked for e in c.events], table=self.tables.physical(POSITION_TABLE),
        ) if asked else {}
        out = []
        for chunk in chunks:
            seen = self.event_ids[chunk.partition] if chunk.partition in self.whole else \
                earlier.get(chunk.partition, set())
            duplicates = set()
            for offset, event_id, *_ in chunk.events:
                if event_id in seen:
                    duplicates.add(offset)
                else:
                    seen.add(event_id)
            out.append(duplicates)
        return out

    def _follow(self, derived: Derived, parts: list[tuple[PreparedChunk, int, Block]], inserted: Block,
                token: str, sink: ClickHouseSink | None = None) -> None:
        """Bring a derived table up to each chunk's last offset after its source received `inserted`, the chunks'
        blocks (each with the rows past the source's position then). Where the derived table stood where its
        source did, its rows come from the block in memory; otherwise (a crash between the two) the SQL reads
        the source."""
        in_step = []
        advanced: dict[int, int] = {}
        for chunk, source_done, block in parts:
            done = self.positions[derived.table].get(chunk.partition, -1)
            if derived.from_block is None or done != source_done:
                if not self.defer_derived:
                    self.derive(derived, chunk.partition, chunk.last, sink)
                continue
            in_step.append(block)
            advanced[chunk.partition] = max(done, chunk.last)
        if derived.from_block is not None and in_step:
            source = inserted if len(in_step) == len(parts) else merged(in_step)
            rows = derived.from_block(source)
            if not self.defer_derived:
                # Inserted before the position moves: readers take event_offsets' position in memory as "projected"
                # (runner.projected) and then read the table, which must hold it by then.
                self._insert(derived.table, rows, token, sink)
                self.positions[derived.table].update(advanced)
                return
            self.positions[derived.table].update(advanced)
            # A replay keeps them for one insert at the end (each insert of a few rows costs 25-40 ms), or sooner
            # when many are waiting.
            self.pending.setdefault(derived.table, []).append(rows)
            if sum(len(b) for b in self.pending[derived.table]) > MAX_PENDING_DERIVED_ROWS:
                self._flush_pending(derived)

    def derive(self, derived: Derived, partition: int, upto: int, sink: ClickHouseSink | None = None) -> None:
        """Bring a derived table of a partition up to offset `upto` of its source."""
        done = self.positions[derived.table].get(partition, -1)
        if done < upto:
            began = time.perf_counter()
            log.debug("deriving %s for partition %d, offsets %d..%d", derived.table, partition, done + 1, upto)
            (sink or self.sink).derive(derived, partition, done, upto, target=self.tables.physical(derived.table),
                             source=self.tables.physical(derived.source))
            if self.stats is not None:
                self.stats.insert_latency.labels(derived.table).observe(time.perf_counter() - began)
            self.positions[derived.table][partition] = upto


class OverlappedWriter:
    """Runs a BatchWriter's inserts on one background thread while the caller decodes the next group (the live
    projector: decoding is Python, ClickHouse's insert releases the GIL, and the two used to take turns).

    At most one group is applied at a time, in submission order, so every table receives its blocks in offset
    order and the events table of a group is still written after every other table of that group. Each group
    is decoded (pure) while the previous one is applied; it is screened only once that one is done if screening
    has to ask ClickHouse (a partition not seen whole), so every query reads what was written before it. The
    writer's positions move on the worker as each insert returns, as before. An insert's error is raised by the
    next `submit` or `drain`, before anything else is applied."""

    def __init__(self, writer: BatchWriter) -> None:
        self.writer = writer
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runstream-projector-inserts")
        self._inflight: Future[None] | None = None

    def submit(self, batches: dict[int, list[Message]], then: Callable[[BatchResult], None]) -> None:
        """Apply consumed messages (as `BatchWriter.write_all` does); `then(result)` runs on the worker once
        every group of them is written."""
        total = BatchResult()
        groups = list(self.writer._groups(batches))
        for i, group in enumerate(groups):
            prepared = [self.writer._prepared(partition, msgs) for partition, msgs in group]
            if any(chunk.partition not in self.writer.whole for chunk, _ in prepared):
                self.drain()  # screening reads the events table: what is in flight must be there
            chunks = self.writer._screened(prepared)
            self.drain()
            last = i == len(groups) - 1
            self._inflight = self._executor.submit(self._apply, chunks, total, then if last else None)

    def _apply(self, chunks: list[PreparedChunk], total: BatchResult,
               then: Callable[[BatchResult], None] | None) -> None:
        total.add(self.writer.apply_all(chunks))
        if then is not None:
            then(total)

    def drain(self) -> None:
        """Wait until everything submitted is written; raise the error of a failed insert."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            inflight.result()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._executor.shutdown(wait=True)
