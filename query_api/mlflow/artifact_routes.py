"""MLflow's artifact proxy (`mlflow-artifacts:` URIs): upload, download and list files of runs.

An upload is stored whole in the artifact store, then recorded as an ArtifactLogged event through Kafka (size
and sha256 digest); if the event cannot be published the file is removed again, so the store never holds an
artifact the log does not know. Only run artifact paths (<experiment_id>/<run_id>/artifacts/...) and logged models'
artifact paths (<experiment_id>/models/<model_id>/artifacts/..., recorded as LoggedModelArtifactLogged) are accepted.
"""

from __future__ import annotations

import mimetypes
import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from query_api.artifacts import check_relative
from query_api.jsonresponse import JSONResponse
from query_api.mlflow import protocol as p
from query_api.mlflow.deps import ArtifactsDep, WriterDep
from query_api.mlflow.model_deps import get_models

router = APIRouter(prefix="/mlflow-artifacts", tags=["mlflow"])
_RUN_PATH = re.compile(r"^(?P<experiment>[^/]+)/(?P<run>[0-9a-f]{32})/artifacts/(?P<rel>.+)$")
_MODEL_PATH = re.compile(r"^(?P<experiment>[^/]+)/models/(?P<model>m-[0-9a-f]{32})/artifacts/(?P<rel>.+)$")


@router.put("/artifacts/{path:path}")
async def upload(path: str, request: Request, writer: WriterDep, artifacts: ArtifactsDep) -> JSONResponse:
    """Store the request body at `path` and log it on its run."""
    check_relative(path)
    length = request.headers.get("content-length", "")
    if length.isdigit():
        artifacts.check_size(int(length))  # 413 before anything is read or stored
    model = _MODEL_PATH.match(path)
    if model is not None:  # MLflow 3: a logged model's files
        return await _upload_model_file(path, model, request)
    match = _RUN_PATH.match(path)
    if match is None:
        raise p.MlflowError(f"artifact path {path!r} is not under a run's artifact root "
                            "(<experiment_id>/<run_id>/artifacts/<path>)")
    run_id, experiment_id = match.group("run"), match.group("experiment")
    await run_in_threadpool(writer.check_can_log, run_id, experiment_id)
    stored = await artifacts.write(path, request.stream())
    media_type = request.headers.get("content-type")
    if not media_type or media_type == "application/octet-stream":
        media_type = mimetypes.guess_type(path)[0] or media_type
    try:
        await run_in_threadpool(writer.log_artifact, run_id, experiment_id, stored, match.group("rel"), media_type)
    except BaseException:
        artifacts.remove(path)
        raise
    return JSONResponse({})


async def _upload_model_file(path: str, match: re.Match[str], request: Request) -> JSONResponse:
    """Store a file under a logged model's artifact root and record it as a LoggedModelArtifactLogged event."""
    models = await get_models(request)
    experiment_id, model_id = match.group("experiment"), match.group("model")
    await run_in_threadpool(models.check_can_upload, experiment_id, model_id)
    store = models.tracking.artifacts
    stored = await store.write(path, request.stream())
    media_type = mimetypes.guess_type(path)[0] or request.headers.get("content-type")
    try:
        await run_in_threadpool(models.log_artifact, experiment_id, model_id, match.group("rel"),
                                f"mlflow-artifacts:/{stored.path}", stored.size, stored.digest, media_type)
    except BaseException:
        store.remove(path)
        raise
    return JSONResponse({})


@router.get("/artifacts/{path:path}")
def download(path: str, artifacts: ArtifactsDep) -> FileResponse:
    target = artifacts.file(path)
    return FileResponse(target, media_type=mimetypes.guess_type(target.name)[0] or "application/octet-stream",
                        filename=target.name)


@router.get("/artifacts")
def list_files(artifacts: ArtifactsDep, path: str | None = None) -> JSONResponse:
    listed = artifacts.list(path or None)
    files = [p.drop_none({"path": e.path.rsplit("/", 1)[-1], "is_dir": e.is_dir, "file_size": e.size})
             for e in listed]
    return JSONResponse({"files": files} if files else {})
