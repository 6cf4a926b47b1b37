"""MLflow's tracking REST API (2.0), served under /api/2.0/mlflow and /ajax-api/2.0/mlflow."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from query_api import run_search
from query_api.auth import READS
from query_api.deps import ClickHouseDep, ReadersDep
from query_api.jsonresponse import JSONResponse
from query_api.mlflow import dialect as s
from query_api.mlflow import protocol as p
from query_api.mlflow import validation as v
from query_api.mlflow.deps import LocationsDep, ReaderDep, Replays, ReplaysDep, WriterDep
from query_api.paging import query_fingerprint
from query_api.queries import mlflow as q
from query_api.run_search import RunQuery

router = APIRouter(prefix="/mlflow", tags=["mlflow"])


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (MLflow's client sends proto JSON); an empty body is {}."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise p.MlflowError(f"Malformed JSON request body: {exc}") from None
    if not isinstance(body, dict):
        raise p.MlflowError("The request body must be a JSON object")
    return body


async def query_args(request: Request) -> dict[str, Any]:
    """GET parameters; repeated ones (run_ids) become lists."""
    args: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in args:
            args[key] = [*args[key], value] if isinstance(args[key], list) else [args[key], value]
        else:
            args[key] = value
    return args


Body = Annotated[dict[str, Any], Depends(json_body)]
Args = Annotated[dict[str, Any], Depends(query_args)]


def _ok(body: dict[str, Any] | None = None) -> JSONResponse:
    """MLflow's server leaves out unset fields and empty lists."""
    return JSONResponse({k: v for k, v in (body or {}).items() if v is not None and v != []})


def _list_of_str(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str | int) for v in values):
        raise p.MlflowError(p.invalid_value(path, value, "expected a list of strings"))
    return [str(v) for v in values]


# -- experiments ------------------------------------------------------------------------------------------------
@router.post("/experiments/create")
def create_experiment(body: Body, writer: WriterDep) -> JSONResponse:
    """A second create of a name (a retry included) is RESOURCE_ALREADY_EXISTS, as on MLflow's server: nothing
    is created twice, and the client's set_experiment looks the name up again."""
    name = p.check_experiment_name(body.get("name"))
    location = p.check_artifact_location(body.get("artifact_location"), os.getcwd())
    tags = p.check_tags(p.key_values(body.get("tags"), "tags"), p.MAX_EXPERIMENT_TAG_VAL_LENGTH)
    return _ok({"experiment_id": writer.create_experiment(name, location, tags)})


@router.get("/experiments/get")
def get_experiment(args: Args, reader: ReaderDep) -> JSONResponse:
    return _ok({"experiment": reader.experiment(args.get("experiment_id"))})


@router.get("/experiments/get-by-name")
def get_experiment_by_name(args: Args, reader: ReaderDep) -> JSONResponse:
    return _ok({"experiment": reader.experiment_by_name(args.get("experiment_name"))})


@router.get("/experiments/search")
@router.post("/experiments/search", openapi_extra=READS)
def search_experiments(body: Body, args: Args, reader: ReaderDep) -> JSONResponse:
    body = {**args, **body}  # MLflow's server takes GET parameters too
    view = s.view_type(body.get("view_type"))
    limit = p.check_max_results(body.get("max_results"), p.MAX_RESULTS_EXPERIMENTS)
    order_by = _list_of_str(body.get("order_by"), "order_by")
    matches = s.experiment_filter(body.get("filter"))
    query = {"filter": body.get("filter") or "", "order_by": order_by, "view": view}
    fingerprint = query_fingerprint(query)
    offset = s.page_offset(body.get("page_token"), fingerprint)
    found = [e for e in reader.all_experiments() if matches(e) and (
        view == "all" or (e["lifecycle_stage"] == "deleted") == (view == "deleted"))]
    found = s.experiment_order(order_by)(found)
    page = found[offset: offset + limit]
    more = offset + limit < len(found)
    return _ok({"experiments": page, "next_page_token": s.next_token(offset + limit, fingerprint) if more else None})


@router.post("/experiments/update")
def update_experiment(body: Body, writer: WriterDep) -> JSONResponse:
    new_name = p.check_experiment_name(body.get("new_name"), "new_name")
    writer.rename_experiment(p.check_experiment_id(body.get("experiment_id")), new_name)
    return _ok()


@router.post("/experiments/delete")
def delete_experiment(body: Body, writer: WriterDep) -> JSONResponse:
    writer.delete_experiment(p.check_experiment_id(body.get("experiment_id")))
    return _ok()


@router.post("/experiments/restore")
def restore_experiment(body: Body, writer: WriterDep) -> JSONResponse:
    writer.restore_experiment(p.check_experiment_id(body.get("experiment_id")))
    return _ok()


