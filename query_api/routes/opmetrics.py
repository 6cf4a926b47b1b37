"""GET /metrics for Prometheus (no run data: open like /healthz)."""

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from query_api import opmetrics
from query_api.deps import StateDep

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(state: StateDep) -> Response:
    return Response(await run_in_threadpool(opmetrics.render, state), media_type=CONTENT_TYPE_LATEST)
