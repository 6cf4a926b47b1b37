"""Sweep analytics: leaderboards, parallel coordinates, comparisons."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from query_api.deps import ClickHouseDep
from query_api.errors import InvalidParameter, NotFound
from query_api.jsonresponse import JSONResponse
from query_api.models import CompareRequest, Comparison, Leaderboard, ParallelCoordinates
from query_api.queries import analytics, curves, experiments, runs

router = APIRouter(prefix="/api/v1", tags=["analytics"])
Agg = Literal["last", "min", "max"]


def _known_experiment(clickhouse: ClickHouseDep, experiment_id: str) -> str:
    if not experiments.known_ids(clickhouse, [experiment_id]):
        raise NotFound(f"no experiment with id {experiment_id}")
    return experiment_id


@router.get("/experiments/{experiment_id}/leaderboard", response_model=Leaderboard)
def leaderboard(
    clickhouse: ClickHouseDep,
    experiment_id: str,
    metric: str = Query(min_length=1, max_length=250),
    order: Literal["asc", "desc"] = "asc",
    k: int = Query(10, ge=1, le=1000),
    agg: Agg = "last",
) -> JSONResponse:
    """The k best live runs by a metric (its last, min or max value), with their params."""
    _known_experiment(clickhouse, experiment_id)
    entries = analytics.leaderboard(clickhouse, experiment_id, metric, agg, order == "desc", k)
    return JSONResponse({"experiment_id": experiment_id, "metric": metric, "agg": agg, "order": order, "runs": entries})


@router.get("/experiments/{experiment_id}/parallel-coordinates", response_model=ParallelCoordinates)
def parallel_coordinates(
    clickhouse: ClickHouseDep,
    experiment_id: str,
    params: str = Query(min_length=1, description="comma-separated param keys"),
    metric: str = Query(min_length=1, max_length=250),
    agg: Agg = "last",
) -> JSONResponse:
    """One row per live run with the chosen params and metric, ready to plot."""
    keys = [p.strip() for p in params.split(",") if p.strip()]
    if not keys or len(keys) > 50:
        raise InvalidParameter("params must name 1 to 50 comma-separated param keys")
    _known_experiment(clickhouse, experiment_id)
    return JSONResponse(analytics.parallel_coordinates(clickhouse, experiment_id, keys, metric, agg))


@router.post("/compare", response_model=Comparison)
def compare(request: CompareRequest, clickhouse: ClickHouseDep) -> JSONResponse:
    """Params side by side (differences flagged), metric summaries and downsampled curves of 1-100 runs."""
    run_ids = list(dict.fromkeys(request.run_ids))
    found = runs.fetch_runs(clickhouse, run_ids)
    missing = sorted(set(run_ids) - {r["run_id"] for r in found})
    if missing:
        raise NotFound(f"no run with id {', '.join(missing)}")
    keys = request.metric_keys if request.metric_keys is not None else sorted(
        {k for r in found for k in r["metrics"]})
    all_params = sorted({k for r in found for k in r["params"]})
    compared = []
    for key in all_params:
        values = {r["run_id"]: r["params"].get(key) for r in found}
        compared.append({"key": key, "values": values, "differs": len(set(values.values())) > 1})
    experiment_ids = sorted({r["experiment_id"] for r in found})
    return JSONResponse({"runs": found, "params": compared,
            "curves": curves.curves_for_runs(clickhouse, experiment_ids, run_ids, keys, request.max_points)})
