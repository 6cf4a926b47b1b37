"""Routes MLflow's own UI calls (not its client): metric histories of several runs, the datasets of experiments,
an artifact upload and download by run. runstream's dashboard does not need them; they are served because they
are cheap and a tool written against MLflow's UI may call them. Errors are MLflow's, word for word."""

from __future__ import annotations

import mimetypes
import posixpath
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from query_api.auth import READS
from query_api.deps import ClickHouseDep
from query_api.jsonresponse import JSONResponse
from query_api.mlflow import protocol as p
from query_api.mlflow.deps import ArtifactsDep, LocationsDep, ReaderDep, WriterDep
from query_api.mlflow.routes import Args, Body, _list_of_str
from query_api.queries import mlflow as q

router = APIRouter(prefix="/mlflow", tags=["mlflow"])
plain = APIRouter(tags=["mlflow"], include_in_schema=False)  # MLflow serves these outside its API prefixes
HISTORY_BULK_MAX_RUNS = 100
HISTORY_BULK_MAX_POINTS = 25000
SEARCH_DATASETS_MAX_EXPERIMENTS = 20


def safe_path(path: str) -> str:
    """A path inside an artifact root, or MLflow's 400 "Invalid path" (its check refuses the same shapes)."""
    decoded = unquote(path)
    if (not path or decoded != path or "\x00" in path or "\\" in path or posixpath.isabs(path)
            or ".." in path.split("/") or posixpath.normpath(path).startswith("..")):
        raise p.MlflowError("Invalid path")
    return path


@router.get("/metrics/get-history-bulk")
def get_history_bulk(args: Args, reader: ReaderDep, clickhouse: ClickHouseDep) -> JSONResponse:
    run_ids = _list_of_str(args.get("run_id"), "run_id")
    if not run_ids:
        raise p.MlflowError("GetMetricHistoryBulk request must specify at least one run_id.")
    if len(run_ids) > HISTORY_BULK_MAX_RUNS:
        raise p.MlflowError(f"GetMetricHistoryBulk request cannot specify more than {HISTORY_BULK_MAX_RUNS} run_ids."
                            f" Received {len(run_ids)} run_ids.")
    key = args.get("metric_key")
    if key is None:
        raise p.MlflowError("GetMetricHistoryBulk request must specify a metric_key.")
    limit = min(p.check_int64(args.get("max_results"), "max_results", default=HISTORY_BULK_MAX_POINTS, minimum=0),
                HISTORY_BULK_MAX_POINTS)
    metrics: list[dict[str, Any]] = []
    for run_id in sorted(run_ids):
        points = q.history(clickhouse, reader.run_experiment(run_id), run_id, key, 0, limit)
        metrics += [p.metric_shape(key, v, ts, step, run_id) for v, ts, step in sorted(points, key=lambda x: (
            x[1], x[2], x[0]))]
    return JSONResponse({"metrics": metrics})


@router.post("/experiments/search-datasets", openapi_extra=READS)
def search_datasets(body: Body, reader: ReaderDep, clickhouse: ClickHouseDep) -> JSONResponse:
    experiment_ids = _list_of_str(body.get("experiment_ids"), "experiment_ids")
    if not experiment_ids:
        raise p.MlflowError("SearchDatasets request must specify at least one experiment_id.")
    if len(experiment_ids) > SEARCH_DATASETS_MAX_EXPERIMENTS:
        raise p.MlflowError(f"SearchDatasets request cannot specify more than {SEARCH_DATASETS_MAX_EXPERIMENTS} "
                            f"experiment_ids. Received {len(experiment_ids)} experiment_ids.")
    reader.barrier.wait()
    summaries = [p.drop_none({**s, "context": s["context"] or None})
                 for s in q.dataset_summaries(clickhouse, experiment_ids)]
    return JSONResponse({"dataset_summaries": summaries} if summaries else {})


@router.post("/upload-artifact")
async def upload_artifact(request: Request, reader: ReaderDep, writer: WriterDep,
                          artifacts: ArtifactsDep) -> JSONResponse:
    """The UI's upload: the body stored at `path` under the run's artifacts and logged as an ArtifactLogged event,
    like an upload through the artifact proxy."""
    run_id = request.query_params.get("run_uuid")
    if not run_id:
        raise p.MlflowError("Request must specify run_uuid.")
    path = request.query_params.get("path")
    if not path:
        raise p.MlflowError("Request must specify path.")
    safe_path(path)
    length = request.headers.get("content-length", "")
    if length == "0":
        raise p.MlflowError("Request must specify data.")
    if length.isdigit():
        artifacts.check_size(int(length))  # 413 before anything is read or stored, as the artifact proxy does
    experiment_id = await run_in_threadpool(reader.run_experiment, run_id)
    await run_in_threadpool(writer.check_can_log, run_id, experiment_id)
    full = f"{experiment_id}/{run_id}/artifacts/{path}"
    chunks = request.stream()
    first = b""
    async for chunk in chunks:  # an empty body is refused before any file is touched
        if chunk:
            first = chunk
            break
    if not first:
        raise p.MlflowError("Request must specify data.")

    async def body() -> Any:
        yield first
        async for rest in chunks:
            yield rest

    stored = await artifacts.write(full, body())  # streamed, bounded by the store's size limit
    try:
        await run_in_threadpool(writer.log_artifact, run_id, experiment_id, stored, path,
                                mimetypes.guess_type(path)[0])
    except BaseException:
        artifacts.remove(full)
        raise
    return JSONResponse({})


@plain.get("/get-artifact")
def get_artifact(args: Args, reader: ReaderDep, locations: LocationsDep) -> FileResponse:
    """A run's artifact file (the UI's download)."""
    run_id = str(args.get("run_uuid") or args.get("run_id") or "")
    path = safe_path(str(args.get("path") or ""))
    target = locations.file(reader.run_artifact_uri(reader.run_experiment(run_id), run_id), path)
    return FileResponse(target, media_type=mimetypes.guess_type(target.name)[0] or "text/plain",
                        filename=target.name)


@plain.get("/model-versions/get-artifact")
@plain.get("//model-versions/get-artifact")  # what MLflow's UI (and its tests) request, double slash included
def get_model_version_artifact(args: Args) -> JSONResponse:
    safe_path(str(args.get("path") or ""))
    raise p.NotImplementedByRunstream("runstream does not serve model version files by registry name "
                                      "(download them from the version's source URI); see docs/mlflow.md")


@plain.api_route("/graphql", methods=["GET", "POST"])
def graphql() -> JSONResponse:
    raise p.NotImplementedByRunstream("runstream does not implement MLflow's GraphQL API; see docs/mlflow.md")
