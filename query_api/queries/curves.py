"""Metric curves, downsampled inside ClickHouse: LTTB, or min/max buckets that keep spikes.

No FINAL here: it made the hottest read four times slower, and the projector already writes each point
once (per-table positions and deduplication tokens, proven by the crash tests), so the curves agree with
run_metric_summary, which a duplicate would skew just the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from clickhouse_connect.driver.client import Client

Method = Literal["lttb", "minmax"]

SCOPE = (
    "experiment_id = {experiment_id:String} AND run_id = {run_id:String} AND key = {key:String}"
    " AND step >= {step_min:Int64} AND step <= {step_max:Int64}"
)

# Not read in the table's order: a curve is a few granules of a few parts, and merging per-part streams in order
# cost more than sorting its rows (10,000 runs x 50 points: 9.5 -> 7.1 ms a statement in chdb; 1,000 points: same)
ALL_POINTS = f"""
SELECT step, value, toUnixTimestamp64Milli(ts)
FROM metrics WHERE {SCOPE}
ORDER BY step, ts, kafka_offset, point_index
SETTINGS optimize_read_in_order = 0
"""

# The same points unordered, sorted in Python (`in_order`), and without the step conditions when the range is open:
# ClickHouse's sort and the two columns it needs for ties cost more than the rows (10,000 runs x 50 points: 7.0 ->
# 5.9 ms a statement at load 5; 1,000 points: 7.7 -> 6.2 ms; benchmarks/results/curve10k-20261203.md)
RUN_KEY = "experiment_id = {experiment_id:String} AND key = {key:String} AND run_id = {run_id:String}"
POINTS = f"SELECT step, value, toUnixTimestamp64Milli(ts) FROM metrics WHERE {RUN_KEY}"
POINTS_IN_RANGE = f"{POINTS} AND step >= {{step_min:Int64}} AND step <= {{step_max:Int64}}"

COUNT = f"SELECT count(), min(step), max(step) FROM metrics WHERE {SCOPE}"

LTTB = f"""
SELECT toInt64(p.1) AS step, p.2 AS value, t.ts
FROM (
    SELECT arrayJoin(largestTriangleThreeBuckets({{max_points:UInt64}})(toFloat64(step), value)) AS p
    FROM (SELECT step, value FROM metrics WHERE {SCOPE} ORDER BY step, ts, kafka_offset, point_index)
) AS d
LEFT JOIN (
    SELECT step, toUnixTimestamp64Milli(max(ts)) AS ts FROM metrics WHERE {SCOPE} GROUP BY step
) AS t ON t.step = toInt64(d.p.1)
ORDER BY step
"""

# Two points per bucket (its lowest and highest value), plus the first and last points of the range.
MINMAX = f"""
SELECT b, argMin((step, value, toUnixTimestamp64Milli(ts)), if(isNaN(value), inf, value)),
          argMax((step, value, toUnixTimestamp64Milli(ts)), if(isNaN(value), -inf, value)),
          argMin((step, value, toUnixTimestamp64Milli(ts)), (step, ts, kafka_offset, point_index)),
          argMax((step, value, toUnixTimestamp64Milli(ts)), (step, ts, kafka_offset, point_index))
FROM (
    SELECT *, intDiv(step - {{lo:Int64}}, {{width:Int64}}) AS b FROM metrics WHERE {SCOPE}
)
GROUP BY b ORDER BY b
"""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _point(step: int, value: float, ts: int | None) -> dict[str, Any]:
    return {"step": int(step), "value": value, "timestamp": ts}


def curve(
    client: Client, experiment_id: str, run_id: str, key: str, *, max_points: int | None = None,
    method: Method = "lttb", step_min: int | None = None, step_max: int | None = None,
) -> list[dict[str, Any]]:
    """The points of one metric of one run, in step order, at most max_points of them when given."""
    bind: dict[str, Any] = {
        "experiment_id": experiment_id, "run_id": run_id, "key": key,
        "step_min": INT64_MIN if step_min is None else step_min,
        "step_max": INT64_MAX if step_max is None else step_max,
    }
    if max_points is not None:
        count, lo, hi = client.query(COUNT, parameters=bind).result_rows[0]
        if count > max_points:
            return _lttb(client, bind, max_points) if method == "lttb" else _minmax(client, bind, max_points, lo, hi)
    ranged = step_min is not None or step_max is not None
    rows = in_order(client.query(POINTS_IN_RANGE if ranged else POINTS, parameters=bind).result_rows)
    if rows is None:  # points at the same step and millisecond: their order is the log's, which ClickHouse sorts
        return [_point(*row) for row in client.query(ALL_POINTS, parameters=bind).result_rows]
    return [_point(*row) for row in rows]


def series(client: Client, experiment_id: str, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every point of one series as (step, value, ts) numpy columns in ALL_POINTS's order: what `curve` answers
    without a range or max_points (an in-memory copy answers ranges of it with `points_of`)."""
    bind = {"experiment_id": experiment_id, "run_id": run_id, "key": key}
    ordered = in_order(client.query(POINTS, parameters=bind).result_rows)
    rows: Sequence[Any] = ordered if ordered is not None else client.query(
        ALL_POINTS, parameters={**bind, "step_min": INT64_MIN, "step_max": INT64_MAX}).result_rows
    step = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    value = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    ts = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
    return step, value, ts


