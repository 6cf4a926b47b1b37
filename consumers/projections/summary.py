"""run_metric_summary rows built from a chunk's metric points while they are still in memory.

One row per (experiment, key, run, partition) of the chunk, with the same aggregates as `derived.summary_select`
(the SQL that repairs the table after a crash and fills it from a live source): the last value by
(step, ts, kafka_offset, point_index), min and max ignoring NaN (NULL when every value is NaN), the sum and count
of the other values, the point count, last step, last time and highest offset. The last value travels as
ClickHouse's own serialized `argMaxState`, so AggregatingMergeTree merges it with rows from other chunks,
from a replay or from the SQL path exactly as it merges its own states.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from consumers.projections.metrics import MetricBlock

COLUMNS = (
    "experiment_id", "key", "run_id", "last_value", "last_point", "min_value", "max_value", "sum_value", "value_count",
    "point_count", "last_step", "last_ts", "kafka_partition", "kafka_offset",
)

# argMax(Float64, Tuple(Int64, DateTime64(3), UInt64, UInt32)) serialized: a "has value" byte and the value,
# then a "has value" byte and the tuple's fields, little-endian (checked against argMaxState in the tests).
ARG_MAX_STATE = np.dtype([
    ("has_value", "u1"), ("value", "<f8"), ("has_key", "u1"),
    ("step", "<i8"), ("ts", "<i8"), ("kafka_offset", "<u8"), ("point_index", "<u4"),
])
_TS = pa.timestamp("ms", tz="UTC")
# last_point's fields: the argMax order, then the value (migration 0022).
LAST_POINT = ("step", "ts", "kafka_offset", "point_index", "value")


class SummaryBlock:
    """run_metric_summary rows of a chunk, as an Arrow table (inserted with `insert_arrow`)."""

    def __init__(self, table: str, rows: pa.Table) -> None:
        self.table = table
        self.columns = COLUMNS
        self.rows = rows

    def __len__(self) -> int:
        return self.rows.num_rows

    def to_arrow(self) -> pa.Table:
        return self.rows


def summary_block(points: MetricBlock) -> SummaryBlock:
    """The summary rows of a metric block. From its points in sorting-key order (`MetricBlock.key_ordered`, the
    order the insert sends them in, sorted once for both) when the block is inserted sorted and each (experiment,
    key, run) lies in one partition, as a run's events do (keyed by run); otherwise from its numpy columns in event
    order."""
    if not len(points):
        return SummaryBlock("run_metric_summary", _empty())
    if not points.sorted_insert:  # sorting every column only for the summary costs more than grouping
        return _summary_by_event(points)
    ordered = points.key_ordered()
    starts = ordered.starts
    partition = ordered.partition
    if np.array_equal(partition[starts], np.maximum.reduceat(partition, starts)) and \
            np.array_equal(partition[starts], np.minimum.reduceat(partition, starts)):
        rows, firsts = _aggregate_sorted(starts, ordered.step, ordered.ts, ordered.value, ordered.offset,
                                         ordered.point_index, partition)
        labels = {"experiment_id": (ordered.experiment, ordered.experiments), "run_id": (ordered.run, ordered.runs),
                  "key": (ordered.key, ordered.keys)}
        for name, (codes, distinct) in labels.items():
            rows[name] = pa.DictionaryArray.from_arrays(codes[firsts], distinct).dictionary_decode()
        return SummaryBlock("run_metric_summary", pa.table({c: rows[c] for c in COLUMNS}))
    return _summary_by_event(points)


def _summary_by_event(points: MetricBlock) -> SummaryBlock:
    """The summary rows from the block's numpy columns in event order: groups are numbered from the events'
    (experiment, run, partition) and the points' key codes, so no string column is read per point."""
    columns = points.point_columns()
    if not len(columns.step):
        return SummaryBlock("run_metric_summary", _empty())
    owners: dict[tuple[int, int, int], int] = {}  # (experiment, run, partition) codes -> group of the event
    starts = np.cumsum(columns.counts) - columns.counts
    owner = np.fromiter((owners.setdefault((int(columns.experiment[s]), int(columns.run[s]), partition), len(owners))
                         for s, partition in zip(starts.tolist(), columns.part_partitions, strict=True)),
                        dtype=np.int64, count=len(starts))
    groups = np.repeat(owner, columns.counts) * len(columns.keys) + columns.key
    rows, firsts = _aggregate(groups, columns.step, columns.ts, columns.value, columns.offset, columns.point_index,
                              columns.partition)
    labels = {"experiment_id": (columns.experiment, columns.experiments), "run_id": (columns.run, columns.runs),
              "key": (columns.key, columns.keys)}
    for name, (codes, distinct) in labels.items():
        rows[name] = pa.DictionaryArray.from_arrays(codes[firsts], distinct).dictionary_decode()
    return SummaryBlock("run_metric_summary", pa.table({c: rows[c] for c in COLUMNS}))


def arg_max_states(values: np.ndarray, steps: np.ndarray, ts: np.ndarray, offsets: np.ndarray,
                   point_indexes: np.ndarray) -> pa.Array:
    """One serialized argMax state per row, as an Arrow binary column."""
    states = np.zeros(len(values), dtype=ARG_MAX_STATE)
    states["has_value"] = 1
    states["has_key"] = 1
    states["value"], states["step"], states["ts"] = values, steps, ts
    states["kafka_offset"], states["point_index"] = offsets, point_indexes
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(ARG_MAX_STATE.itemsize), len(states),
                                                 [None, pa.py_buffer(states.tobytes())])
    return fixed.cast(pa.binary())


