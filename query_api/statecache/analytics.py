"""Leaderboards and parallel coordinates evaluated over an experiment's in-memory run state, answering exactly
what query_api/queries/analytics.py's SQL answers. Pure: no I/O.

The SQL ranks every live run with a summary row of the metric (NaN and NULL never rank), ties by run_id, takes
the k first, and only then looks their cards up in run_state, so a ranked run without a state row (metrics
logged for a run no attribute event named) takes a place and a rank but is left out of the answer: such runs
are ranked here too, from the state's `unheld` summaries."""

from __future__ import annotations

from array import array
from typing import Any, cast

from query_api.statecache.state import ExperimentState

AT = {"last": 0, "min": 1, "max": 2}
"""The aggregate's place in a Summary (state.py), as queries/analytics.AGGREGATES computes it."""


def ranking(state: ExperimentState, metric: str, agg: str, descending: bool) -> array[int]:
    """The runs that rank, in the leaderboard's order, as places: i < len(rows) is rows[i], len(rows) + j the
    j-th run of `unheld`. Built once per state and question (the rows never change), kept compactly (4 bytes a
    run: a state keeps up to MAX_COLUMNS of these and of the search's columns)."""
    at = AT[agg]
    held = len(state.rows)

    def build(rows: Any) -> array[int]:
        ranked: list[tuple[float, str, int]] = []
        for i, row in enumerate(rows):
            found = row.metrics.get(metric)
            if found is not None and not row.deleted:
                value = found[at]
                if value is not None and value == value:  # NaN never equals itself
                    ranked.append((-value if descending else value, row.run_id, i))
        for j, (run_id, metrics) in enumerate(state.unheld.items()):
            found = metrics.get(metric)
            if found is not None:
                value = found[at]
                if value is not None and value == value:
                    ranked.append((-value if descending else value, run_id, held + j))
        # ORDER BY v ASC|DESC, run_id ASC (run ids are unique): -0.0 and 0.0 tie, as they do in ClickHouse
        ranked.sort()
        return array("i", [place for _, _, place in ranked])

    # kept beside the search's value lists (an array is a sequence as they are)
    return cast("array[int]", state.whole(("leaderboard", metric, at, descending), build))  # type: ignore[arg-type]


def leaderboard(state: ExperimentState, metric: str, agg: str, descending: bool, k: int) -> list[dict[str, Any]]:
    """The k best live runs, shaped as queries/analytics.leaderboard shapes them (an unheld run keeps its rank
    and is left out)."""
    at, rows = AT[agg], state.rows
    entries = []
    for rank, place in enumerate(ranking(state, metric, agg, descending)[:k], 1):
        if place < len(rows):
            row = rows[place]
            entries.append({"rank": rank, "run_id": row.run_id, "name": row.name, "status": row.status,
                            "value": row.metrics[metric][at], "params": dict(sorted(row.params.items()))})
    return entries


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
