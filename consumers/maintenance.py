"""Rebuild and verify: replay the log into shadow tables, then swap them in or compare them with the live ones.

Both follow the same steps:
1. create empty shadow tables shaped like the live ones (`CREATE TABLE x__rebuild AS x`);
2. replay the topic from offset 0 through the projector's BatchWriter into them, catching up with the live
   projection's position (never passing it) until the remaining lag is small;
3. pause the live projection between two batches, replay the last few events up to its position, then
   swap every shadow table in with EXCHANGE TABLES (rebuild) or compare per-run checksums (verify);
4. resume, drop what is left over.

Verify does not store the replay of a large table it need not read back (`streamed_tables`: metrics, in
practice): its scratch table is a Null table (it keeps nothing) with a materialized view summing each inserted
block's per-run checksums, so those rows are hashed once as they are inserted, never sorted, compressed, written
and read again; only the live side is read at the end. The metric points (metric_chunks, whatever its rows) are
not even inserted: its blocks are checksummed with numpy from the points the summary sorted, with a row hash the
live side computes in SQL (`consumers.pointsums`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol, TypeVar

from clickhouse_connect.driver.client import Client
from confluent_kafka.admin import AdminClient

from consumers import pointsums
from consumers.clickhouse import open_client
from consumers.derived import DERIVED, Derived
from consumers.projections import POSITION_TABLE, PROJECTIONS, Projection
from consumers.projections.metrics import CHUNK_TABLE
from consumers.replay import Replay, ReplayError
from consumers.settings import ProjectorSettings
from consumers.sink import ClickHouseSink
from consumers.writer import Tables

log = logging.getLogger("runstream.maintenance")
T = TypeVar("T")

Kind = Literal["rebuild", "verify"]
SUFFIX: dict[Kind, str] = {"rebuild": "__rebuild", "verify": "__verify"}
VOLATILE_COLUMNS = frozenset({"projected_at"})  # when a row was written, not what it says
ALIASES = {"metrics": CHUNK_TABLE}  # the view readers know, for the table behind it
SUMS = "__sums"  # a streamed scratch table's per-run checksums (and `SUMS + "_mv"`, the view filling them)
# Verify streams a table holding at least this many live rows: a streamed table costs three statements to create
# and two to drop, a stored one a statement each plus reading it back, which pays only for large tables.
STREAM_MIN_ROWS = 100_000
CATCH_UP_LAG = 5_000  # messages: below this lag the live projection is paused for the last stretch
CATCH_UP_ROUNDS = 50
DDL_WORKERS = 3  # clients creating and dropping a job's tables side by side (24 tables: 0.23 -> 0.09 s)
FOREIGN_MEMBER_WAIT_S = 20.0  # a killed projector leaves the group when its session times out (10 s, projector.py)


# -- pure parts -----------------------------------------------------------------------------------------
def select_tables(only: Sequence[str] | None, projections: Sequence[Projection] = PROJECTIONS,
                  derived: Sequence[Derived] = DERIVED) -> Tables:
    """The tables a rebuild or verify covers: all, or the named ones plus the tables derived from them."""
    known = [p.table for p in projections] + [d.table for d in derived]
    if not only:
        return Tables(tuple(projections), tuple(derived))
    only = [ALIASES.get(name, name) for name in only]
    unknown = [name for name in only if name not in known]
    if unknown:
        raise ValueError(f"unknown table(s) {', '.join(map(repr, unknown))}: choose among {', '.join(known)}")
    chosen = set(only)
    return Tables(
        tuple(p for p in projections if p.table in chosen),
        tuple(d for d in derived if d.table in chosen or d.source in chosen),
    )


def checksum_sql(table: str, columns: Sequence[tuple[str, str]], *, final: bool) -> str:
    """Per run: row count, an order-independent hash of every row (sum of row hashes, so a doubled row
    changes it, where XOR would cancel) and the total of the floating-point sums.

    `columns` are (name, type) as ClickHouse reports them for a table named in code. Aggregate states are
    finalized and read FINAL, because how they are split into parts depends on batch boundaries, not on
    what they say; sums of Float64 depend on the order of addition too, so they are totalled apart and
    compared with a relative tolerance (`compare`)."""
    names = [name for name, _ in columns]
    exact, approximate = [], []
    for name, kind in columns:
        if name in VOLATILE_COLUMNS:
            continue
        if kind.startswith("SimpleAggregateFunction(sum, Float"):
            approximate.append(f"sum(`{name}`)")
        elif kind.startswith("AggregateFunction"):
            exact.append(f"finalizeAggregation(`{name}`)")
        else:
            exact.append(f"`{name}`")
    key = "run_id" if "run_id" in names else "''"
    total = " + ".join(approximate) or "0"
    return (f"SELECT {key} AS run, count() AS rows, sum(cityHash64(tuple({', '.join(exact)}))) AS hash, "
            f"toFloat64({total}) AS total FROM `{table}`{' FINAL' if final else ''} GROUP BY run")


Checksum = tuple[int, int, float]  # rows, hash, total of float sums


def streamed_tables(tables: Tables, counts: dict[str, int], min_rows: int = STREAM_MIN_ROWS,
                    summable: Collection[str] = ()) -> list[str]:
    """The tables whose replayed rows verify checksums as they are inserted instead of storing them: projections
    with at least `min_rows` live rows (`counts`), or `summable` ones (checksummed with numpy, never inserted:
    free at any size), read without FINAL (the checksum of a set of blocks is the sum of theirs, whatever parts
    they end up in), except the events table, which the replay reads back (duplicate event ids, each run's first
    experiment), and a source whose derived table would be filled by SQL reading it (none today: both build their
    rows from the blocks in memory)."""
    by_sql = {d.source for d in tables.derived if d.from_block is None}
    return [p.table for p in tables.projections if (counts.get(p.table, 0) >= min_rows or p.table in summable)
            and not p.merged and p.table != POSITION_TABLE and p.table not in by_sql]


def streamed_sql(table: str, shadow: str, columns: Sequence[tuple[str, str]]) -> list[str]:
    """The statements making `shadow` a Null table shaped like `table` (whose `columns` they are): each block
    inserted leaves its per-run checksum (`checksum_sql` of the block) in `shadow + SUMS`, which deduplicates a
    retried insert by its token, as every table does."""
    return [
        f"CREATE TABLE `{shadow}` AS `{table}` ENGINE = Null",
        f"CREATE TABLE `{shadow}{SUMS}` (run String, rows UInt64, hash UInt64, total Float64) ENGINE = MergeTree "
        "ORDER BY run SETTINGS non_replicated_deduplication_window = 1000",
        f"CREATE MATERIALIZED VIEW `{shadow}{SUMS}_mv` TO `{shadow}{SUMS}` AS "
        f"{checksum_sql(shadow, columns, final=False)}",
    ]


def sums_sql(shadow: str) -> str:
    """A streamed table's checksums per run, in `checksum_sql`'s shape (sums of UInt64 wrap as theirs do)."""
    return (f"SELECT run, sum(rows) AS rows, sum(hash) AS hash, sum(total) AS total FROM `{shadow}{SUMS}` "
            "GROUP BY run")


def compare_sql(live: str, replayed: str) -> str:
    """Both sides' checksums in one statement (ClickHouse computes them side by side): (side, run, rows, hash,
    total), side 0 the live table."""
    return f"SELECT 0 AS side, * FROM ({live}) UNION ALL SELECT 1 AS side, * FROM ({replayed})"


@dataclass(frozen=True)
class Difference:
    table: str
    run_id: str
    live_rows: int
    replayed_rows: int

    @property
    def what(self) -> str:
        if self.live_rows == self.replayed_rows:
            return "same row count, different contents"
        return f"{self.live_rows} live row(s), {self.replayed_rows} replayed"


def compare(table: str, live: dict[str, Checksum], replayed: dict[str, Checksum],
            rel_tol: float = 1e-9) -> list[Difference]:
    """The runs whose checksums differ between the live table and the replay, in run order."""
    out = []
    for run in sorted(set(live) | set(replayed)):
        a, b = live.get(run, (0, 0, 0.0)), replayed.get(run, (0, 0, 0.0))
        same_total = math.isclose(a[2], b[2], rel_tol=rel_tol, abs_tol=rel_tol) or (
            math.isnan(a[2]) and math.isnan(b[2]))
        if a[:2] != b[:2] or not same_total:
            out.append(Difference(table, run, a[0], b[0]))
    return out


# -- status -----------------------------------------------------------------------------------------------
@dataclass
class JobStatus:
    kind: Kind
    tables: list[str]
    state: Literal["running", "done", "failed"] = "running"
    phase: str = "starting"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    events: int = 0
    points: int = 0
    events_per_s: float = 0.0
    points_per_s: float = 0.0
    lag: int | None = None
    paused_s: float | None = None
    counts_before: dict[str, int] = field(default_factory=dict)
    counts_after: dict[str, int] = field(default_factory=dict)
    differences: list[dict[str, object]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return out


class LiveProjection(Protocol):
    """The projector of this process, as maintenance sees it."""

    def owned_partitions(self) -> list[int] | None: ...
    def pause(self) -> AbstractContextManager[object]: ...
    def reload(self, partitions: list[int]) -> None: ...


# -- the job ----------------------------------------------------------------------------------------------
class MaintenanceJob:
    """One rebuild or verify. `run()` does the work on the calling thread; `status` may be read meanwhile."""

    def __init__(self, kind: Kind, settings: ProjectorSettings, client: Client, *, only: Sequence[str] | None = None,
                 live: LiveProjection | None = None, projections: Sequence[Projection] = PROJECTIONS,
                 derived: Sequence[Derived] = DERIVED, catch_up_lag: int = CATCH_UP_LAG,
                 stream_rows: int = STREAM_MIN_ROWS) -> None:
        self.kind = kind
        self.settings = settings
        self.client = client
        self.live = live
        self.catch_up_lag = catch_up_lag
        base = select_tables(only, projections, derived)
        self.tables = Tables(base.projections, base.derived, SUFFIX[kind])
        self.stream_rows = stream_rows
        self.streamed: list[str] = []  # verify's tables summed as they are inserted (chosen by their live rows)
        self.summed: list[str] = []  # of those, metrics tables checksummed with numpy, never inserted (pointsums)
        self.status = JobStatus(kind, self.tables.names)
        self.cancel = threading.Event()
        self._replay: Replay | None = None
        self._sink = ClickHouseSink(client, retries=settings.insert_retries)
        self._ddl_clients: dict[int, Client] = {}  # `_on_clients`' other clients, opened once a job (~30 ms each)
        self._columns_of: dict[str, list[tuple[str, str]]] = {}  # the live tables' columns, read as the job starts

    # progress, read by other threads
    def refresh(self) -> JobStatus:
        replay = self._replay
        if replay is not None:
            c = replay.counters
            self.status.events, self.status.points = c.events, c.points
            self.status.events_per_s, self.status.points_per_s = round(c.events_per_s, 1), round(c.points_per_s, 1)
        return self.status

    def run(self) -> JobStatus:
        shadows = [self.tables.physical(t) for t in self.tables.names]
        aside = ThreadPoolExecutor(max_workers=DDL_WORKERS, thread_name_prefix="runstream-job")
        ddl: Future[None] | None = None
        try:
            # Asking Kafka about the group is waiting, not work: the queries below run meanwhile
            members = aside.submit(self._check_no_foreign_projector)
            # and the DDL's other clients are opened (~30-90 ms each, most of it Python reading the settings)
            opened = [aside.submit(self._ddl_client, i) for i in range(1, DDL_WORKERS)]
            counts = self._counts(self.tables.names)
            columns = self._columns()
            sums = [f"{self.tables.physical(t)}{SUMS}{tail}" for t in self.tables.names for tail in ("_mv", "")] \
                if self.kind == "verify" else []
            leftovers = {str(name) for name, in self.client.query(  # of a job that stopped half way: dropped first
                "SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)}",
                parameters={"names": shadows + sums}).result_rows}  # (one statement, not a DROP for each name)
            members.result()
            for each in opened:
                each.result()
            self.status.counts_before = counts
            self._phase("creating shadow tables")
            if self.kind == "verify":
                # metric_chunks holds a row per event and key (5M points: ~35,000 rows), so it is summed whatever
                # its rows: stored, its every point was inserted, sorted and read back (verify7-20261204.md)
                summable = [t for t in self.tables.names if t == CHUNK_TABLE and pointsums.matches(columns[t])]
                self.streamed = streamed_tables(self.tables, self.status.counts_before, self.stream_rows, summable)
                self.summed = [t for t in self.streamed if t in summable]
                streamed = {f"{self.tables.physical(t)}{SUMS}{tail}" for t in self.streamed if t not in self.summed
                            for tail in ("_mv", "")}
                shadows = [name for name in sums if name in streamed | leftovers] + shadows
            # The shadows are created (~10 ms of chdb a statement) while the replay opens its consumer and client
            # (Kafka's waits). Not while the replay decodes: the DDL threads and the decoding thread took turns at the
            # GIL, slowing both (verify9). Nothing here uses this job's client until the DDL is done.
            ddl = aside.submit(self._side_by_side, [
                [f"DROP TABLE IF EXISTS `{name}`" for name in names if name in leftovers]
                + self._create_sql(table, columns) for table, names in self._shadows_by_table(shadows).items()])
            self._columns_of = columns
            # A streamed (Null) table does not sort; a summed one keeps the key-ordered path: its summary sorts
            # chunks, not points (`_chunk_ordered`), and its point sums read those sorted columns
            self._replay = Replay(self.settings, self.client, self.tables,
                                  sort_metrics=CHUNK_TABLE not in self.streamed or CHUNK_TABLE in self.summed,
                                  point_sums=[self.tables.physical(t) for t in self.summed])
            self._replay.pause_merges(stopped=True)  # by `_create_sql`
            self._replay.start(empty=True)  # every shadow is created empty (leftovers dropped first)
            ddl.result()
            self._phase("replaying")
            for _ in range(CATCH_UP_ROUNDS):
                targets = self._live_positions()
                self._replay.run_until(targets, self.cancel)
                self.status.lag = self._replay.lag(self._live_positions())
                if self.status.lag <= self.catch_up_lag:
                    break
                self._phase("catching up")
            self._phase("pausing the projection")
            with self._paused() as began:
                targets = self._live_positions()
                self._replay.run_until(targets, self.cancel)
                self.status.lag = 0
                if self.kind == "rebuild":
                    self._phase("swapping tables")
                    for table in self.tables.names:
                        self.client.command(f"EXCHANGE TABLES `{table}` AND `{self.tables.physical(table)}`")
                    for table in self.tables.names:  # the replayed parts, live now, merge from here on
                        self.client.command(f"SYSTEM START MERGES `{table}`")
                    if self.live is not None:
                        self.live.reload(self._replay.partitions)
                else:
                    self._phase("comparing checksums")
                    self.status.differences = [asdict(d) | {"what": d.what} for d in self._differences()]
                self.status.paused_s = round(time.monotonic() - began, 3)
            self._phase("dropping shadow tables")
            self.status.counts_after = self._drop(shadows, wait=False, count=self.tables.names)
            self.refresh()
            self.status.state = "done"
            self._phase("done")
        except BaseException as exc:
            self.refresh()
            self.status.state = "failed"
            self.status.error = str(exc) or type(exc).__name__
            log.exception("%s failed", self.kind)
            # the shadows are dropped once they were all made (or failed to be), on clients no longer being opened
            aside.shutdown(wait=True)
            with contextlib.suppress(Exception):
                self._drop(shadows)
            if self.kind == "rebuild":  # a swap that stopped half way left replayed tables live
                with contextlib.suppress(Exception):
                    for table in self.tables.names:
                        self.client.command(f"SYSTEM START MERGES `{table}`")
            if not isinstance(exc, Exception):
                raise
        finally:
            aside.shutdown(wait=True)
            self.status.finished_at = datetime.now(UTC)
            if self._replay is not None:
                self._replay.close()
            self._close_clients()
        return self.status

    # -- steps ----------------------------------------------------------------------------------------------
    def _phase(self, phase: str) -> None:
        self.refresh()
        self.status.phase = phase
        log.info("%s: %s (%d events, %.0f points/s)", self.kind, phase, self.status.events, self.status.points_per_s)

    def _partitions(self) -> list[int]:
        return self._replay.partitions if self._replay is not None else []

    def _live_positions(self) -> dict[int, int]:
        """How far the live projection got, per partition: the position of the live events table."""
        found = self._sink.positions(POSITION_TABLE, self._partitions())
        return {p: found.get(p, -1) for p in self._partitions()}

    @contextlib.contextmanager
    def _paused(self) -> Iterator[float]:
        if self.live is None:
            yield time.monotonic()
            return
        owned = self.live.owned_partitions()
        missing = sorted(set(self._partitions()) - set(owned or []))
        if missing:
            raise ReplayError(f"partitions {missing} are not projected by this process (another projector holds "
                              "them, or assignment is not done): stop the other projectors and retry")
        with self.live.pause():
            yield time.monotonic()

    def _check_no_foreign_projector(self) -> None:
        """Refuse to work under a projector we cannot pause: a member of the group that is not ours. A projector
        that was killed stays a member until its session times out, so wait that long before refusing."""
        ours = 1 if self.live is not None else 0
        deadline = time.monotonic() + FOREIGN_MEMBER_WAIT_S
        members = self._group_members()
        while members > ours and time.monotonic() < deadline and not self.cancel.is_set():
            self._phase("waiting for other members of the consumer group to leave")
            time.sleep(1)
            members = self._group_members()
        if members > ours:
            raise ReplayError(f"consumer group {self.settings.consumer_group!r} has {members} member(s) and this "
                              f"process can pause {ours}: stop the other projectors (or run this through the "
                              "server that hosts the projector) and retry")

    def _group_members(self) -> int:
        admin = AdminClient({"bootstrap.servers": self.settings.kafka_bootstrap_servers})
        try:
            futures = admin.describe_consumer_groups([self.settings.consumer_group], request_timeout=30)
            description = futures[self.settings.consumer_group].result(timeout=30)
        except Exception as exc:  # an unknown group is fine: nobody projects
            log.debug("consumer group not described: %s", exc)
            return 0
        return len(description.members or [])

    def _counts(self, tables: Sequence[str], client: Client | None = None) -> dict[str, int]:
        """Rows per table, in one statement; derived (aggregating) tables counted FINAL, since their row count
        before merges depends on how many inserts made them, which a replay does not repeat."""
        derived = {d.table for d in self.tables.derived} | {p.table for p in self.tables.projections if p.merged}
        if not tables:
            return {}
        sql = " UNION ALL ".join(f"SELECT {i} AS i, count() AS n FROM `{t}`{' FINAL' if t in derived else ''}"
                                 for i, t in enumerate(tables))
        found = {int(i): int(n) for i, n in (client or self.client).query(sql).result_rows}
        return {t: found[i] for i, t in enumerate(tables)}

    def _columns(self) -> dict[str, list[tuple[str, str]]]:
        """(name, type) of every live table's columns, in order, in one query."""
        out: dict[str, list[tuple[str, str]]] = {t: [] for t in self.tables.names}
        for table, name, kind in self.client.query(
                "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() "
                "AND table IN {tables:Array(String)} ORDER BY table, position",
                parameters={"tables": self.tables.names}).result_rows:
            out[str(table)].append((str(name), str(kind)))
        return out

    def _differences(self) -> list[Difference]:
        """Per table, one statement reading the live table's checksums beside the replay's (a streamed table's
        were summed while it was written, a numpy-summed table's as its blocks were made), tables side by side on
        DDL_WORKERS clients, the longest first. A stored table empty on both sides (no row in any active part, as
        the catalogue says: a table whose rows were all deleted lightly is checksummed) is equal without a checksum
        (a statement costs ~10-30 ms however small its table)."""
        derived = {d.table for d in self.tables.derived} | {p.table for p in self.tables.projections if p.merged}
        columns = self._columns_of or self._columns()
        stored = [t for t in self.tables.names if t not in self.streamed]
        rows = {str(name): n for name, n in self.client.query(  # the catalogue's rows of active parts: no table read
            "SELECT name, total_rows FROM system.tables WHERE database = currentDatabase() "
            "AND name IN {names:Array(String)}",
            parameters={"names": [*stored, *(self.tables.physical(t) for t in stored)]}).result_rows}
        empty = {t for t in stored if rows.get(t) == 0 and rows.get(self.tables.physical(t)) == 0}

        def differences(table: str, client: Client) -> list[Difference]:
            shadow = self.tables.physical(table)
            if table in empty:
                return []
            if table in self.summed and self._replay is not None:
                live_sums = {str(r): (int(n), int(h), float(t))
                             for r, n, h, t in client.query(pointsums.checksum_sql(table, chunks=True)).result_rows}
                replayed = {run: (n, h, 0.0) for run, (n, h) in self._replay.point_sums[shadow].runs.items()}
                return compare(table, live_sums, replayed)
            live = checksum_sql(table, columns[table], final=table in derived)
            replayed_sql = sums_sql(shadow) if table in self.streamed else \
                checksum_sql(shadow, columns[table], final=table in derived)
            sums: tuple[dict[str, Checksum], dict[str, Checksum]] = ({}, {})
            for side, r, n, h, t in client.query(compare_sql(live, replayed_sql)).result_rows:
                sums[int(side)][str(r)] = (int(n), int(h), float(t))
            return compare(table, *sums)

        # the live side of a summed table reads every point (~0.3-0.5 s for 5M): started first, on a client alone
        # while the others take the rest
        tables = sorted(self.tables.names, key=lambda t: (t not in self.summed, t not in self.streamed))
        found = self._on_clients([functools.partial(differences, table) for table in tables])
        return [d for table in found for d in table]

    def _create_sql(self, table: str, columns: dict[str, list[tuple[str, str]]]) -> list[str]:
        """The statements making `table`'s shadow, merges stopped (the replay resumes them when parts pile up)."""
        shadow = self.tables.physical(table)
        if table in self.summed:  # nothing is inserted: the table only answers the replay's position queries
            return [f"CREATE TABLE `{shadow}` AS `{table}` ENGINE = Null"]
        made = streamed_sql(table, shadow, columns[table]) if table in self.streamed else \
            [f"CREATE TABLE `{shadow}` AS `{table}`"]
        return [*made, f"SYSTEM STOP MERGES `{shadow}`"]

    def _shadows_by_table(self, names: Sequence[str]) -> dict[str, list[str]]:
        """Shadow tables (and a streamed table's sums and view) grouped by the table they shadow, in the given
        order (a view before its tables)."""
        out: dict[str, list[str]] = {}
        for name in names:
            table = next((t for t in self.tables.names if name.startswith(self.tables.physical(t))
                          and name[len(self.tables.physical(t)):] in ("", SUMS, f"{SUMS}_mv")), name)
            out.setdefault(table, []).append(name)
        return out

    def _side_by_side(self, statements: list[list[str]]) -> None:
        """Run each list of statements in order, the lists side by side on up to DDL_WORKERS clients: a DDL
        statement costs ~10 ms in chdb whatever it does, and the shadow tables never depend on one another."""
        def run(group: list[str], client: Client) -> None:
            for sql in group:
                client.command(sql)

        self._on_clients([functools.partial(run, group) for group in statements])

    def _on_clients(self, tasks: Sequence[Callable[[Client], T]]) -> list[T]:
        """Each task's result, in order; the tasks run side by side on up to DDL_WORKERS clients (this job's
        and others opened when first needed and kept until the job ends), each client taking the next task not
        taken when it is done with its last (so a long task first has a client to itself)."""
        results: dict[int, T] = {}
        pending = iter(range(len(tasks)))
        taking = threading.Lock()

        def work(i: int) -> None:
            while True:
                with taking:
                    k = next(pending, None)
                if k is None:
                    return
                results[k] = tasks[k](self.client if i == 0 else self._ddl_client(i))

        workers = min(DDL_WORKERS, len(tasks))
        with ThreadPoolExecutor(max_workers=workers or 1, thread_name_prefix="runstream-ddl") as pool:
            for done in [pool.submit(work, i) for i in range(workers)]:
                done.result()
        return [results[k] for k in range(len(tasks))]

    def _ddl_client(self, i: int) -> Client:
        """`_on_clients`' i-th other client, opened by its first call (each i is one thread's at a time)."""
        client = self._ddl_clients.get(i)
        if client is None:
            client = self._ddl_clients[i] = open_client(self.settings.clickhouse_url, self.settings.clickhouse_database)
        return client

    def _close_clients(self) -> None:
        """Close the clients `_on_clients` opened (at the end of the job)."""
        for client in self._ddl_clients.values():
            client.close()
        self._ddl_clients.clear()

    def _drop(self, tables: Sequence[str], *, wait: bool = True, count: Sequence[str] = ()) -> dict[str, int]:
        """Drop these tables, and meanwhile count the rows of `count` (`_counts`, on another client). `wait=False`:
        their files are removed later, in the background (after database_atomic_delay_before_drop_table_sec in an
        Atomic database); `SYNC` waited 0.1-0.7 s for the catalogue's drop task even for empty tables, while
        removing them takes milliseconds."""
        sync = " SYNC" if wait else ""
        counted: dict[str, int] = {}

        def run(group: list[str], client: Client) -> None:
            for sql in group:
                client.command(sql)

        def counts(client: Client) -> None:
            counted.update(self._counts(count, client))

        tasks: list[Callable[[Client], None]] = [counts] if count else []
        tasks += [functools.partial(run, [f"DROP TABLE IF EXISTS `{name}`{sync}" for name in names])
                  for names in self._shadows_by_table(tables).values()]
        self._on_clients(tasks)
        return counted
