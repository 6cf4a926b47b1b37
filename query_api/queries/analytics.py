"""Per-experiment analytics over run_metric_summary: leaderboards and parallel coordinates."""

from __future__ import annotations

from typing import Any, Literal

from clickhouse_connect.driver.client import Client

from query_api.queries import run_state

Agg = Literal["last", "min", "max"]
# "last" from last_point's plain tuples (migration 0022), not argMaxMerge(last_value): the same value without
# decoding an argMax state per row (a leaderboard over 10,000 runs 102 -> 54 ms in-process).
AGGREGATES = {"last": "tupleElement(max(last_point), 5)", "min": "min(min_value)", "max": "max(max_value)"}

# Deleted runs are few, and only runs with a deletion event can be deleted: cheaper than folding every run.
DELETED_RUNS = (
    "SELECT run_id FROM runs WHERE experiment_id = {experiment_id:String} AND deleted IS NOT NULL "
    "GROUP BY run_id HAVING argMax(deleted, (event_time, seq)) = 1"
)


def leaderboard_sql(agg: Agg, descending: bool) -> str:
    """The k best live runs by one metric; NaN and missing values never rank."""
    direction = "DESC" if descending else "ASC"
    return f"""
SELECT run_id, {AGGREGATES[agg]} AS v
FROM run_metric_summary
WHERE experiment_id = {{experiment_id:String}} AND key = {{metric:String}} AND run_id NOT IN ({DELETED_RUNS})
GROUP BY run_id
HAVING v IS NOT NULL AND NOT isNaN(v)
ORDER BY v {direction}, run_id ASC
LIMIT {{k:UInt32}}
"""


# A run's card: its name, status and params as they stand now, in one read of run_state.
RUN_CARDS = f"""
SELECT r.run_id, r.name, r.status, r.params
FROM {run_state.of_runs("experiment_id = {experiment_id:String} AND run_id IN {run_ids:Array(String)}",
                        ("name", "status", "params"))} AS r
"""


def leaderboard(
    client: Client, experiment_id: str, metric: str, agg: Agg, descending: bool, k: int
) -> list[dict[str, Any]]:
    """Ranked runs with name, status and params (two queries: the ranking, then the k runs' cards)."""
    params = {"experiment_id": experiment_id, "metric": metric, "k": k}
    ranked = client.query(leaderboard_sql(agg, descending), parameters=params).result_rows
    cards = {
        run_id: (name, status, dict(sorted(run_state.params_of(entries).items())))
        for run_id, name, status, entries in client.query(
            RUN_CARDS, parameters={"experiment_id": experiment_id, "run_ids": [r for r, _ in ranked]}
        ).result_rows
    }
    return [
        {"rank": rank, "run_id": run_id, "name": cards[run_id][0], "status": cards[run_id][1], "value": value,
         "params": cards[run_id][2]}
        for rank, (run_id, value) in enumerate(ranked, 1) if run_id in cards
    ]


# Every live run with the chosen params (only those keys of its params map, their values without versions).
PARALLEL = f"""
SELECT r.run_id, r.name,
       mapApply((k, v) -> (k, {run_state.param_value("v")}), mapFilter((k, v) -> has({{params:Array(String)}}, k),
                r.params)),
       m.v
FROM {run_state.current("experiment_id = {experiment_id:String}", ("name", "deleted", "params"))} AS r
LEFT JOIN (
    SELECT run_id, {{agg_placeholder}} AS v FROM run_metric_summary
    WHERE experiment_id = {{experiment_id:String}} AND key = {{metric:String}} GROUP BY run_id
) AS m ON m.run_id = r.run_id
WHERE r.deleted = 0
ORDER BY r.run_id
SETTINGS join_use_nulls = 1
"""


def _numbers(texts: list[str]) -> list[float] | None:
    """The texts as numbers, or None unless every one is a number."""
    try:
        return list(map(float, texts))
    except ValueError:
        return None


def parallel_coordinates(
    client: Client, experiment_id: str, params: list[str], metric: str, agg: Agg
) -> dict[str, Any]:
    """One row per live run: the chosen params (numbers where every value is one) and the metric."""
    sql = PARALLEL.replace("{agg_placeholder}", AGGREGATES[agg])
    rows = client.query(sql, parameters={"experiment_id": experiment_id, "params": params, "metric": metric})
    runs = [{"run_id": run_id, "name": name, "params": dict(kv or []), "metric": value}
            for run_id, name, kv, value in rows.result_rows]
    return parallel_answer(experiment_id, params, metric, agg, runs)


def parallel_answer(experiment_id: str, params: list[str], metric: str, agg: Agg, runs: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    """The answer from its runs ({run_id, name, params (text values), metric}, by run_id): each param typed
    numeric where every run's value is a number (then the values become floats, in place), else categorical."""
    kinds = {}
    for key in params:
        having = [r["params"] for r in runs if key in r["params"]]
        numbers = _numbers([p[key] for p in having]) if having else None
        kinds[key] = "numeric" if numbers is not None else "categorical"
        for p, number in zip(having, numbers or (), strict=False):
            p[key] = number
    return {"experiment_id": experiment_id, "metric": metric, "agg": agg,
            "dimensions": [{"param": k, "type": kinds[k]} for k in params], "runs": runs}
