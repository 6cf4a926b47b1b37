"""A run's artifacts: what its ArtifactLogged events recorded, and the stored files behind them."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter
from fastapi.responses import FileResponse

from query_api.deps import ClickHouseDep, FactsDep, StateDep
from query_api.errors import NotFound
from query_api.jsonresponse import JSONResponse
from query_api.models import ArtifactList
from query_api.queries import mlflow as q
from query_api.routes.runs import RunId, experiment_of
from query_api.timefmt import iso_from_micros

router = APIRouter(prefix="/api/v1", tags=["runs"])


@router.get("/runs/{run_id}/artifacts", response_model=ArtifactList)
def list_artifacts(clickhouse: ClickHouseDep, facts: FactsDep, run_id: str = RunId) -> JSONResponse:
    """The run's artifacts (latest record per path): path, size, sha256 digest, media type, URI, when logged."""
    experiment_id = experiment_of(clickhouse, facts, run_id)
    rows = q.artifacts(clickhouse, experiment_id, run_id)
    return JSONResponse({"run_id": run_id, "artifacts": [
        {"path": path, "size": size, "digest": digest, "media_type": media_type, "uri": uri,
         "logged_at": iso_from_micros(at)} for path, size, digest, media_type, uri, at in rows]})


@router.get("/runs/{run_id}/artifacts/{path:path}")
def download_artifact(clickhouse: ClickHouseDep, facts: FactsDep, state: StateDep, path: str,
                      run_id: str = RunId) -> FileResponse:
    """The bytes of one artifact stored by this server (artifacts logged elsewhere have only their record)."""
    experiment_id = experiment_of(clickhouse, facts, run_id)
    if state.artifacts is None:
        raise NotFound("this server has no artifact store")
    target = state.artifacts.file(f"{experiment_id}/{run_id}/artifacts/{path}")
    return FileResponse(target, media_type=mimetypes.guess_type(target.name)[0] or "application/octet-stream",
                        filename=target.name)