def last_points(values: np.ndarray, steps: np.ndarray, ts: np.ndarray, offsets: np.ndarray,
                point_indexes: np.ndarray) -> pa.Array:
    """One (step, ts, kafka_offset, point_index, value) tuple per row, as an Arrow struct column (ClickHouse's
    Tuple): the greatest tuple is the last point by the argMax order, so `max` merges it as argMax does."""
    fields = [pa.array(steps, pa.int64()), pa.array(ts, pa.int64()).view(_TS), pa.array(offsets, pa.uint64()),
              pa.array(point_indexes, pa.uint32()), pa.array(values, pa.float64())]
    return pa.StructArray.from_arrays(fields, names=list(LAST_POINT))


def _aggregate(groups: np.ndarray, step: np.ndarray, ts: np.ndarray, value: np.ndarray, offset: np.ndarray,
               index: np.ndarray, partition: np.ndarray) -> tuple[dict[str, object], np.ndarray]:
    """Every column but the labels, one row per group in group order; and a point of each group (for its
    labels). Within a group, points must come in (kafka_offset, point_index) order."""
    if groups.max() < 2**16:
        groups = groups.astype(np.uint16)  # numpy's stable sort of 16-bit integers is a radix sort
    order = np.argsort(groups, kind="stable")  # stable: within a group, rows stay in (offset, point index) order
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    rows, firsts = _aggregate_sorted(starts, step[order], ts[order], value[order], offset[order], index[order],
                                     partition[order])
    return rows, order[firsts]


def _aggregate_sorted(starts: np.ndarray, step: np.ndarray, ts: np.ndarray, value: np.ndarray, offset: np.ndarray,
                      index: np.ndarray, partition: np.ndarray, *,
                      shortcuts: bool = True) -> tuple[dict[str, object], np.ndarray]:
    """`_aggregate` of rows already grouped (each group's rows contiguous, from `starts`), each group's rows of
    one step in (kafka_offset, point_index) order; and the first row of each group. `shortcuts` (the same rows
    to the bit, tested): fewer passes where steps rise strictly within every group, or no value is NaN."""
    n = len(step)
    counts = np.diff(np.r_[starts, n])
    last = _last_rows(starts, counts, step, ts, shortcuts=shortcuts)
    nan = np.isnan(value)
    if shortcuts and not nan.any():  # every value counts: no mask, no count, no NaN to skip in the sum
        value_count = counts.astype(np.uint64)
        summed = value
    else:
        value_count = np.add.reduceat((~nan).astype(np.uint64), starts)
        summed = np.where(nan, 0.0, value)
    low = np.fmin.reduceat(value, starts)  # fmin/fmax skip NaN; a group of NaN only stays NaN, then NULL
    high = np.fmax.reduceat(value, starts)
    no_value = value_count == 0
    rows: dict[str, object] = {
        "last_value": arg_max_states(value[last], step[last], ts[last], offset[last], index[last]),
        "last_point": last_points(value[last], step[last], ts[last], offset[last], index[last]),
        "min_value": pa.array(low, mask=no_value),
        "max_value": pa.array(high, mask=no_value),
        "sum_value": _sum(summed, starts),
        "value_count": value_count,
        "point_count": counts.astype(np.uint64),
        "last_step": step[last],
        "last_ts": pa.array(np.maximum.reduceat(ts, starts)).view(_TS),
        "kafka_partition": partition[starts],
        "kafka_offset": np.maximum.reduceat(offset, starts),
    }
    return rows, starts


def _last_rows(starts: np.ndarray, counts: np.ndarray, step: np.ndarray, ts: np.ndarray, *,
               shortcuts: bool = True) -> np.ndarray:
    """Each group's last point by (step, ts, kafka_offset, point_index): the highest step, then among those the
    latest time, then the last such row (rows of a group are in offset and point-index order). Where steps rise
    strictly within every group (a curve logged in order), that is each group's last row: one pass instead of ~10."""
    n = len(step)
    ends = starts + counts - 1
    if shortcuts and n > 1:
        rising = step[1:] > step[:-1]
        rising[starts[1:] - 1] = True  # a group's first row follows another group's last: not compared
        if rising.all():
            return ends
    elif shortcuts:
        return ends
    last_step = np.maximum.reduceat(step, starts)
    candidate = step == np.repeat(last_step, counts)
    latest = np.maximum.reduceat(np.where(candidate, ts, np.iinfo(np.int64).min), starts)
    candidate &= ts == np.repeat(latest, counts)
    return np.maximum.reduceat(np.where(candidate, np.arange(n), -1), starts)


def _sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf is NaN, as ClickHouse's sum gives
        return np.add.reduceat(values, starts)


def _empty() -> pa.Table:
    types = {"experiment_id": pa.string(), "key": pa.string(), "run_id": pa.string(), "last_value": pa.binary(),
             "last_point": pa.struct([("step", pa.int64()), ("ts", _TS), ("kafka_offset", pa.uint64()),
                                      ("point_index", pa.uint32()), ("value", pa.float64())]),
             "min_value": pa.float64(), "max_value": pa.float64(), "sum_value": pa.float64(),
             "value_count": pa.uint64(), "point_count": pa.uint64(), "last_step": pa.int64(), "last_ts": _TS,
             "kafka_partition": pa.uint32(), "kafka_offset": pa.uint64()}
    return pa.table({c: pa.array([], type=types[c]) for c in COLUMNS})
