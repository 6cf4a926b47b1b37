"""Grouped analytics: curves and leaderboards across the runs of each group (seeds of one configuration)."""

from __future__ import annotations

import json

from fastapi import APIRouter
from starlette.responses import Response

from query_api.deps import ClickHouseDep, FactsDep
from query_api.errors import InvalidParameter, NotFound
from query_api.filters import parse_filter
from query_api.groups_models import (
    GroupCurvesRequest,
    GroupCurvesResponse,
    GroupLeaderboardRequest,
    GroupLeaderboardResponse,
    GroupScope,
)
from query_api.jsonresponse import JSONResponse
from query_api.queries import groups

router = APIRouter(prefix="/api/v1/groups", tags=["groups"])


def _groups(clickhouse: ClickHouseDep, facts: FactsDep, request: GroupScope) -> tuple[list[str], list[groups.Group]]:
    experiment_ids = sorted(set(request.experiment_ids))
    unknown = set(experiment_ids) - facts.known_experiments(clickhouse, experiment_ids)
    if unknown:
        raise NotFound(f"no experiment with id {', '.join(sorted(unknown))}")
    if len(set(request.group_by)) != len(request.group_by):
        raise InvalidParameter("group_by names a key twice")
    node = parse_filter(request.filter)
    return experiment_ids, groups.select_groups(clickhouse, experiment_ids, node, request.group_by)


@router.post("/curves", response_model=GroupCurvesResponse)
def group_curves(request: GroupCurvesRequest, clickhouse: ClickHouseDep, facts: FactsDep) -> Response:
    """Per group and metric: mean, std, min, max, median and run count per step bucket, over every point."""
    if request.step_min is not None and request.step_max is not None and request.step_min > request.step_max:
        raise InvalidParameter(f"step_min {request.step_min} is above step_max {request.step_max}")
    experiment_ids, found = _groups(clickhouse, facts, request)
    keys = list(dict.fromkeys(request.metric_keys))
    series = groups.grouped_curves(clickhouse, experiment_ids, found, keys, request.max_points,
                                   request.step_min, request.step_max)
    return Response(render_curves(found, series), media_type="application/json")


def render_curves(found: list[groups.Group], series: list[dict[str, str]]) -> bytes:
    """The response body, around the series ClickHouse already wrote as JSON (parsing them again would cost
    more than the query)."""
    parts = []
    for group, metrics in zip(found, series, strict=True):
        inner = ",".join(f"{json.dumps(key)}:{text}" for key, text in metrics.items())
        parts.append(f'{{"key":{json.dumps(group.key)},"run_ids":{json.dumps(group.run_ids)},"metrics":{{{inner}}}}}')
    return ('{"groups":[' + ",".join(parts) + "]}").encode()


@router.post("/leaderboard", response_model=GroupLeaderboardResponse)
def group_leaderboard(request: GroupLeaderboardRequest, clickhouse: ClickHouseDep, facts: FactsDep) -> JSONResponse:
    """Groups ranked by the mean or median of a run-level summary (last, min, max) of one metric."""
    experiment_ids, found = _groups(clickhouse, facts, request)
    ranked = groups.grouped_leaderboard(clickhouse, experiment_ids, found, request.metric_key, request.summary,
                                        request.statistic, request.order == "desc")
    return JSONResponse({"groups": ranked})
