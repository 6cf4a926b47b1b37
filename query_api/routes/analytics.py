"""Sweep analytics: leaderboards, parallel coordinates, comparisons."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from query_api.answers import Version
from query_api.deps import ClickHouseDep, FactsDep, ReadersDep, RememberedDep, RunStatesDep, answered
from query_api.errors import InvalidParameter, NotFound
from query_api.jsonresponse import JSONResponse, dumps
from query_api.models import CompareRequest, Comparison, Leaderboard, ParallelCoordinates
from query_api.queries import analytics, curves, runs
from query_api.statecache import analytics as held
from query_api.statecache.cache import RunStates
from query_api.statecache.state import ExperimentState

router = APIRouter(prefix="/api/v1", tags=["analytics"])
Agg = Literal["last", "min", "max"]


def _known_experiment(clickhouse: ClickHouseDep, facts: FactsDep, experiment_id: str) -> str:
    if not facts.known_experiments(clickhouse, [experiment_id]):
        raise NotFound(f"no experiment with id {experiment_id}")
    return experiment_id


def _state(states: RunStates | None, clickhouse: ClickHouseDep, experiment_id: str, version: Version | None,
           question: str) -> ExperimentState | None:
    """The experiment's in-memory run state when it holds everything up to `version` (query_api/statecache/;
    loaded in the background as for a search), else None: ClickHouse answers. Counted by path."""
    if states is None:
        return None
    state = states.state_at(clickhouse, experiment_id, version)
    states.answered(question, held=state is not None)
    return state


@router.get("/experiments/{experiment_id}/leaderboard", response_model=Leaderboard)
async def leaderboard(
    clickhouse: ClickHouseDep,
    facts: FactsDep,
    remembered: RememberedDep,
    states: RunStatesDep,
    experiment_id: str,
    metric: str = Query(min_length=1, max_length=250),
    order: Literal["asc", "desc"] = "asc",
    k: int = Query(10, ge=1, le=1000),
    agg: Agg = "last",
) -> Response:
    """The k best live runs by a metric (its last, min or max value), with their params. Asked again while
    nothing new is projected, the answer comes from memory (`Cache-Control: no-cache` reads it now)."""
    def read(version: Version | None) -> bytes:  # an unknown experiment raises here: never remembered
        _known_experiment(clickhouse, facts, experiment_id)
        state = _state(states, clickhouse, experiment_id, version, "leaderboard")
        if state is not None:
            entries = held.leaderboard(state, metric, agg, order == "desc", k)
        else:
            entries = analytics.leaderboard(clickhouse, experiment_id, metric, agg, order == "desc", k)
        return dumps({"experiment_id": experiment_id, "metric": metric, "agg": agg, "order": order,
                      "runs": entries})

    asked = {"experiment_id": experiment_id, "metric": metric, "order": order, "k": k, "agg": agg}
    return await answered(remembered, "experiments/leaderboard", asked, read)


@router.get("/experiments/{experiment_id}/parallel-coordinates", response_model=ParallelCoordinates)
async def parallel_coordinates(
    clickhouse: ClickHouseDep,
    facts: FactsDep,
    remembered: RememberedDep,
    states: RunStatesDep,
    experiment_id: str,
    params: str = Query(min_length=1, max_length=50 * 251, description="comma-separated param keys (1 to 50)"),
    metric: str = Query(min_length=1, max_length=250),
    agg: Agg = "last",
) -> Response:
    """One row per live run with the chosen params and metric, ready to plot. Asked again while nothing new is
    projected, the answer comes from memory (`Cache-Control: no-cache` reads it now)."""
    keys = [p.strip() for p in params.split(",") if p.strip()]
    if not keys or len(keys) > 50:
        raise InvalidParameter("params must name 1 to 50 comma-separated param keys")

    def read(version: Version | None) -> bytes:  # an unknown experiment raises here: never remembered
        _known_experiment(clickhouse, facts, experiment_id)
        state = _state(states, clickhouse, experiment_id, version, "parallel_coordinates")
        if state is not None:
            return dumps(held.parallel(state, experiment_id, keys, metric, agg))
        return dumps(analytics.parallel_coordinates(clickhouse, experiment_id, keys, metric, agg))

    asked = {"experiment_id": experiment_id, "params": keys, "metric": metric, "agg": agg}
    return await answered(remembered, "experiments/parallel-coordinates", asked, read)


@router.post("/compare", response_model=Comparison)
def compare(request: CompareRequest, clickhouse: ClickHouseDep, facts: FactsDep, readers: ReadersDep) -> JSONResponse:
    """Params side by side (differences flagged), metric summaries and downsampled curves of 1-100 runs."""
    run_ids = list(dict.fromkeys(request.run_ids))
    experiment_of = facts.run_experiments(clickhouse, run_ids)
    missing = sorted(set(run_ids) - set(experiment_of))
    if missing:
        raise NotFound(f"no run with id {', '.join(missing)}")
    experiment_ids = sorted(set(experiment_of.values()))
    if readers is not None and request.metric_keys is not None:  # the runs' shape and the curves side by side
        keys = request.metric_keys
        results: list[Any] = readers.run(
            *runs.shape_reads(run_ids, experiment_ids),
            lambda c: curves.curves_for_runs(c, experiment_ids, run_ids, keys, request.max_points))
        *shaped, curve_rows = results
        found = runs.shape_results(run_ids, shaped)
    else:
        found = runs.fetch_runs(clickhouse, run_ids, experiment_ids=experiment_ids, readers=readers)
        keys = request.metric_keys if request.metric_keys is not None else sorted(
            {k for r in found for k in r["metrics"]})
        curve_rows = curves.curves_for_runs(clickhouse, experiment_ids, run_ids, keys, request.max_points)
    all_params = sorted({k for r in found for k in r["params"]})
    compared = []
    for key in all_params:
        values = {r["run_id"]: r["params"].get(key) for r in found}
        compared.append({"key": key, "values": values, "differs": len(set(values.values())) > 1})
    return JSONResponse({"runs": found, "params": compared, "curves": curve_rows})