@router.post("/experiments/set-experiment-tag")
def set_experiment_tag(body: Body, writer: WriterDep) -> JSONResponse:
    key = p.check_key("Tag", body.get("key"), "key")
    tags = p.check_tags([(key, p.check_string(body.get("value"), "value"))], p.MAX_EXPERIMENT_TAG_VAL_LENGTH)
    writer.set_experiment_tags(p.check_experiment_id(body.get("experiment_id")), tags)
    return _ok()


@router.post("/experiments/delete-experiment-tag")
def delete_experiment_tag(body: Body, writer: WriterDep) -> JSONResponse:
    key = p.check_key("Tag", body.get("key"), "key")
    writer.delete_experiment_tag(p.check_experiment_id(body.get("experiment_id")), key)
    return _ok()


# -- runs -----------------------------------------------------------------------------------------------------
def _run_id(body: dict[str, Any]) -> str:
    return p.check_run_id(body.get("run_id") or body.get("run_uuid"))


@router.post("/runs/create")
def create_run(body: Body, writer: WriterDep, replays: ReplaysDep, request: Request) -> JSONResponse:
    def run() -> dict[str, Any]:
        tags = p.key_values(body.get("tags"), "tags")
        return {"run": writer.create_run(v.check_new_run(body.get("experiment_id"), body.get("user_id"),
                                                         body.get("start_time"), body.get("run_name"), tags))}
    return _ok(replays.once(request, run))


@router.get("/runs/get")
def get_run(args: Args, reader: ReaderDep) -> JSONResponse:
    return _ok({"run": reader.get_run(_run_id(args))})


@router.post("/runs/update")
def update_run(body: Body, writer: WriterDep) -> JSONResponse:
    info = writer.update_run(_run_id(body), body.get("status"), body.get("end_time"), body.get("run_name"))
    return _ok({"run_info": info})


@router.post("/runs/delete")
def delete_run(body: Body, writer: WriterDep) -> JSONResponse:
    writer.set_run_deleted(_run_id(body), True)
    return _ok()


@router.post("/runs/restore")
def restore_run(body: Body, writer: WriterDep) -> JSONResponse:
    writer.set_run_deleted(_run_id(body), False)
    return _ok()


@router.post("/runs/log-metric")
def log_metric(body: Body, writer: WriterDep) -> JSONResponse:
    writer.log_batch(_run_id(body), v.CheckedBatch([v.check_point(body, None)], {}, {}, [body]))
    return _ok()


@router.post("/runs/log-parameter")
def log_parameter(body: Body, writer: WriterDep) -> JSONResponse:
    run_id = _run_id(body)
    key = p.check_key("Param", body.get("key"), "key")
    writer.log_batch(run_id, v.check_log_batch([], [(key, body.get("value"))], []))
    return _ok()


@router.post("/runs/log-batch")
def log_batch(body: Body, writer: WriterDep) -> JSONResponse:
    metrics = body.get("metrics") or []
    if not isinstance(metrics, list):
        raise p.MlflowError(p.invalid_value("metrics", metrics, "expected a list"))
    writer.log_batch(_run_id(body), v.check_log_batch(metrics, p.key_values(body.get("params"), "params"),
                                                      p.key_values(body.get("tags"), "tags")))
    return _ok()


@router.post("/runs/set-tag")
def set_tag(body: Body, writer: WriterDep) -> JSONResponse:
    run_id = _run_id(body)
    key = p.check_key("Tag", body.get("key"), "key")
    writer.log_batch(run_id, v.check_log_batch([], [], [(key, p.check_string(body.get("value"), "value"))]))
    return _ok()


@router.post("/runs/delete-tag")
def delete_tag(body: Body, writer: WriterDep) -> JSONResponse:
    run_id = body.get("run_id") or body.get("run_uuid")
    if isinstance(run_id, str) and run_id and not p.RUN_ID.match(run_id):  # no such run can exist: 404, as MLflow
        raise p.DoesNotExist(f"Run with id={run_id} not found")
    run_id = _run_id(body)
    writer.delete_tag(run_id, p.check_key("Tag", body.get("key"), "key"))
    return _ok()


@router.post("/runs/log-inputs")
def log_inputs(body: Body, writer: WriterDep) -> JSONResponse:
    run_id = _run_id(body)
    writer.log_inputs(run_id, v.check_datasets(body.get("datasets")), v.check_model_inputs(body.get("models")))
    return _ok()


