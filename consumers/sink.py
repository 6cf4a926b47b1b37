"""The only part of the projector that talks to ClickHouse."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
from clickhouse_connect.datatypes.base import ClickHouseType
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from consumers.chunks import merged
from consumers.derived import Derived
from consumers.errors import SinkError
from consumers.pointsums import PointSums
from consumers.projections import Block
from consumers.projections.metrics import MetricBlock
from consumers.projections.summary import SummaryBlock

log = logging.getLogger("runstream.projector")

HOLD_ROWS = 100_000  # rows of a small table a PipelinedSink keeps before inserting them in one block

INSERT_SETTINGS = {
    "async_insert": 0,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    # Rows are unique by construction (coordinates + point index), so merging a block's rows by sorting key on
    # insert only costs time: 25% of a metrics insert. Background merges and FINAL still apply the engines.
    "optimize_on_insert": 0,
}
# A small block (not metrics, under SMALL_BLOCK_ROWS: the live projector's few to few hundred rows per table) is
# inserted by the calling thread alone: handing it to a second pipeline thread cost up to ~1.3 of ~6-8 ms of CPU
# per statement (benchmarks/small_insert.py: lower in 28 of 36 rounds). Metric blocks and replays (PipelinedSink)
# keep ClickHouse's threads.
SMALL_BLOCK_SETTINGS = {"max_threads": 1, "max_insert_threads": 1}
SMALL_BLOCK_ROWS = 10_000


def embedded(client: Client) -> bool:
    """Whether the client runs ClickHouse in this process (chdb), where an insert's data goes through a file."""
    return type(client).__name__ == "ChdbClient"


def insert_arrow(client: Client, table: str, arrow: pa.Table, settings: dict[str, object]) -> None:
    """`client.insert_arrow`, without its copy of the whole Arrow stream into a Python bytes object when
    ClickHouse is embedded: clickhouse-connect's chdb backend writes `buffer.to_pybytes()` to a temporary file, a
    copy of ~28 MB per 1M points made holding the GIL; a memoryview of the buffer is written as it is. Over HTTP
    clickhouse-connect's own path (and its compression) is kept."""
    if not embedded(client):
        client.insert_arrow(table, arrow, settings=settings)
        return
    stream = pa.BufferOutputStream()
    with pa.RecordBatchFileWriter(stream, arrow.schema) as writer:  # what clickhouse-connect's arrow_buffer writes
        writer.write(arrow)
    block: Any = memoryview(stream.getvalue())  # chdb's backend writes any bytes-like to its file as it is
    client.raw_insert(quote_identifier(table), arrow.schema.names, block, settings=settings, fmt="Arrow")


def plain_type(kind: str) -> str:
    """`LowCardinality(T)` is sent as `T`; other types as they are."""
    if kind.startswith("LowCardinality(") and kind.endswith(")"):
        return kind[len("LowCardinality("):-1]
    return kind


