"""The model registry's audit trail under /api/v1: history of a registered model and of each version, the
registry as of any instant ("which version did @champion point to at T"), and a version's lineage
(version -> logged model -> run -> datasets and metrics)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from query_api.deps import ClickHouseDep
from query_api.errors import NotFound
from query_api.mlflow.registry_fold import RegisteredModel, by_name, fold
from query_api.mlflow.registry_protocol import model_shape, version_shape
from query_api.queries import models as model_queries
from query_api.queries import registry as q
from query_api.queries import runs as run_queries
from query_api.timefmt import iso_from_micros, utc_instant
from schemas.model_events import REGISTRY_EVENTS

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])
AsOf = Annotated[datetime | None, Query(description="ISO-8601: the registry as it stood at that instant")]
REGISTRY_TYPES = [t.__name__ for t in REGISTRY_EVENTS]


def _registry(request: Request, clickhouse: Any, as_of: datetime | None = None) -> dict[str, RegisteredModel]:
    """The registry folded from its events (these routes already waited for this instance's own writes)."""
    return fold(q.rows(clickhouse), utc_instant(as_of))


def _model(models: dict[str, RegisteredModel], name: str, when: datetime | None = None) -> RegisteredModel:
    """The live model of that name, else the most recently created one (deleted) that had it."""
    found = by_name(models, name) or max((m for m in models.values() if m.name == name),
                                         key=lambda m: m.created, default=None)
    if found is None:
        at = f" at {when.isoformat()}" if when else ""
        raise NotFound(f"registered model {name!r} does not exist{at}")
    return found


@router.get("/models")
def list_models(request: Request, clickhouse: ClickHouseDep, as_of: AsOf = None) -> dict[str, Any]:
    """Every live registered model (as of an instant when given), MLflow-shaped, with its versions."""
    models = _registry(request, clickhouse, as_of)
    live = sorted((m for m in models.values() if not m.deleted), key=lambda m: m.name)
    return {"as_of": as_of.isoformat() if as_of else None, "models": [
        {**model_shape(m), "versions": [version_shape(m, v) for v in m.live_versions()]} for m in live]}


@router.get("/models/{name}")
def get_model(name: str, request: Request, clickhouse: ClickHouseDep, as_of: AsOf = None) -> dict[str, Any]:
    model = _model(_registry(request, clickhouse, as_of), name, as_of)
    return {**model_shape(model), "registered_model_id": model.registered_model_id, "deleted": model.deleted,
            "versions": [version_shape(model, v) for v in model.live_versions()],
            "as_of": as_of.isoformat() if as_of else None}


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": str(row["event_id"]), "type": row["type"], "event_time": iso_from_micros(row["event_time_us"]),
            "partition": row["partition"], "offset": row["offset"], "payload": json.loads(row["payload"]),
            "producer": {"user": row["user"], "host": row["host"]}}


@router.get("/models/{name}/history")
def model_history(name: str, request: Request, clickhouse: ClickHouseDep) -> dict[str, Any]:
    """Every change of the registered model, its versions and aliases: what, who, when, log position."""
    model = _model(_registry(request, clickhouse), name)
    events = [_event(r) for r in q.history(clickhouse, model.registered_model_id, REGISTRY_TYPES)]
    return {"name": model.name, "registered_model_id": model.registered_model_id, "events": events}


@router.get("/models/{name}/versions/{version}/history")
def version_history(name: str, version: int, request: Request, clickhouse: ClickHouseDep) -> dict[str, Any]:
    """The changes of one version: its creation, descriptions, stages, tags, deletion, and the aliases
    set to it (or moved away from it: an alias set to another version, or deleted, while it pointed here)."""
    model = _model(_registry(request, clickhouse), name)
    if version not in model.versions:
        raise NotFound(f"registered model {name!r} has no version {version}")
    events, pointing = [], set()
    for row in q.history(clickhouse, model.registered_model_id, REGISTRY_TYPES):
        payload = json.loads(row["payload"])
        alias = payload.get("alias")
        mine = payload.get("version") == version
        if row["type"] == "ModelAliasSet":
            moved_away = alias in pointing and not mine
            if mine:
                pointing.add(alias)
            else:
                pointing.discard(alias)
            if mine or moved_away:
                events.append(_event(row))
        elif row["type"] == "ModelAliasDeleted":
            if alias in pointing:
                pointing.discard(alias)
                events.append(_event(row))
        elif mine:
            events.append(_event(row))
    return {"name": model.name, "version": version, "events": events}


@router.get("/models/{name}/aliases/{alias}")
def alias_as_of(name: str, alias: str, request: Request, clickhouse: ClickHouseDep,
                as_of: AsOf = None) -> dict[str, Any]:
    """Which version the alias pointed to (now, or at `as_of`), and the alias's whole timeline."""
    rows = q.rows(clickhouse)
    now = fold(rows)
    model = _model(now, name)
    then = fold(rows, utc_instant(as_of)).get(model.registered_model_id) if as_of else model
    timeline = []
    for row in rows:
        if row["registered_model_id"] == model.registered_model_id and row["alias"] == alias:
            timeline.append({"event_time": row["event_time"].astimezone(UTC).isoformat(),
                             "version": row["version"] if row["event_type"] == "ModelAliasSet" else None,
                             "partition": row["kafka_partition"], "offset": row["kafka_offset"]})
    version = then.aliases.get(alias) if then is not None else None
    return {"name": model.name, "alias": alias, "as_of": as_of.isoformat() if as_of else None, "version": version,
            "timeline": timeline}


@router.get("/models/{name}/versions/{version}/lineage")
def lineage(name: str, version: int, request: Request, clickhouse: ClickHouseDep) -> dict[str, Any]:
    """version -> logged model (params, tags, metrics) -> run (params, metric summaries, dataset inputs)."""
    model = _model(_registry(request, clickhouse), name)
    found = model.versions.get(version)
    if found is None:
        raise NotFound(f"registered model {name!r} has no version {version}")
    out: dict[str, Any] = {"version": version_shape(model, found), "deleted": found.deleted, "logged_model": None,
                           "run": None}
    run_id = found.run_id
    if found.model_id:
        logged = model_queries.models(clickhouse, model_ids=[found.model_id])
        if logged:
            extra = model_queries.details(clickhouse, [found.model_id])[found.model_id]
            out["logged_model"] = {**logged[0], **extra}
            run_id = run_id or logged[0]["source_run_id"]
    if run_id:
        runs = run_queries.fetch_runs(clickhouse, [run_id])
        out["run"] = runs[0] if runs else {"run_id": run_id, "missing": True}
    return out
