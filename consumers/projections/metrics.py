"""Metric points: the columnar MetricsLogged batches of a chunk become one Arrow block, one row per point.

No Python object is made per point: each event's numpy columns are concatenated, and the strings a point
repeats (experiment, run, key) travel as Arrow dictionary columns (an int32 index per point).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from consumers.projections.base import LoggedEvent, Projection
from schemas import MetricsLogged

COLUMNS = (
    "experiment_id", "run_id", "key", "step", "ts", "value", "kafka_partition", "kafka_offset",
    "point_index",
)
CHUNK_TABLE = "metric_chunks"
CHUNK_COLUMNS = (
    "experiment_id", "run_id", "key", "first_step", "kafka_partition", "kafka_offset", "step", "ts", "value",
    "point_index",
)
"""metric_chunks: one row per event and key, its points as arrays in point-index order (migration 0027)."""
_TS = pa.timestamp("ms", tz="UTC")  # DateTime64(3, 'UTC') takes the milliseconds as they are


@dataclass(frozen=True, slots=True)
class _Part:
    experiment_id: str
    run_id: str
    partition: int
    offset: int
    batch: MetricsLogged


@dataclass(frozen=True, slots=True)
class PointColumns:
    """Every point of a block as numpy columns, strings as codes into lists of distinct values."""

    experiments: list[str]
    runs: list[str]
    keys: list[str]
    experiment: np.ndarray  # int32 code into experiments, per point
    run: np.ndarray  # int32 code into runs
    key: np.ndarray  # int32 code into keys
    step: np.ndarray
    ts: np.ndarray  # int64 milliseconds
    value: np.ndarray
    partition: np.ndarray
    offset: np.ndarray
    point_index: np.ndarray
    counts: np.ndarray  # points per event (part), in order
    part_partitions: list[int]  # the partition of each event


@dataclass(frozen=True, slots=True)
class KeyOrdered:
    """Every point of a block in the metrics table's sorting-key order (`SORTING_KEY`), strings as codes into
    sorted lists of distinct values, and where each (experiment, key, run) group starts."""

    experiments: list[str]
    runs: list[str]
    keys: list[str]
    experiment: np.ndarray
    run: np.ndarray
    key: np.ndarray
    step: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    partition: np.ndarray
    offset: np.ndarray
    point_index: np.ndarray
    starts: np.ndarray  # first row of each (experiment, key, run) group, ascending


class MetricBlock:
    """The metric points of several events, kept as each event's numpy columns until `to_arrow`."""

    def __init__(self, table: str, columns: tuple[str, ...] = COLUMNS) -> None:
        self.table = table
        self.columns = columns
        self.parts: list[_Part] = []
        self._arrow: pa.Table | None = None  # built once: the metrics insert and the summary both read it
        self._points: PointColumns | None = None
        self._ordered: KeyOrdered | None = None
        self._ordered_arrow: pa.Table | None = None
        self._building = threading.Lock()  # the summary (main thread) and the insert (a worker) read it at once
        self.chunked = table.startswith(CHUNK_TABLE)
        """Its points go to a table of chunks (`to_chunk_arrow`): one row per event and key."""
        self.sorted_insert = True
        """Its points are inserted in sorting-key order (`to_arrow_in_key_order`), so the summary reads the same
        sorted points; False where the table does not sort (verify's Null table): the summary groups them itself."""

    def __len__(self) -> int:
        return sum(len(p.batch) for p in self.parts)

    def add(self, logged: LoggedEvent) -> None:
        e = logged.event
        if isinstance(e.payload, MetricsLogged) and len(e.payload):
            self.parts.append(_Part(e.experiment_id, e.run_id, logged.partition, logged.offset, e.payload))
            self._arrow = self._points = self._ordered = self._ordered_arrow = None

    def series(self) -> set[tuple[str, str, str]]:
        """The (experiment, run, key) of every series the block holds points of (per event and name, never per
        point: a batch's names may include one it holds no point of)."""
        return {(p.experiment_id, p.run_id, name) for p in self.parts for name in p.batch.names}

    def without(self, offsets: set[int], done: int) -> MetricBlock:
        """The block without the events at these offsets or at offsets up to `done` (whole events: a batch
        is one offset)."""
        out = MetricBlock(self.table, self.columns)
        out.parts = [p for p in self.parts if p.offset > done and p.offset not in offsets]
        out.sorted_insert = self.sorted_insert
        return out

    @property
    def data(self) -> list[list[Any]]:
        """The rows column by column as Python lists, `ts` in milliseconds (for tests and tools; the sink
        inserts `to_arrow`)."""
        table = self.to_arrow()
        return [(table.column(c).cast(pa.int64()) if c == "ts" else table.column(c)).to_pylist() for c in self.columns]

    def to_arrow(self) -> pa.Table:
        """One Arrow table of every point, in event then batch order."""
        with self._building:
            if self._arrow is None:
                self._arrow = self._build(self._point_columns())
            return self._arrow

    def point_columns(self) -> PointColumns:
        """The points as numpy columns (built once; `to_arrow` is made of them)."""
        with self._building:
            return self._point_columns()

    def _point_columns(self) -> PointColumns:
        if self._points is None:
            self._points = _point_columns(self.parts)
        return self._points

    def key_ordered(self) -> KeyOrdered:
        """The points in the table's sorting-key order (sorted once: the insert and the summary both read them)."""
        with self._building:
            if self._ordered is None:
                self._ordered = _chunk_ordered(self.parts) if self.chunked and self.parts \
                    else _key_ordered(self._point_columns(), by_step=not self.chunked)
                if self._arrow is None:
                    self._points = None  # rebuilt if asked again; the sorted copy is what is read from here on
            return self._ordered

    def to_arrow_in_key_order(self) -> pa.Table:
        """`to_arrow()`'s rows in the table's sorting-key order. ClickHouse checks whether an inserted block is
        already in order and then skips sorting it: that sort was about half of a metrics insert's CPU. Only a
        hint: a block out of order is sorted by ClickHouse as before, so what is stored is the same either way."""
        ordered = self.key_ordered()
        with self._building:
            if self._ordered_arrow is None:
                self._ordered_arrow = self._build(PointColumns(
                    ordered.experiments, ordered.runs, ordered.keys, ordered.experiment, ordered.run, ordered.key,
                    ordered.step, ordered.ts, ordered.value, ordered.partition, ordered.offset, ordered.point_index,
                    counts=np.zeros(0, dtype=np.int64), part_partitions=[]))
            return self._ordered_arrow

    def to_chunk_arrow(self) -> pa.Table:
        """One row per (event, key): the key-ordered points cut where the event changes, as Arrow list columns."""
        ordered = self.key_ordered()
        with self._building:
            if self._ordered_arrow is None:
                self._ordered_arrow = _chunks(ordered)
            return self._ordered_arrow

    def _build(self, points: PointColumns) -> pa.Table:
        columns = {
            "experiment_id": pa.DictionaryArray.from_arrays(points.experiment, points.experiments),
            "run_id": pa.DictionaryArray.from_arrays(points.run, points.runs),
            "key": pa.DictionaryArray.from_arrays(points.key, points.keys),
            "step": points.step,
            "ts": pa.array(points.ts).view(_TS),
            "value": points.value,
            "kafka_partition": points.partition,
            "kafka_offset": points.offset,
            "point_index": points.point_index,
        }
        return pa.table({c: columns[c] for c in self.columns})