@router.post("/runs/search", openapi_extra=READS)
def search_runs(body: Body, reader: ReaderDep, clickhouse: ClickHouseDep, readers: ReadersDep) -> JSONResponse:
    experiment_ids = [p.check_experiment_id(e, "experiment_ids") for e in
                      _list_of_str(body.get("experiment_ids"), "experiment_ids")]
    view = s.view_type(body.get("run_view_type"))
    limit = p.check_max_results(body.get("max_results"), p.MAX_RESULTS_RUNS)
    order_by = _list_of_str(body.get("order_by"), "order_by")
    query = RunQuery.of(experiment_ids, body.get("filter"), s.run_filter(body.get("filter")), order_by, view)
    token = s.decode_token(body.get("page_token"), query.fingerprint())
    reader.barrier.wait()
    deleted = reader.deleted_experiments()
    excluded = deleted if view == "active" else ()
    page = run_search.search_runs(clickhouse, query, limit=limit, token=token, exclude_experiments=excluded,
                                  with_state=readers is not None)
    runs = reader.get_runs(page.run_ids, sorted(experiment_ids), deleted, state=page.state, readers=readers)
    return _ok({"runs": runs, "next_page_token": page.next_token.encode_mlflow() if page.next_token else None})


# -- metrics --------------------------------------------------------------------------------------------------
@router.get("/metrics/get-history")
def get_metric_history(args: Args, reader: ReaderDep, clickhouse: ClickHouseDep) -> JSONResponse:
    run_id = _run_id(args)
    key = args.get("metric_key")
    if not key:
        raise p.MlflowError("Missing value for required parameter 'metric_key'.")
    limit = p.check_max_results(args.get("max_results"), p.MAX_HISTORY_PAGE, default=p.MAX_HISTORY_PAGE)
    query = {"run_id": run_id, "key": key}
    fingerprint = query_fingerprint(query)
    offset = s.page_offset(args.get("page_token"), fingerprint)
    experiment_id = reader.run_experiment(run_id)
    points = q.history(clickhouse, experiment_id, run_id, key, offset, limit + 1)
    more = len(points) > limit
    metrics = [p.metric_shape(key, v, ts, step) for v, ts, step in points[:limit]]
    return _ok({"metrics": metrics, "next_page_token": s.next_token(offset + limit, fingerprint) if more else None})


@router.get("/metrics/get-history-bulk-interval")
def get_history_bulk_interval(args: Args, reader: ReaderDep, clickhouse: ClickHouseDep) -> JSONResponse:
    asked = _list_of_str(args.get("run_ids"), "run_ids")  # checked in MLflow's order, its words
    if not asked:
        raise p.MlflowError("Missing value for required parameter 'run_ids'.")
    if len(asked) > p.BULK_MAX_RUNS:
        raise p.MlflowError(f"GetMetricHistoryBulkInterval request must specify at most {p.BULK_MAX_RUNS} "
                            f"run_ids. Received {len(asked)} run_ids.")
    key = args.get("metric_key")
    if not key:
        raise p.MlflowError("Missing value for required parameter 'metric_key'.")
    limit = p.check_int64(args.get("max_results"), "max_results", default=p.BULK_MAX_POINTS)
    if not 1 <= limit <= p.BULK_MAX_POINTS:
        raise p.MlflowError(f"max_results must be between 1 and {p.BULK_MAX_POINTS}.")
    if (args.get("start_step") is None) != (args.get("end_step") is None):
        raise p.MlflowError("If either start step or end step are specified, both must be specified.")
    start = p.check_int64(args.get("start_step"), "start_step", default=p.INT64_MIN)
    end = p.check_int64(args.get("end_step"), "end_step", default=p.INT64_MAX)
    if start > end:
        raise p.MlflowError("end_step must be greater than start_step. Found start_step="
                            f"{start} and end_step={end}.")
    run_ids = [p.check_run_id(r, "run_ids") for r in asked]
    experiments = sorted(reader.run_experiments(run_ids))
    rows = q.interval(clickhouse, experiments, sorted(set(run_ids)), key, start, end, max(limit, 2))
    # p.metric_shape's dict, built inline: a call per point was a sixth of the route's time at 20,000 points
    return _ok({"metrics": [{"key": key, "value": v, "timestamp": ts, "step": step, "run_id": run_id}
                            for run_id, v, ts, step in rows]})


# -- artifacts (listing through the tracking API) ---------------------------------------------------------------
@router.get("/artifacts/list")
def list_artifacts(args: Args, reader: ReaderDep, locations: LocationsDep) -> JSONResponse:
    run_id = _run_id(args)
    root_uri = reader.run_artifact_uri(reader.run_experiment(run_id), run_id)
    files = locations.listing(root_uri, str(args.get("path") or "") or None)
    return _ok({"root_uri": root_uri, "files": files or None})


__all__ = ["Replays", "router"]
