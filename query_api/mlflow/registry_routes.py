"""MLflow's model registry REST API (`/mlflow/registered-models/…`, `/mlflow/model-versions/…`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from query_api.auth import READS
from query_api.jsonresponse import JSONResponse
from query_api.mlflow import entity_filter
from query_api.mlflow import protocol as p
from query_api.mlflow.logged_models import decode_page_token, encode_page_token
from query_api.mlflow.model_deps import RegistryDep
from query_api.mlflow.registry_fold import RegisteredModel, Version
from query_api.mlflow.registry_protocol import epoch_ms, model_shape, version_shape
from query_api.mlflow.routes import Args, Body, _list_of_str, _ok

router = APIRouter(prefix="/mlflow", tags=["mlflow"])


def _params(args: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """MLflow's client sends GET and DELETE parameters in the query string, the rest as JSON; take both."""
    return {**args, **body}


# -- registered models -----------------------------------------------------------------------------------------
@router.post("/registered-models/create")
def create_registered_model(body: Body, registry: RegistryDep) -> JSONResponse:
    tags = p.key_values(body.get("tags"), "tags")
    return _ok({"registered_model": registry.create_model(body.get("name"), body.get("description"), tags)})


@router.get("/registered-models/get")
def get_registered_model(args: Args, registry: RegistryDep) -> JSONResponse:
    return _ok({"registered_model": model_shape(registry.model(args.get("name")))})


@router.post("/registered-models/rename")
def rename_registered_model(body: Body, registry: RegistryDep) -> JSONResponse:
    return _ok({"registered_model": registry.rename_model(body.get("name"), body.get("new_name"))})


@router.patch("/registered-models/update")
def update_registered_model(body: Body, registry: RegistryDep) -> JSONResponse:
    return _ok({"registered_model": registry.update_model(body.get("name"), body.get("description"))})


@router.delete("/registered-models/delete")
def delete_registered_model(args: Args, body: Body, registry: RegistryDep) -> JSONResponse:
    registry.delete_model(_params(args, body).get("name"))
    return _ok()


@router.post("/registered-models/set-tag")
def set_registered_model_tag(body: Body, registry: RegistryDep) -> JSONResponse:
    registry.set_model_tag(body.get("name"), body.get("key"), body.get("value"))
    return _ok()


@router.delete("/registered-models/delete-tag")
def delete_registered_model_tag(args: Args, body: Body, registry: RegistryDep) -> JSONResponse:
    given = _params(args, body)
    registry.delete_model_tag(given.get("name"), given.get("key"))
    return _ok()


@router.post("/registered-models/alias")
def set_alias(body: Body, registry: RegistryDep) -> JSONResponse:
    registry.set_alias(body.get("name"), body.get("alias"), body.get("version"))
    return _ok()


@router.delete("/registered-models/alias")
def delete_alias(args: Args, body: Body, registry: RegistryDep) -> JSONResponse:
    given = _params(args, body)
    registry.delete_alias(given.get("name"), given.get("alias"))
    return _ok()


@router.get("/registered-models/alias")
def get_by_alias(args: Args, registry: RegistryDep) -> JSONResponse:
    return _ok({"model_version": registry.by_alias(args.get("name"), args.get("alias"))})


@router.post("/registered-models/get-latest-versions", openapi_extra=READS)
@router.get("/registered-models/get-latest-versions")
def get_latest_versions(args: Args, body: Body, registry: RegistryDep) -> JSONResponse:
    given = _params(args, body)
    model = registry.model(given.get("name"))
    stages = {s.lower() for s in _list_of_str(given.get("stages"), "stages")}
    latest: dict[str, Version] = {}
    for v in model.live_versions():
        if not stages or v.stage.lower() in stages:
            latest[v.stage] = v
    versions = [version_shape(model, v) for v in sorted(latest.values(), key=lambda v: v.version)]
    return _ok({"model_versions": versions})


def _sorter(order_by: list[str], keys: dict[str, Callable[[Any], Any]], default: list[str]
            ) -> Callable[[list[Any]], list[Any]]:
    clauses = []
    for clause in order_by or default:
        words = clause.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise p.MlflowError(f"Invalid order_by clause '{clause}'.")
        field = words[0].removeprefix("attributes.").removeprefix("attribute.")
        if field not in keys:
            raise p.MlflowError(f"Invalid order by key '{field}' specified. Valid keys are "
                                f"'{sorted(keys)}'")
        clauses.append((keys[field], len(words) == 2 and words[1].upper() == "DESC"))

    def sort(items: list[Any]) -> list[Any]:
        for key, descending in reversed(clauses):
            items = sorted(items, key=key, reverse=descending)
        return items
    return sort


def _page(items: list[Any], args: dict[str, Any], limit_default: int, limit_max: int, query: dict[str, Any]
          ) -> tuple[list[Any], str | None]:
    limit = p.check_max_results(args.get("max_results"), limit_max, default=limit_default)
    offset = decode_page_token(args.get("page_token"), query)
    more = offset + limit < len(items)
    return items[offset: offset + limit], encode_page_token(offset + limit, query) if more else None


