"""Runs: one run, search, a metric's points, the audit history."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Path

from query_api.deps import ClickHouseDep
from query_api.errors import InvalidParameter, NotFound
from query_api.models import MetricHistory, Run, RunHistory, RunList, SearchRuns
from query_api.queries import experiments, history, metrics, runs

router = APIRouter(prefix="/api/v1", tags=["runs"])
RunId = Path(description="32 lowercase hex characters")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def _check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise InvalidParameter(f"run_id {run_id!r} is not 32 lowercase hex characters")
    return run_id


def _experiment_of(clickhouse: ClickHouseDep, run_id: str) -> str:
    experiment_id = runs.run_experiment(clickhouse, _check_run_id(run_id))
    if experiment_id is None:
        raise NotFound(f"run {run_id} does not exist")
    return experiment_id


@router.get("/runs/{run_id}", response_model=Run)
def get_run(clickhouse: ClickHouseDep, run_id: str = RunId) -> dict[str, Any]:
    found = runs.fetch_runs(clickhouse, [_check_run_id(run_id)])
    if not found:
        raise NotFound(f"run {run_id} does not exist")
    return found[0]


@router.post("/runs/search", response_model=RunList)
def search_runs(request: SearchRuns, clickhouse: ClickHouseDep) -> dict[str, Any]:
    """Live runs of the given experiments, newest first."""
    if request.filter and request.filter.strip():
        raise InvalidParameter("filter is not supported yet; search by experiment only")
    if request.order_by:
        raise InvalidParameter("order_by is not supported yet; runs come newest first")
    if request.page_token:
        raise InvalidParameter("page_token is not supported yet")
    ids = list(request.experiment_ids or [])
    if request.experiment_ids:
        unknown = set(ids) - experiments.known_ids(clickhouse, ids)
        if unknown:
            raise NotFound(f"no experiment with id {', '.join(sorted(unknown))}")
    if request.experiment_names:
        by_name = experiments.ids_by_name(clickhouse, request.experiment_names)
        missing = [n for n in request.experiment_names if n not in by_name]
        if missing:
            raise NotFound(f"no experiment named {', '.join(repr(n) for n in missing)}")
        ids.extend(by_name[n] for n in request.experiment_names)
    run_ids = runs.search_run_ids(clickhouse, sorted(set(ids)), request.max_results)
    return {"runs": runs.fetch_runs(clickhouse, run_ids), "next_page_token": None}


@router.get("/runs/{run_id}/metrics/{key:path}", response_model=MetricHistory)
def get_metric(clickhouse: ClickHouseDep, key: str, run_id: str = RunId) -> dict[str, Any]:
    """Every point of one metric, ordered by step."""
    experiment_id = _experiment_of(clickhouse, run_id)
    points = metrics.metric_points(clickhouse, experiment_id, run_id, key)
    if not points:
        raise NotFound(f"run {run_id} has no metric {key!r}")
    return {"run_id": run_id, "key": key, "points": points}


@router.get("/runs/{run_id}/history", response_model=RunHistory)
def get_history(clickhouse: ClickHouseDep, run_id: str = RunId) -> dict[str, Any]:
    """The run's events in log order: what, who, when, and where in the log."""
    events = history.run_history(clickhouse, _check_run_id(run_id))
    if not events:
        raise NotFound(f"run {run_id} does not exist")
    return {"run_id": run_id, "events": events}
