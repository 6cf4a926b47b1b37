"""Runs grouped by params, tags or attributes: statistics across each group's runs, computed in ClickHouse.

A group's curve is built in two steps over every point: each run's points in a step bucket are averaged (NaN
points ignored and counted apart), then the runs' bucket values give the group's mean, sample std, min, max,
median and count. Buckets are shared by every group of a metric, so misaligned runs meet in the same bucket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from clickhouse_connect.driver.client import Client

from query_api.filters import SearchSyntaxError, parse_order_by
from query_api.filters.ast import Identifier, Node
from query_api.queries.filters import ATTRIBUTE_SQL, METRIC_AGGREGATES, Binder, compile_filter
from query_api.queries.fold import CURRENT

Summary = Literal["last", "min", "max"]
MAX_RUNS = 50_000
_DIRECTION = re.compile(r"\s(asc|desc)\s*$", re.IGNORECASE)


def parse_group_key(text: str) -> Identifier:
    """A group_by key (`params.lr`, ``tags.`a b` ``, `attributes.status`) as the search language reads it."""
    if _DIRECTION.search(text):
        raise SearchSyntaxError(f"group_by {text!r}: a group key takes no ASC/DESC")
    ident = parse_order_by([text])[0].identifier
    if ident.entity == "metric":
        raise SearchSyntaxError(f"group_by {text!r}: group by params., tags. or attributes., not metrics")
    return ident


@dataclass(frozen=True)
class Group:
    key: dict[str, str | None]
    run_ids: list[str]


def _sort_key(values: tuple[str | None, ...]) -> tuple[tuple[int, float, str], ...]:
    """Groups in key order: numbers numerically, then strings, missing values last."""
    out = []
    for v in values:
        try:
            out.append((0, float(v), "") if v is not None else (2, 0.0, ""))
        except ValueError:
            out.append((1, 0.0, v or ""))
    return tuple(out)


def select_groups(
    client: Client, experiment_ids: list[str], node: Node | None, group_by: list[str]
) -> list[Group]:
    """The live runs matching the filter, grouped by the values of group_by (None where a run lacks the key)."""
    idents = [parse_group_key(k) for k in group_by]
    b = Binder()
    b.experiments = b.bind(experiment_ids, "Array(String)")
    values = [f"toString({ATTRIBUTE_SQL[i.key]})" if i.entity == "attribute" else f"{b.join(i)}.v" for i in idents]
    where = compile_filter(node, b)
    sql = (
        f"SELECT {', '.join(['r.run_id', *values])} FROM {CURRENT} AS r " + " ".join(b.join_sql)
        + f" WHERE r.experiment_id IN {b.experiments} AND r.deleted = 0 AND {where}"
        + f" ORDER BY r.run_id LIMIT {MAX_RUNS + 1} SETTINGS join_use_nulls = 1"
    )
    rows = client.query(sql, parameters=b.parameters).result_rows
    if len(rows) > MAX_RUNS:
        raise SearchSyntaxError(f"more than {MAX_RUNS} runs match; narrow the filter")
    members: dict[tuple[str | None, ...], list[str]] = {}
    for run_id, *key in rows:
        members.setdefault(tuple(key), []).append(run_id)
    return [Group(dict(zip(group_by, key, strict=True)), members[key]) for key in sorted(members, key=_sort_key)]


def _run_groups(groups: list[Group]) -> dict[str, Any]:
    run_ids = [r for g in groups for r in g.run_ids]
    return {"run_ids": run_ids, "groups": [i for i, g in enumerate(groups) for _ in g.run_ids]}


SCOPE = """experiment_id IN {experiment_ids:Array(String)} AND key = {key:String}
    AND run_id IN {run_ids:Array(String)} AND step >= {step_min:Int64} AND step <= {step_max:Int64}"""

BOUNDS = f"SELECT min(step), max(step), uniqExact(step) FROM metrics WHERE {SCOPE}"

# Per run and bucket, then per group and bucket; a bucket's step is the first step any run has in it. Runs are
# numbered (ri) before grouping: a fixed-width numeric key aggregates about four times faster than the run_id.
# ClickHouse also writes each group's series as JSON: 1,000 buckets x 200 groups are 1.6M numbers, which Python
# would take seconds to turn into objects and back into text.
_CURVES = f"""
SELECT g, toJSONString(CAST(
    (arrayMap(t -> t.2, s), arrayMap(t -> t.3, s), arrayMap(t -> t.4, s), arrayMap(t -> t.5, s),
     arrayMap(t -> t.6, s), arrayMap(t -> t.7, s), arrayMap(t -> t.8, s), arrayMap(t -> t.9, s)),
    'Tuple(step Array(Int64), mean Array(Nullable(Float64)), std Array(Nullable(Float64)),
           min Array(Nullable(Float64)), max Array(Nullable(Float64)), median Array(Nullable(Float64)),
           count Array(UInt64), nan_count Array(UInt64))')) AS series
FROM (
    SELECT g, arraySort(groupArray((b, step, mean, sd, lo, hi, med, n, nans))) AS s
    FROM (
        SELECT g, b, {{first_step}} AS step,
               if(countIf(pts > 0) = 0, NULL, avgIf(rv, pts > 0)) AS mean,
               if(countIf(pts > 0) < 2, NULL, stddevSampStableIf(rv, pts > 0)) AS sd,
               if(countIf(pts > 0) = 0, NULL, minIf(rv, pts > 0)) AS lo,
               if(countIf(pts > 0) = 0, NULL, maxIf(rv, pts > 0)) AS hi,
               if(countIf(pts > 0) = 0, NULL, quantileExactInclusiveIf(0.5)(rv, pts > 0)) AS med,
               countIf(pts > 0) AS n, sum(nan_points) AS nans
        FROM (
            SELECT transform(run_id, {{run_ids:Array(String)}}, {{run_numbers:Array(UInt32)}}, toUInt32(0)) AS ri,
                   intDiv(step - {{lo:Int64}}, {{width:Int64}}) AS b, min(step) AS first,
                   avgIf(value, NOT isNaN(value)) AS rv, countIf(NOT isNaN(value)) AS pts,
                   countIf(isNaN(value)) AS nan_points
            FROM metrics WHERE {SCOPE}
            GROUP BY ri, b
        )
        GROUP BY {{groups:Array(UInt32)}}[ri + 1] AS g, b
    )
    GROUP BY g
)
SETTINGS output_format_json_quote_denormals = 1
"""
# With one step per bucket a bucket's first step is lo + b: no window over every group's buckets is needed.
CURVES_STEPWISE = _CURVES.replace("{first_step}", "{lo:Int64} + b")
CURVES = _CURVES.replace("{first_step}", "min(min(first)) OVER (PARTITION BY b)")
# With quote_denormals ClickHouse writes "inf", "-inf", "nan" (from ±inf points); the API's JSON spells them so.
_DENORMALS = {'"inf"': '"Infinity"', '"-inf"': '"-Infinity"', '"nan"': '"NaN"', '"-nan"': '"NaN"'}
_DENORMAL = re.compile("|".join(re.escape(k) for k in _DENORMALS))

SERIES = ("step", "mean", "std", "min", "max", "median", "count", "nan_count")
EMPTY_SERIES = "{" + ",".join(f'"{s}":[]' for s in SERIES) + "}"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def bucket_width(lo: int, hi: int, distinct_steps: int, max_points: int) -> int:
    """1 (every step its own bucket) when the range holds no more steps than max_points, else equal widths."""
    if distinct_steps <= max_points:
        return 1
    return -(-(hi - lo + 1) // max_points)


def grouped_curves(
    client: Client, experiment_ids: list[str], groups: list[Group], keys: list[str], max_points: int,
    step_min: int | None = None, step_max: int | None = None,
) -> list[dict[str, str]]:
    """Per group, per metric key: the bucketed statistics as a JSON object of parallel arrays (SERIES)."""
    out: list[dict[str, str]] = [{k: EMPTY_SERIES for k in keys} for _ in groups]
    if not groups:
        return out
    members = _run_groups(groups)
    bind: dict[str, Any] = {
        "experiment_ids": experiment_ids, **members, "run_numbers": list(range(len(members["run_ids"]))),
        "step_min": INT64_MIN if step_min is None else step_min,
        "step_max": INT64_MAX if step_max is None else step_max,
    }
    for key in keys:
        lo, hi, distinct = client.query(BOUNDS, parameters={**bind, "key": key}).result_rows[0]
        if not distinct:
            continue
        width = bucket_width(lo, hi, distinct, max_points)
        sql = CURVES_STEPWISE if width == 1 else CURVES
        for g, series in client.query(sql, parameters={**bind, "key": key, "lo": lo, "width": width}).result_rows:
            out[g][key] = _DENORMAL.sub(lambda m: _DENORMALS[m.group(0)], series) if (
                'inf"' in series or 'nan"' in series) else series
    return out


LEADERBOARD = """
SELECT g, if(n = 0, NULL, mean), med, if(n < 2, NULL, sd), lo, hi, n, nans FROM (
    SELECT transform(run_id, {run_ids:Array(String)}, {groups:Array(UInt32)}, toUInt32(0)) AS g,
           avgIf(v, ok) AS mean, if(countIf(ok) = 0, NULL, quantileExactInclusiveIf(0.5)(v, ok)) AS med,
           stddevSampStableIf(v, ok) AS sd, if(countIf(ok) = 0, NULL, minIf(v, ok)) AS lo,
           if(countIf(ok) = 0, NULL, maxIf(v, ok)) AS hi, countIf(ok) AS n, countIf(NOT ok) AS nans
    FROM (
        SELECT run_id, v, v IS NOT NULL AND NOT isNaN(v) AS ok FROM (
            SELECT run_id, {summary_placeholder} AS v FROM run_metric_summary
            WHERE experiment_id IN {experiment_ids:Array(String)} AND key = {key:String}
              AND run_id IN {run_ids:Array(String)}
            GROUP BY run_id
        )
    )
    GROUP BY g
)
"""


def grouped_leaderboard(
    client: Client, experiment_ids: list[str], groups: list[Group], key: str, summary: Summary,
    statistic: Literal["mean", "median"], descending: bool,
) -> list[dict[str, Any]]:
    """Groups ranked by the mean (or median) of each run's summary of one metric; groups without values last."""
    stats: dict[int, dict[str, Any]] = {}
    if groups:
        sql = LEADERBOARD.replace("{summary_placeholder}", METRIC_AGGREGATES[summary])
        bind = {"experiment_ids": experiment_ids, "key": key, **_run_groups(groups)}
        for g, mean, med, sd, lo, hi, n, nans in client.query(sql, parameters=bind).result_rows:
            stats[g] = {"mean": mean, "median": med, "std": sd, "min": lo, "max": hi, "count": n, "nan_count": nans}
    none = {"mean": None, "median": None, "std": None, "min": None, "max": None, "count": 0, "nan_count": 0}
    rows = [{"key": g.key, **stats.get(i, none), "run_ids": g.run_ids} for i, g in enumerate(groups)]
    sign = -1 if descending else 1
    ranked = sorted((r for r in rows if r[statistic] is not None), key=lambda r: sign * r[statistic])
    return ranked + [r for r in rows if r[statistic] is None]