class ClickHouseSink:
    """Inserts one block per table and partition batch, idempotently, with bounded retries."""

    def __init__(self, client: Client, *, retries: int = 5, max_backoff_s: float = 10.0,
                 sort_metrics: bool = True, one_thread_small_blocks: bool = True) -> None:
        self._client = client
        self.one_thread_small_blocks = one_thread_small_blocks
        """Insert small blocks with `SMALL_BLOCK_SETTINGS` (the live projector); a replay's sink keeps ClickHouse's
        threads (measured there: rebuild CPU not lower, smallins-20261203e.md)."""
        self._retries = retries
        self._max_backoff_s = max_backoff_s
        self.sort_metrics = sort_metrics
        """Send metric points in the table's sorting-key order (ClickHouse then skips its sort; the summary's rows
        are made from the same sorted points); off for a table that does not sort (verify's Null tables), whose
        writer marks its blocks so (`MetricBlock.sorted_insert`)."""
        self._types: dict[str, dict[str, ClickHouseType]] = {}

    def column_types(self, table: str, columns: tuple[str, ...]) -> list[ClickHouseType]:
        """The types to send `columns` of `table` as, read once per table. LowCardinality columns are sent
        as their plain type (ClickHouse converts on insert): building the dictionary in Python cost 3x more."""
        known = self._types.get(table)
        if known is None:
            rows = self._client.query(
                "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
                parameters={"t": table},
            ).result_rows
            known = {str(name): get_from_name(plain_type(str(kind))) for name, kind in rows}
            self._types[table] = known
        return [known[c] for c in columns]

    def forget_types(self) -> None:
        """Tables were swapped or altered: read their column types again."""
        self._types.clear()

    def positions(self, table: str, partitions: list[int]) -> dict[int, int]:
        """The highest Kafka offset each partition has in `table` (table is a projection name from code)."""
        result = self._client.query(
            f"SELECT kafka_partition, max(kafka_offset) FROM `{table}` "
            "WHERE kafka_partition IN {partitions:Array(UInt32)} GROUP BY kafka_partition",
            parameters={"partitions": partitions},
        )
        return {int(p): int(o) for p, o in result.result_rows}

    def positions_of(self, tables: list[str], partitions: list[int]) -> dict[str, dict[int, int]]:
        """`positions` of several tables in one statement (each statement costs ~2-4 ms however small)."""
        if not tables:
            return {}
        result = self._client.query(" UNION ALL ".join(
            f"SELECT {i} AS t, kafka_partition AS p, toUInt64(max(kafka_offset)) AS o FROM `{table}` "
            "WHERE kafka_partition IN {partitions:Array(UInt32)} GROUP BY kafka_partition"
            for i, table in enumerate(tables)), parameters={"partitions": partitions})
        out: dict[str, dict[int, int]] = {table: {} for table in tables}
        for i, p, o in result.result_rows:
            out[tables[int(i)]][int(p)] = int(o)
        return out

    def seen_event_ids(self, before: dict[int, int], run_ids: list[str], event_ids: list[str], *,
                       table: str = "events") -> dict[int, set[str]]:
        """Which of these event ids the events table already holds, per partition, from offsets of that
        partition before `before[partition]` (one query for every partition)."""
        partitions = list(before)
        rows = self._client.query(
            f"SELECT DISTINCT kafka_partition, toString(event_id) FROM `{table}` "
            "WHERE run_id IN {runs:Array(String)} AND event_id IN {ids:Array(UUID)} "
            "AND kafka_partition IN {partitions:Array(UInt32)} "
            "AND kafka_offset < {before:Array(UInt64)}[indexOf({partitions:Array(UInt32)}, kafka_partition)] "
            "AND event_type NOT IN ('DeadLetter', 'Duplicate')",
            parameters={"runs": run_ids, "ids": event_ids, "partitions": partitions,
                        "before": [before[p] for p in partitions]},
        ).result_rows
        out: dict[int, set[str]] = {}
        for partition, event_id in rows:
            out.setdefault(int(partition), set()).add(event_id)
        return out

    def first_experiments(self, partition: int, run_ids: list[str], before: int, *,
                          table: str = "events") -> dict[str, str]:
        """The experiment of each run's first event before offset `before` of the partition (runs without one
        are left out)."""
        rows = self._client.query(
            f"SELECT run_id, argMin(experiment_id, kafka_offset) FROM `{table}` WHERE run_id IN {{runs:Array(String)}} "
            "AND kafka_partition = {p:UInt32} AND kafka_offset < {before:UInt64} "
            "AND event_type NOT IN ('DeadLetter', 'Duplicate') GROUP BY run_id",
            parameters={"runs": run_ids, "p": partition, "before": before},
        ).result_rows
        return {str(run): str(experiment) for run, experiment in rows}

    def derive(self, derived: Derived, partition: int, after: int, upto: int, *, target: str | None = None,
               source: str | None = None) -> None:
        """Fill a derived table for offsets (after, upto] of a partition. A retry first asks ClickHouse how far
        the table got, so an INSERT that landed but whose answer was lost is never applied twice."""
        bind = {"partition": partition, "after": after, "upto": upto}
        target = target or derived.table
        sql = derived.sql(target, source)
        try:
            for attempt in self._retrying():
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        bind["after"] = self.positions(target, [partition]).get(partition, -1)
                        if bind["after"] >= upto:
                            return
                    self._client.command(sql, parameters=bind, settings=INSERT_SETTINGS)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise SinkError(f"deriving {target} failed {self._retries + 1} times: {cause}") from cause

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(ClickHouseError),
            stop=stop_after_attempt(self._retries + 1),
            wait=wait_exponential(multiplier=0.2, max=self._max_backoff_s),
            reraise=False,
        )

    def insert(self, block: Block, *, token: str) -> None:
        """Insert the block; a retry with the same token is deduplicated by ClickHouse."""
        small = SMALL_BLOCK_SETTINGS if (self.one_thread_small_blocks and len(block) < SMALL_BLOCK_ROWS
                                         and not isinstance(block, MetricBlock)) else {}
        settings = {**INSERT_SETTINGS, **small, "insert_deduplication_token": token}
        arrow = block.to_arrow() if isinstance(block, SummaryBlock) else None
        if isinstance(block, MetricBlock):  # sorted here (the inserting thread) unless the summary did it first
            if block.chunked:
                arrow = block.to_chunk_arrow()
            else:
                arrow = block.to_arrow_in_key_order() if self.sort_metrics and block.sorted_insert else block.to_arrow()
        try:
            for attempt in self._retrying():
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        log.warning("retrying insert into %s (attempt %d)", block.table,
                                    attempt.retry_state.attempt_number)
                    if arrow is not None:  # Arrow: no Python object per point
                        insert_arrow(self._client, block.table, arrow, settings)
                    else:
                        self._client.insert(block.table, block.data, column_names=block.columns,
                                            column_types=self.column_types(block.table, block.columns),
                                            column_oriented=True, settings=settings)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise SinkError(f"insert into {block.table} failed {self._retries + 1} times: {cause}") from cause


