"""MLflow 3 logged models (`/mlflow/logged-models…`) and run outputs (`/mlflow/runs/outputs`)."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter
from fastapi.responses import FileResponse

from query_api.auth import READS
from query_api.jsonresponse import JSONResponse
from query_api.mlflow import protocol as p
from query_api.mlflow.model_deps import ModelsDep
from query_api.mlflow.routes import Args, Body, _list_of_str, _ok, _run_id

router = APIRouter(prefix="/mlflow", tags=["mlflow"])


@router.post("/logged-models")
def create_logged_model(body: Body, models: ModelsDep) -> JSONResponse:
    model = models.create(body.get("experiment_id"), body.get("name"), body.get("source_run_id"),
                          body.get("model_type"), p.key_values(body.get("params"), "params"),
                          p.key_values(body.get("tags"), "tags"))
    return _ok({"model": model})


@router.post("/logged-models/search", openapi_extra=READS)
def search_logged_models(body: Body, models: ModelsDep) -> JSONResponse:
    experiment_ids = [p.check_experiment_id(e, "experiment_ids")
                      for e in _list_of_str(body.get("experiment_ids"), "experiment_ids")]
    if not experiment_ids:
        return _ok({"models": []})
    found, token = models.search(experiment_ids, body.get("filter"), body.get("datasets"), body.get("max_results"),
                                 body.get("order_by"), body.get("page_token"))
    return _ok({"models": found, "next_page_token": token})


@router.get("/logged-models/{model_id}")
def get_logged_model(model_id: str, models: ModelsDep) -> JSONResponse:
    return _ok({"model": models.get(model_id)})


@router.patch("/logged-models/{model_id}")
def finalize_logged_model(model_id: str, body: Body, models: ModelsDep) -> JSONResponse:
    if body.get("status") is None:
        raise p.MlflowError("Missing value for required parameter 'status'.")
    return _ok({"model": models.finalize(model_id, body.get("status"))})


@router.delete("/logged-models/{model_id}")
def delete_logged_model(model_id: str, models: ModelsDep) -> JSONResponse:
    models.delete(model_id)
    return _ok()


@router.patch("/logged-models/{model_id}/tags")
def set_logged_model_tags(model_id: str, body: Body, models: ModelsDep) -> JSONResponse:
    models.set_tags(model_id, p.key_values(body.get("tags"), "tags"))
    return _ok()


@router.delete("/logged-models/{model_id}/tags/{key:path}")
def delete_logged_model_tag(model_id: str, key: str, models: ModelsDep) -> JSONResponse:
    models.delete_tag(model_id, key)
    return _ok()


@router.post("/logged-models/{model_id}/params")
def log_logged_model_params(model_id: str, body: Body, models: ModelsDep) -> JSONResponse:
    models.log_params(model_id, p.key_values(body.get("params"), "params"))
    return _ok()


@router.get("/logged-models/{model_id}/artifacts/directories")
def list_logged_model_artifacts(model_id: str, args: Args, models: ModelsDep) -> JSONResponse:
    uri = str(models.get(model_id)["info"]["artifact_uri"])
    files = models.tracking.locations.listing(uri, str(args.get("artifact_directory_path") or "") or None)
    return _ok({"root_uri": uri, "files": files or None})


@router.get("/logged-models/{model_id}/artifacts/files")
def get_logged_model_artifact(model_id: str, args: Args, models: ModelsDep) -> FileResponse:
    """One file of a logged model (what MLflow's UI downloads), by its path under the model's artifact root."""
    uri = str(models.get(model_id)["info"]["artifact_uri"])
    target = models.tracking.locations.file(uri, str(args.get("artifact_file_path") or ""))
    return FileResponse(target, media_type=mimetypes.guess_type(target.name)[0] or "text/plain",
                        filename=target.name)


@router.post("/runs/outputs")
def log_outputs(body: Body, models: ModelsDep) -> JSONResponse:
    models.log_outputs(_run_id(body), body.get("models") or [])
    return _ok()

