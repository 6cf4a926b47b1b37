"""Runs: one run, search, a metric's points, the audit history."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from clickhouse_connect.driver.client import Client
from fastapi import APIRouter, Path, Query, Response

from query_api import run_search
from query_api.answers import Version, positions_of
from query_api.curvecopy import CurveCopy
from query_api.deps import ClickHouseDep, CurvesDep, FactsDep, ReadersDep, RememberedDep, RunStatesDep, answered
from query_api.errors import InvalidParameter, NotFound
from query_api.filters import parse_filter
from query_api.jsonresponse import JSONResponse, dumps
from query_api.models import MetricHistory, Run, RunHistory, RunList, SearchRuns
from query_api.paging import PageToken, query_fingerprint
from query_api.queries import curves, diff, experiments, history, runs
from query_api.queries import mlflow as mlflow_queries
from query_api.run_search import RunQuery
from query_api.timefmt import utc_instant
from schemas.ids import RUN_ID_PATTERN, is_run_id

router = APIRouter(prefix="/api/v1", tags=["runs"])
RunId = Path(description="32 lowercase hex characters", pattern=RUN_ID_PATTERN)


def _check_run_id(run_id: str) -> str:
    if not is_run_id(run_id):
        raise InvalidParameter(f"run_id {run_id!r} is not 32 lowercase hex characters")
    return run_id


def experiment_of(clickhouse: ClickHouseDep, facts: FactsDep, run_id: str) -> str:
    experiment_id = facts.run_experiment(clickhouse, _check_run_id(run_id))
    if experiment_id is None:
        raise NotFound(f"run {run_id} does not exist")
    return experiment_id


@router.get("/runs/{run_id}", response_model=Run)
def get_run(
    clickhouse: ClickHouseDep,
    run_id: str = RunId,
    as_of: Annotated[datetime | None, Query(description="ISO-8601: the run as it stood at that instant")] = None,
) -> JSONResponse:
    """The run now, or as it stood at `as_of` (attributes, params, tags, summaries of points logged by then)."""
    found = runs.fetch_runs(clickhouse, [_check_run_id(run_id)], as_of=utc_instant(as_of))
    if not found:
        when = f" at {as_of.isoformat()}" if as_of else ""
        raise NotFound(f"run {run_id} does not exist{when}")
    run = found[0]
    return JSONResponse({**run, "inputs": mlflow_queries.inputs(clickhouse, [run["experiment_id"]], [run_id])[run_id]})


@router.get("/runs/{run_id}/diff")
def get_diff(
    clickhouse: ClickHouseDep,
    from_: Annotated[datetime, Query(alias="from", description="ISO-8601 start instant")],
    to: Annotated[datetime, Query(description="ISO-8601 end instant")],
    run_id: str = RunId,
) -> JSONResponse:
    """What changed between two instants: tags set or removed, params added, status, metric keys and points."""
    start, end = utc_instant(from_), utc_instant(to)
    assert start is not None and end is not None
    if start > end:
        raise InvalidParameter("from is after to")
    before = runs.fetch_runs(clickhouse, [_check_run_id(run_id)], as_of=start)
    after = runs.fetch_runs(clickhouse, [run_id], as_of=end)
    if not after:
        raise NotFound(f"run {run_id} does not exist at {end.isoformat()}")
    return JSONResponse({"run_id": run_id, "from": start.isoformat(), "to": end.isoformat(),
                         **diff.diff_states(before[0] if before else None, after[0])})


@router.post("/runs/search", response_model=RunList)
async def search_runs(request: SearchRuns, clickhouse: ClickHouseDep, readers: ReadersDep, facts: FactsDep,
                remembered: RememberedDep, states: RunStatesDep) -> Response:
    """Runs of the given experiments matching the filter, in order_by order, one page at a time. Asked again
    while nothing new is projected, the answer comes from memory (query_api/answers.py); send
    `Cache-Control: no-cache` to have it read now."""
    def read(version: Version | None = None) -> bytes:  # a question refused (bad filter, unknown experiment)
        # raises here: never remembered. A first page reads at the version's positions (read just before it).
        query = RunQuery.of([], request.filter, parse_filter(request.filter), request.order_by, request.run_view)
        experiment_ids = _resolve_experiments(clickhouse, facts, request)
        asked = replace(query, experiment_ids=tuple(experiment_ids))
        token = PageToken.decode(request.page_token, asked.fingerprint()) if request.page_token else None
        page = run_search.search_runs(clickhouse, asked, limit=request.max_results, token=token, with_state=True,
                                      at=positions_of(version), states=states, version=version)
        names = facts.names_reader(experiment_ids, page.read_at)
        if page.records is not None:  # the in-memory state path: the page's runs came shaped
            found = runs.named(page.records, names(clickhouse) if page.records else [])
        else:
            found = runs.fetch_runs(clickhouse, page.run_ids, experiment_ids=experiment_ids, readers=readers,
                                    state=page.state, names=names)
        facts.remember_runs({r["run_id"]: r["experiment_id"] for r in found})  # a run's curve needs no read of it
        return dumps({"runs": found, "next_page_token": page.next_token.encode() if page.next_token else None})

    return await answered(remembered, "runs/search", request.model_dump(mode="json"), read)


def _resolve_experiments(clickhouse: ClickHouseDep, facts: FactsDep, request: SearchRuns) -> list[str]:
    ids = list(request.experiment_ids or [])
    if request.experiment_ids:
        unknown = set(ids) - facts.known_experiments(clickhouse, ids)
        if unknown:
            raise NotFound(f"no experiment with id {', '.join(sorted(unknown))}")
    if request.experiment_names:
        by_name = experiments.ids_by_name(clickhouse, request.experiment_names)
        missing = [n for n in request.experiment_names if n not in by_name]
        if missing:
            raise NotFound(f"no experiment named {', '.join(repr(n) for n in missing)}")
        ids.extend(by_name[n] for n in request.experiment_names)
    return sorted(set(ids))


@router.get("/runs/{run_id}/metrics/{key:path}", response_model=MetricHistory)
async def get_metric(
    clickhouse: ClickHouseDep,
    facts: FactsDep,
    remembered: RememberedDep,
    copies: CurvesDep,
    key: str,
    run_id: str = RunId,
    max_points: int | None = Query(None, ge=2, le=100_000, description="downsample to at most this many"),
    method: Literal["lttb", "minmax"] = Query("lttb", description="lttb, or minmax buckets that keep spikes"),
    step_min: int | None = Query(None, ge=-(2**63), le=2**63 - 1),
    step_max: int | None = Query(None, ge=-(2**63), le=2**63 - 1),
) -> Response:
    """The points of one metric in step order; downsampled in ClickHouse when max_points is given. Asked again
    while nothing new is projected, the answer comes from memory (`Cache-Control: no-cache` reads it now, and
    it is not remembered). Where the projector this process hosts alone writes, the series' points come from
    its exact in-memory copy (query_api/curvecopy.py), which that projector keeps current."""
    if step_min is not None and step_max is not None and step_min > step_max:
        raise InvalidParameter(f"step_min {step_min} is above step_max {step_max}")

    def read(_: Version | None = None) -> bytes:  # a run or metric not found raises here: never remembered
        experiment_id = experiment_of(clickhouse, facts, run_id)
        points = copied_curve(copies, clickhouse, (experiment_id, run_id, key), max_points=max_points,
                              step_min=step_min, step_max=step_max)
        if points is None:
            points = curves.curve(clickhouse, experiment_id, run_id, key, max_points=max_points, method=method,
                                  step_min=step_min, step_max=step_max)
        if not points and step_min is None and step_max is None:
            raise NotFound(f"run {run_id} has no metric {key!r}")
        return dumps({"run_id": run_id, "key": key, "points": points})

    asked = {"run_id": run_id, "key": key, "max_points": max_points, "method": method, "step_min": step_min,
             "step_max": step_max}
    return await answered(remembered, "runs/metric", asked, read, remember_fresh=False)


def copied_curve(copies: CurveCopy | None, clickhouse: Client, series: tuple[str, str, str], *,
                 max_points: int | None, step_min: int | None, step_max: int | None) -> list[dict[str, Any]] | None:
    """The curve from the in-memory copy of its series, or None where the copy is not used or the curve is
    downsampled: `curves.curve` answers then. Only a whole-curve ask (no range, no max_points) reads and keeps a
    missing series: it reads just what the SQL path would, where a ranged or downsampled ask of a long series
    would read the whole of it first (a dashboard polling a live run's long curve asks again after every batch)."""
    began = copies.begin() if copies is not None else None
    if copies is None or began is None:
        return None
    columns = copies.get(series)
    if columns is None:
        if max_points is not None or step_min is not None or step_max is not None:
            return None
        columns = curves.series(clickhouse, *series)
        copies.keep(series, columns, began)
    return curves.points_of(columns, max_points=max_points, step_min=step_min, step_max=step_max)


@router.get("/runs/{run_id}/history", response_model=RunHistory)
def get_history(
    clickhouse: ClickHouseDep,
    run_id: str = RunId,
    types: str | None = Query(None, description="comma-separated event types, e.g. TagsSet,RunStatusChanged"),
    since: Annotated[datetime | None, Query(description="ISO-8601; events at or after")] = None,
    until: Annotated[datetime | None, Query(description="ISO-8601; events at or before")] = None,
    limit: int = Query(1000, ge=1, le=10_000),
    page_token: str | None = None,
    include_deleted: bool = Query(False, description="also show the history of a deleted run"),
) -> JSONResponse:
    """The run's events in log order: what, who, when, and where in the log; paged."""
    wanted = [t.strip() for t in types.split(",") if t.strip()] if types else []
    unknown = sorted(set(wanted) - set(history.EVENT_TYPES))
    if unknown:
        raise InvalidParameter(f"unknown event type {', '.join(unknown)}; known: {', '.join(history.EVENT_TYPES)}")
    since, until = utc_instant(since), utc_instant(until)
    if since and until and since > until:
        raise InvalidParameter("since is after until")
    seqs, count = history.run_seqs(clickhouse, run_id)
    if count == 0:
        raise NotFound(f"run {run_id} does not exist")
    if not include_deleted and history.is_deleted(clickhouse, run_id):
        raise NotFound(f"run {run_id} is deleted; pass include_deleted=true to read its history")
    fingerprint = query_fingerprint({"run": run_id, "types": wanted, "since": str(since), "until": str(until)})
    after = PageToken.decode(page_token, fingerprint).offset if page_token else -1
    events = history.run_history(clickhouse, run_id, types=wanted, since=since, until=until, after_offset=after,
                                 limit=limit + 1)
    more = len(events) > limit
    events = events[:limit]
    next_token = PageToken(events[-1]["offset"], {}, fingerprint).encode() if more else None
    return JSONResponse({"run_id": run_id, "events": events, "seq_gaps": history.seq_gaps(seqs),
                         "next_page_token": next_token})