class PipelinedSink(ClickHouseSink):
    """A sink whose inserts run in order on one background thread while the caller decodes the next chunk
    (ClickHouse releases the GIL while it works). Every query first waits for the queued inserts, so what a
    caller reads is what it wrote. For replays, where a failure abandons the whole job: an insert's error is
    raised by the next call.

    Blocks of the small tables (every table but metrics) are held and inserted together once `hold_rows` rows of
    a table wait, or at the next flush or query: each insert costs 10-40 ms whatever its size, and a replay's
    group of partitions has ~5 of them (1.8 s of 4.9 s for 5M points)."""

    def __init__(self, client: Client, *, retries: int = 5, depth: int = 16, hold_rows: int = HOLD_ROWS,
                 more_clients: Sequence[Client] = (), sort_metrics: bool = True,
                 point_sums: Mapping[str, PointSums] | None = None) -> None:
        super().__init__(client, retries=retries, sort_metrics=sort_metrics, one_thread_small_blocks=False)
        self.point_sums = dict(point_sums or {})
        """Tables whose metric blocks are checksummed here (numpy, on the workers) instead of inserted: verify's."""
        self._queue: queue.Queue[tuple[Block, str] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._failed = threading.Lock()
        self._hold_rows = hold_rows
        self._held: dict[str, list[tuple[Block, str]]] = {}
        self.inserts = 0  # handed to the workers so far (each writes a part)
        # One worker per client (a client runs one statement at a time): with more than one, the metrics insert
        # of a group overlaps the next group's, in no particular order, which a replay never depends on.
        sinks: list[ClickHouseSink] = [self, *(ClickHouseSink(c, retries=retries, sort_metrics=sort_metrics,
                                                              one_thread_small_blocks=False) for c in more_clients)]
        self._threads = [threading.Thread(target=self._work, args=(sink,), name=f"runstream-inserts-{i}", daemon=True)
                         for i, sink in enumerate(sinks)]
        for thread in self._threads:
            thread.start()

    def _work(self, sink: ClickHouseSink) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:
                    block, token = item
                    sums = self.point_sums.get(block.table) if isinstance(block, MetricBlock) else None
                    if sums is not None:
                        sums.add(block)  # type: ignore[arg-type]
                    else:
                        ClickHouseSink.insert(sink, block, token=token)
            except BaseException as exc:  # kept and raised on the caller's thread; later inserts are dropped
                with self._failed:
                    self._error = self._error or exc
            finally:
                self._queue.task_done()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def insert(self, block: Block, *, token: str) -> None:
        self._check()
        if isinstance(block, MetricBlock) and block.table in self.point_sums:
            self._queue.put((block, token))  # summed on a worker, not inserted: no part
            return
        if isinstance(block, MetricBlock) or not self._hold_rows:
            self._put(block, token)
            return
        held = self._held.setdefault(block.table, [])
        held.append((block, token))
        if sum(len(b) for b, _ in held) >= self._hold_rows:
            self._release(block.table)

    def _release(self, table: str) -> None:
        held = self._held.pop(table, [])
        if len(held) == 1:
            self._put(*held[0])
        elif held:  # a token of its own: a retry of this insert is deduplicated, another insert never
            token = hashlib.sha256("\n".join(t for _, t in held).encode()).hexdigest()
            self._put(merged([b for b, _ in held]), f"{table}:{len(held)}:{token}")

    def _put(self, block: Block, token: str) -> None:
        self.inserts += 1
        self._queue.put((block, token))

    def flush(self) -> None:
        for table in list(self._held):
            self._release(table)
        self._queue.join()
        self._check()

    def positions(self, table: str, partitions: list[int]) -> dict[int, int]:
        self.flush()
        return super().positions(table, partitions)

    def positions_of(self, tables: list[str], partitions: list[int]) -> dict[str, dict[int, int]]:
        self.flush()
        return super().positions_of(tables, partitions)

    def seen_event_ids(self, before: dict[int, int], run_ids: list[str], event_ids: list[str], *,
                       table: str = "events") -> dict[int, set[str]]:
        self.flush()
        return super().seen_event_ids(before, run_ids, event_ids, table=table)

    def first_experiments(self, partition: int, run_ids: list[str], before: int, *,
                          table: str = "events") -> dict[str, str]:
        self.flush()
        return super().first_experiments(partition, run_ids, before, table=table)

    def derive(self, derived: Derived, partition: int, after: int, upto: int, *, target: str | None = None,
               source: str | None = None) -> None:
        self.flush()
        super().derive(derived, partition, after, upto, target=target, source=source)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
