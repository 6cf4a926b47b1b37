"""Experiments."""

from fastapi import APIRouter

from query_api.deps import ClickHouseDep
from query_api.jsonresponse import JSONResponse
from query_api.models import ExperimentList
from query_api.queries import experiments

router = APIRouter(prefix="/api/v1", tags=["experiments"])


@router.get("/experiments", response_model=ExperimentList)
def list_experiments(clickhouse: ClickHouseDep) -> JSONResponse:
    """Every experiment with its number of live runs and last activity."""
    return JSONResponse({"experiments": experiments.list_experiments(clickhouse)})
