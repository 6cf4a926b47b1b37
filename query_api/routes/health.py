"""GET /healthz: 200 when Kafka, ClickHouse and the projector are fine, 503 with the reason otherwise."""

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from query_api import health
from query_api.deps import StateDep
from query_api.jsonresponse import JSONResponse

router = APIRouter()


@router.get("/healthz")
async def healthz(state: StateDep) -> JSONResponse:
    ready, body = await run_in_threadpool(health.check, state)
    return JSONResponse(body, status_code=200 if ready else 503)