def points_of(columns: tuple[np.ndarray, np.ndarray, np.ndarray], *, max_points: int | None = None,
              step_min: int | None = None, step_max: int | None = None) -> list[dict[str, Any]] | None:
    """What `curve` answers for these arguments, from a series' columns in ALL_POINTS's order (`series`), or
    None when it would downsample (more than max_points in the range: ClickHouse's LTTB or minmax answers)."""
    step, value, ts = columns
    lo = 0 if step_min is None else int(np.searchsorted(step, step_min, side="left"))
    hi = len(step) if step_max is None else int(np.searchsorted(step, step_max, side="right"))
    hi = max(lo, hi)
    if max_points is not None and hi - lo > max_points:
        return None
    return [{"step": s, "value": v, "timestamp": t}
            for s, v, t in zip(step[lo:hi].tolist(), value[lo:hi].tolist(), ts[lo:hi].tolist(), strict=True)]


def in_order(rows: Sequence[Any]) -> list[Any] | None:
    """(step, value, ts) rows sorted as ALL_POINTS orders them, or None when two share a step and a timestamp
    (only kafka_offset and point_index, which the rows lack, order those)."""
    ordered = sorted(rows, key=_step_and_ts)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before[0] == after[0] and before[2] == after[2]:
            return None
    return ordered


def _step_and_ts(row: Any) -> tuple[int, int]:
    return row[0], row[2]


def _lttb(client: Client, bind: dict[str, Any], max_points: int) -> list[dict[str, Any]]:
    rows = client.query(LTTB, parameters={**bind, "max_points": max_points}).result_rows
    return [_point(*row) for row in rows]


def _minmax(client: Client, bind: dict[str, Any], max_points: int, lo: int, hi: int) -> list[dict[str, Any]]:
    buckets = max(1, (max_points - 2) // 2)
    width = max(1, -(-(hi - lo + 1) // buckets))
    rows = client.query(MINMAX, parameters={**bind, "lo": lo, "width": width}).result_rows
    points: dict[tuple[int, int | None], tuple[int, float, int | None]] = {}
    first = rows[0][3]
    last = rows[-1][4]
    for _, low, high, _, _ in rows:
        for p in (low, high):
            points[(p[0], p[2])] = p
    points[(first[0], first[2])] = first
    points[(last[0], last[2])] = last
    ordered = sorted(points.values(), key=lambda p: (p[0], p[2] or 0))
    return [_point(*p) for p in ordered]


BULK_LTTB = """
SELECT run_id, key, largestTriangleThreeBuckets({max_points:UInt64})(toFloat64(step), value)
FROM (
    SELECT run_id, key, step, value FROM metrics
    WHERE experiment_id IN {experiment_ids:Array(String)} AND run_id IN {run_ids:Array(String)}
      AND key IN {keys:Array(String)}
    ORDER BY run_id, key, step, ts, kafka_offset, point_index
)
GROUP BY run_id, key
"""


def curves_for_runs(
    client: Client, experiment_ids: list[str], run_ids: list[str], keys: list[str], max_points: int
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """run_id -> key -> downsampled [{step, value}] for many runs in one query (LTTB)."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {r: {} for r in run_ids}
    if not keys or not run_ids:
        return out
    rows = client.query(BULK_LTTB, parameters={"experiment_ids": experiment_ids, "run_ids": run_ids, "keys": keys,
                                               "max_points": max_points}).result_rows
    for run_id, key, points in rows:
        out[run_id][key] = [{"step": int(x), "value": y} for x, y in points]
    return out
