"""The MLflow model registry: one row per registry event; the read side folds them (as of any instant)."""

from __future__ import annotations

from typing import Any

from consumers.projections.base import COORDINATES, Block, LoggedEvent, Projection, coordinates
from schemas.model_events import (
    REGISTRY_EVENTS,
    ModelAliasDeleted,
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionDescribed,
    ModelVersionStageChanged,
    ModelVersionTagDeleted,
    ModelVersionTagsSet,
    RegisteredModelCreated,
    RegisteredModelDescribed,
    RegisteredModelRenamed,
    RegisteredModelTagDeleted,
    RegisteredModelTagsSet,
)

COLUMNS = (
    "registered_model_id", "version", "event_type", "event_time", "user", "name", "new_name", "description",
    "source", "run_id", "model_id", "run_link", "storage_location", "stage", "alias", "tag_key", "tags", *COORDINATES,
)
_FIELDS = COLUMNS[6:17]  # new_name .. tags: set from the payload's attribute of the same meaning


def values(payload: Any) -> dict[str, Any]:
    """The optional columns an event sets (pure)."""
    out: dict[str, Any] = {}
    if isinstance(payload, RegisteredModelRenamed):
        out["new_name"] = payload.new_name
    if isinstance(payload, RegisteredModelCreated | RegisteredModelDescribed | ModelVersionCreated
                  | ModelVersionDescribed):
        out["description"] = payload.description
    if isinstance(payload, ModelVersionCreated):
        out.update(source=payload.source, run_id=payload.run_id, model_id=payload.model_id, run_link=payload.run_link,
                   storage_location=payload.storage_location, stage="None")
    if isinstance(payload, ModelVersionStageChanged):
        out["stage"] = payload.stage
    if isinstance(payload, ModelAliasSet | ModelAliasDeleted):
        out["alias"] = payload.alias
    if isinstance(payload, RegisteredModelTagDeleted | ModelVersionTagDeleted):
        out["tag_key"] = payload.key
    if isinstance(payload, RegisteredModelCreated | RegisteredModelTagsSet | ModelVersionCreated
                  | ModelVersionTagsSet):
        out["tags"] = payload.tags
    return out


def project(logged: LoggedEvent, block: Block) -> None:
    e = logged.event
    if not isinstance(e.payload, REGISTRY_EVENTS):
        return
    p: Any = e.payload  # every registry event names its model (registered_model_id, name)
    # an alias names the version it points to; model-level events have version 0
    version = getattr(p, "version", 0)
    found = values(p)
    row = [found.get(name) for name in _FIELDS]
    row[-1] = row[-1] or {}
    block.append(p.registered_model_id, version, e.type, e.event_time, e.producer.user, p.name, *row,
                 *coordinates(logged))


PROJECTION = Projection("registry_changes", COLUMNS, project, payloads=REGISTRY_EVENTS)