def _point_columns(parts: list[_Part]) -> PointColumns:
    counts = np.fromiter((len(p.batch) for p in parts), dtype=np.int64, count=len(parts))
    keys: dict[str, int] = {}
    key_index = np.concatenate([
        np.array([keys.setdefault(n, len(keys)) for n in p.batch.names], dtype=np.int32)[p.batch.name_index]
        for p in parts]) if parts else np.zeros(0, dtype=np.int32)
    starts = np.cumsum(counts) - counts
    experiments, experiment = _codes([p.experiment_id for p in parts], counts)
    runs, run = _codes([p.run_id for p in parts], counts)
    partitions = [p.partition for p in parts]
    return PointColumns(
        experiments, runs, list(keys), experiment, run, key_index,
        step=_concat([p.batch.steps for p in parts], np.int64),
        ts=_concat([p.batch.timestamps for p in parts], np.int64),
        value=_concat([p.batch.values for p in parts], np.float64),
        partition=np.repeat(np.array(partitions, dtype=np.uint32), counts),
        offset=np.repeat(np.array([p.offset for p in parts], dtype=np.uint64), counts),
        point_index=(np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)).astype(np.uint32),
        counts=counts, part_partitions=partitions,
    )


def _concat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype=dtype)


def _codes(values: list[str], counts: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The distinct values, and values[i]'s code repeated counts[i] times (one int32 per row, each string once)."""
    distinct: dict[str, int] = {}
    codes = np.array([distinct.setdefault(v, len(distinct)) for v in values], dtype=np.int32)
    return list(distinct), np.repeat(codes, counts)


SORTING_KEY = ("experiment_id", "key", "run_id", "step", "kafka_partition", "kafka_offset", "point_index")


def _chunks(ordered: KeyOrdered) -> pa.Table:
    """metric_chunks' rows from points grouped by series in event order (each event's points of a key are
    contiguous there): a chunk starts with a series or where the event (partition, offset) changes."""
    n = len(ordered.step)
    p, o = ordered.partition, ordered.offset
    cut = np.zeros(n, dtype=bool)
    cut[ordered.starts] = True
    if n > 1:
        cut[1:] |= (o[1:] != o[:-1]) | (p[1:] != p[:-1])
    first = np.flatnonzero(cut)
    bounds = np.r_[first, n].astype(np.int32)
    return pa.table({
        "experiment_id": pa.DictionaryArray.from_arrays(ordered.experiment[first], ordered.experiments),
        "run_id": pa.DictionaryArray.from_arrays(ordered.run[first], ordered.runs),
        "key": pa.DictionaryArray.from_arrays(ordered.key[first], ordered.keys),
        "first_step": ordered.step[first],
        "kafka_partition": p[first],
        "kafka_offset": o[first],
        "step": pa.ListArray.from_arrays(bounds, ordered.step),
        "ts": pa.ListArray.from_arrays(bounds, pa.array(ordered.ts).view(_TS)),
        "value": pa.ListArray.from_arrays(bounds, ordered.value),
        "point_index": pa.ListArray.from_arrays(bounds, ordered.point_index),
    })


def _key_ordered(points: PointColumns, *, by_step: bool = True) -> KeyOrdered:
    """The points sorted by `SORTING_KEY` (strings by their code points, which order as ClickHouse's UTF-8
    bytes): a stable sort of the (experiment, key, run) group keeps each group's rows in event order, which is
    already (step, partition, offset, point index) order in the usual batch; otherwise a full lexsort. Without
    `by_step` (chunks) the rows stay in event order within their group whatever their steps."""
    ranked = [_ranked(values) for values in (points.experiments, points.keys, points.runs)]
    (experiments, e_rank), (keys, k_rank), (runs, r_rank) = ranked
    experiment, key, run = e_rank[points.experiment], k_rank[points.key], r_rank[points.run]
    group = (experiment.astype(np.int64) * len(keys) + key) * len(runs) + run
    if len(experiments) * len(keys) * len(runs) <= 2**16:
        group = group.astype(np.uint16)  # numpy's stable sort of 16-bit integers is a radix sort
    order = np.argsort(group, kind="stable")
    g, s, p, o, i = group[order], points.step[order], points.partition[order], points.offset[order], \
        points.point_index[order]
    if by_step and len(g) > 1:
        ahead = (s[1:] > s[:-1]) | ((s[1:] == s[:-1]) & ((p[1:] > p[:-1]) | ((p[1:] == p[:-1]) & (
            (o[1:] > o[:-1]) | ((o[1:] == o[:-1]) & (i[1:] >= i[:-1]))))))
        if not np.all(ahead | (g[1:] != g[:-1])):
            order = np.lexsort((points.point_index, points.offset, points.partition, points.step, group))
            g, s, p, o, i = group[order], points.step[order], points.partition[order], points.offset[order], \
                points.point_index[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.zeros(0, dtype=np.int64)
    return KeyOrdered(experiments, runs, keys, experiment[order], run[order], key[order], s, points.ts[order],
                      points.value[order], p, o, i, starts)


def _chunk_ordered(parts: list[_Part]) -> KeyOrdered:
    """`_key_ordered(_point_columns(parts), by_step=False)`, sorting chunks instead of points: each event's points
    of a key (a chunk) stay together in event order there, so the (experiment, key, run) groups are sorted over the
    block's few thousand chunks and the points are gathered once. The Python loop only names each event's keys and
    owner; grouping every event's points by key (`log_metrics` interleaves them) is one sort of the whole block
    (by event, then key: a radix sort while both fit 16 bits), not a sort per event."""
    keys: dict[str, int] = {}
    experiments: dict[str, int] = {}
    runs: dict[str, int] = {}
    codes: list[int] = []  # every event's names as key codes, one after the other
    first_code = []  # per event: where its names start in `codes`
    owner = []  # per event: experiment code, run code, partition, offset
    for part in parts:
        first_code.append(len(codes))
        codes.extend([keys.setdefault(name, len(keys)) for name in part.batch.names])
        owner.append((experiments.setdefault(part.experiment_id, len(experiments)),
                      runs.setdefault(part.run_id, len(runs)), part.partition, part.offset))
    sizes = np.fromiter((len(p.batch) for p in parts), dtype=np.int64, count=len(parts))
    n = int(sizes.sum())
    event_starts = np.cumsum(sizes) - sizes
    point_event = np.repeat(np.arange(len(parts), dtype=np.int64), sizes)
    point_key = np.array(codes, dtype=np.int64)[
        np.concatenate([p.batch.name_index for p in parts]).astype(np.int64, copy=False)
        + np.repeat(np.array(first_code, dtype=np.int64), sizes)]
    chunk_of = point_event * len(keys) + point_key  # ascending along the block where no event interleaves keys
    by_chunk = None
    if n > 1 and bool((chunk_of[1:] < chunk_of[:-1]).any()):
        if len(parts) * len(keys) <= 2**16:
            chunk_of = chunk_of.astype(np.uint16)  # numpy's stable sort of 16-bit integers is a radix sort
        by_chunk = np.argsort(chunk_of, kind="stable")  # within a chunk, points stay in event order
        chunk_of = chunk_of[by_chunk].astype(np.int64, copy=False)
    starts = np.flatnonzero(np.r_[True, chunk_of[1:] != chunk_of[:-1]]) if n else np.zeros(0, dtype=np.int64)
    lengths = np.diff(np.r_[starts, n])
    event, key = np.divmod(chunk_of[starts], max(len(keys), 1))
    info = np.array(owner, dtype=np.int64).reshape(len(parts), 4)[event]
    experiment, run, partition, offset = info[:, 0], info[:, 1], info[:, 2], info[:, 3]
    (experiment_list, e_rank), (key_list, k_rank), (run_list, r_rank) = (
        _ranked(list(values)) for values in (experiments, keys, runs))
    group = (e_rank[experiment].astype(np.int64) * len(key_list) + k_rank[key]) * len(run_list) + r_rank[run]
    order = np.argsort(group, kind="stable")  # chunks of a group stay in event order
    lengths, group = lengths[order], group[order]
    firsts = np.cumsum(lengths) - lengths  # each sorted chunk's first point in the result
    gather = np.repeat(starts[order] - firsts, lengths) + np.arange(n)
    if by_chunk is not None:
        gather = by_chunk[gather]
    step, ts, value = (_concat([getattr(p.batch, c) for p in parts], t)[gather]
                       for c, t in (("steps", np.int64), ("timestamps", np.int64), ("values", np.float64)))
    point_index = (np.arange(n, dtype=np.int64) - np.repeat(event_starts, sizes)).astype(np.uint32)[gather]
    group_starts = firsts[np.flatnonzero(np.r_[True, group[1:] != group[:-1]])]
    return KeyOrdered(
        experiment_list, run_list, key_list,
        np.repeat(e_rank[experiment[order]], lengths), np.repeat(r_rank[run[order]], lengths),
        np.repeat(k_rank[key[order]], lengths), step, ts, value,
        np.repeat(partition[order].astype(np.uint32), lengths), np.repeat(offset[order].astype(np.uint64), lengths),
        point_index, group_starts)


def _ranked(values: list[str]) -> tuple[list[str], np.ndarray]:
    """The values sorted, and for each value (in the given order) its place among them."""
    ordered = sorted(range(len(values)), key=values.__getitem__)
    rank = np.empty(len(values), dtype=np.int32)
    rank[ordered] = np.arange(len(values), dtype=np.int32)
    return [values[k] for k in ordered], rank


def project(logged: LoggedEvent, block: MetricBlock) -> None:
    block.add(logged)


PROJECTION = Projection(CHUNK_TABLE, COLUMNS, project, MetricBlock, payloads=(MetricsLogged,))  # type: ignore[arg-type]
