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
MISSING = object()
"""A run without the param."""
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


def _typed(state: ExperimentState, key: str) -> list[Any]:
    """Per row, the param's value as parallel coordinates show it (MISSING where the run lacks it or is deleted):
    floats when every live run's value parses as one (queries/analytics.parallel_answer's rule), else the texts;
    an empty list when no live run has the param. Built once per state (the rows never change)."""
    def build(rows: Any) -> list[Any]:
        texts: list[Any] = [MISSING if row.deleted else row.params.get(key, MISSING) for row in rows]
        if all(t is MISSING for t in texts):
            return []
        try:
            return [t if t is MISSING else float(t) for t in texts]
        except ValueError:
            return texts

    return state.whole(("parallel", key), build)


def _numeric(column: list[Any]) -> bool:
    return next((isinstance(v, float) for v in column if v is not MISSING), False)


def parallel(state: ExperimentState, experiment_id: str, params: list[str], metric: str, agg: str
             ) -> dict[str, Any]:
    """The whole answer queries/analytics.parallel_coordinates gives: every live run by run_id with its name, the
    chosen params in the run's map order (typed per dimension) and the metric's aggregate (None without it)."""
    at = AT[agg]
    columns = {key: _typed(state, key) for key in params}
    numeric = {key: _numeric(column) for key, column in columns.items()}
    runs = []
    for i, row in enumerate(state.rows):
        if row.deleted:
            continue
        found = row.metrics.get(metric)
        runs.append({"run_id": row.run_id, "name": row.name,
                     "params": {k: columns[k][i] for k in row.params if k in columns},
                     "metric": None if found is None else found[at]})
    return {"experiment_id": experiment_id, "metric": metric, "agg": agg,
            "dimensions": [{"param": k, "type": "numeric" if numeric[k] else "categorical"} for k in params],
            "runs": runs}
