"""Leaderboards and parallel coordinates evaluated over an experiment's in-memory run state, answering exactly
what query_api/queries/analytics.py's SQL answers. Pure: no I/O.

The SQL ranks every live run with a summary row of the metric (NaN and NULL never rank), ties by run_id, takes
the k first, and only then looks their cards up in run_state, so a ranked run without a state row (metrics
logged for a run no attribute event named) takes a place and a rank but is left out of the answer: such runs
are ranked here too, from the state's `unheld` summaries."""

from __future__ import annotations

from typing import Any

from query_api.statecache.state import ExperimentState, RunRow

AT = {"last": 0, "min": 1, "max": 2}
"""The aggregate's place in a Summary (state.py), as queries/analytics.AGGREGATES computes it."""


def ranking(state: ExperimentState, metric: str, agg: str, descending: bool
            ) -> list[tuple[float, str, RunRow | None]]:
    """(value, run_id, row or None when unheld) of every run that ranks, in the leaderboard's order; built once
    per state and question (the rows never change)."""
    at = AT[agg]

    def build(rows: Any) -> list[Any]:
        ranked: list[tuple[float, str, RunRow | None]] = []
        for row in rows:
            found = row.metrics.get(metric)
            if found is not None and not row.deleted:
                value = found[at]
                if value is not None and value == value:  # NaN never equals itself
                    ranked.append((value, row.run_id, row))
        for run_id, metrics in state.unheld.items():
            found = metrics.get(metric)
            if found is not None:
                value = found[at]
                if value is not None and value == value:
                    ranked.append((value, run_id, None))
        # ORDER BY v ASC|DESC, run_id ASC: -0.0 and 0.0 tie in both, as they do in ClickHouse
        ranked.sort(key=(lambda e: (-e[0], e[1])) if descending else (lambda e: (e[0], e[1])))
        return ranked

    return state.whole(("leaderboard", metric, at, descending), build)


def leaderboard(state: ExperimentState, metric: str, agg: str, descending: bool, k: int) -> list[dict[str, Any]]:
    """The k best live runs, shaped as queries/analytics.leaderboard shapes them."""
    return [
        {"rank": rank, "run_id": run_id, "name": row.name, "status": row.status, "value": value,
         "params": dict(sorted(row.params.items()))}
        for rank, (value, run_id, row) in enumerate(ranking(state, metric, agg, descending)[:k], 1)
        if row is not None
    ]


def parallel_runs(state: ExperimentState, params: list[str], metric: str, agg: str) -> list[dict[str, Any]]:
    """Every live run by run_id: its name, the chosen params (text, in the run's map order) and the metric's
    aggregate (None without it), as queries/analytics.PARALLEL reads them."""
    at = AT[agg]
    keys = frozenset(params)
    runs = []
    for row in state.rows:
        if row.deleted:
            continue
        found = row.metrics.get(metric)
        chosen = row.params
        # a copy when every param of the run is asked for (a sweep's usual question): 3x faster than filtering
        chosen = dict(chosen) if keys.issuperset(chosen) else {k: v for k, v in chosen.items() if k in keys}
        runs.append({"run_id": row.run_id, "name": row.name, "params": chosen,
                     "metric": None if found is None else found[at]})
    return runs