@router.get("/registered-models/search")
@router.post("/registered-models/search", openapi_extra=READS)
def search_registered_models(args: Args, body: Body, registry: RegistryDep) -> JSONResponse:
    given = _params(args, body)
    clauses = entity_filter.parse(given.get("filter"))
    order_by = _list_of_str(given.get("order_by"), "order_by")
    models = [m for m in registry.state().values() if not m.deleted]
    found = [m for m in models if entity_filter.matches(clauses, {
        "name": m.name, "description": m.description, "tags": m.tags, "creation_timestamp": epoch_ms(m.created),
        "last_updated_timestamp": epoch_ms(m.updated)})]
    keys: dict[str, Callable[[RegisteredModel], Any]] = {
        "name": lambda m: m.name, "timestamp": lambda m: m.created, "creation_timestamp": lambda m: m.created,
        "last_updated_timestamp": lambda m: m.updated}
    ordered = _sorter(order_by + ([] if any(o.split()[0] == "name" for o in order_by) else ["name ASC"]), keys,
                      ["name ASC"])(found)
    query = {"filter": given.get("filter") or "", "order_by": order_by}
    page, token = _page(ordered, given, 100, 1000, query)
    return _ok({"registered_models": [model_shape(m) for m in page], "next_page_token": token})


# -- model versions ----------------------------------------------------------------------------------------------
@router.post("/model-versions/create")
def create_model_version(body: Body, registry: RegistryDep) -> JSONResponse:
    version = registry.create_version(body.get("name"), body.get("source"), body.get("run_id"),
                                      body.get("model_id"), body.get("run_link"), body.get("description"),
                                      p.key_values(body.get("tags"), "tags"))
    return _ok({"model_version": version})


@router.get("/model-versions/get")
def get_model_version(args: Args, registry: RegistryDep) -> JSONResponse:
    return _ok({"model_version": version_shape(*registry.version(args.get("name"), args.get("version")))})


@router.patch("/model-versions/update")
def update_model_version(body: Body, registry: RegistryDep) -> JSONResponse:
    version = registry.update_version(body.get("name"), body.get("version"), body.get("description"))
    return _ok({"model_version": version})


@router.post("/model-versions/transition-stage")
def transition_stage(body: Body, registry: RegistryDep) -> JSONResponse:
    version = registry.transition_stage(body.get("name"), body.get("version"), body.get("stage"),
                                        body.get("archive_existing_versions"))
    return _ok({"model_version": version})


@router.delete("/model-versions/delete")
def delete_model_version(args: Args, body: Body, registry: RegistryDep) -> JSONResponse:
    given = _params(args, body)
    registry.delete_version(given.get("name"), given.get("version"))
    return _ok()


@router.post("/model-versions/set-tag")
def set_model_version_tag(body: Body, registry: RegistryDep) -> JSONResponse:
    registry.set_version_tag(body.get("name"), body.get("version"), body.get("key"), body.get("value"))
    return _ok()


@router.delete("/model-versions/delete-tag")
def delete_model_version_tag(args: Args, body: Body, registry: RegistryDep) -> JSONResponse:
    given = _params(args, body)
    registry.delete_version_tag(given.get("name"), given.get("version"), given.get("key"))
    return _ok()


@router.get("/model-versions/get-download-uri")
def get_download_uri(args: Args, registry: RegistryDep) -> JSONResponse:
    _, version = registry.version(args.get("name"), args.get("version"))
    return _ok({"artifact_uri": version.storage_location or version.source})


@router.get("/model-versions/search")
@router.post("/model-versions/search", openapi_extra=READS)
def search_model_versions(args: Args, body: Body, registry: RegistryDep) -> JSONResponse:
    given = _params(args, body)
    clauses = entity_filter.parse(given.get("filter"))
    order_by = _list_of_str(given.get("order_by"), "order_by")
    pairs = [(m, v) for m in registry.state().values() if not m.deleted for v in m.live_versions()]
    found = [(m, v) for m, v in pairs if entity_filter.matches(clauses, {
        "name": m.name, "version_number": v.version, "run_id": v.run_id, "source_path": v.source,
        "source": v.source, "current_stage": v.stage, "model_id": v.model_id, "description": v.description,
        "tags": v.tags, "creation_timestamp": epoch_ms(v.created), "last_updated_timestamp": epoch_ms(v.updated)})]
    keys: dict[str, Callable[[tuple[RegisteredModel, Version]], Any]] = {
        "name": lambda mv: mv[0].name, "version_number": lambda mv: mv[1].version,
        "creation_timestamp": lambda mv: mv[1].created, "timestamp": lambda mv: mv[1].created,
        "last_updated_timestamp": lambda mv: mv[1].updated, "run_id": lambda mv: mv[1].run_id or "",
        "current_stage": lambda mv: mv[1].stage}
    ordered = _sorter(order_by, keys, ["last_updated_timestamp DESC", "name ASC", "version_number DESC"])(found)
    query = {"filter": given.get("filter") or "", "order_by": order_by}
    page, token = _page(ordered, given, 10_000, 200_000, query)
    return _ok({"model_versions": [version_shape(m, v) for m, v in page], "next_page_token": token})
