"""MLflow's AI gateway: one row per secret or model-definition event; the read side folds them.

Secret values arrive already encrypted (the events never hold them in plain text) and are copied as they are.
"""

from __future__ import annotations

from typing import Any

from consumers.projections.base import COORDINATES, Block, LoggedEvent, Projection, coordinates
from schemas.gateway_events import (
    GATEWAY_EVENTS,
    GatewayModelDefinitionCreated,
    GatewayModelDefinitionDeleted,
    GatewayModelDefinitionUpdated,
    GatewaySecretCreated,
    GatewaySecretDeleted,
    GatewaySecretUpdated,
)

COLUMNS = (
    "entity_kind", "entity_id", "event_type", "event_time", "user", "name", "provider", "secret_id", "model_name",
    "actor", "value_set", "masked_values", "encrypted_value", "wrapped_dek", "kek_version", "auth_config_set",
    "auth_config", *COORDINATES,
)
_FIELDS = COLUMNS[5:17]  # name .. auth_config


def values(payload: Any) -> dict[str, Any]:
    """(entity kind, id) and the columns an event sets (pure)."""
    if isinstance(payload, GatewaySecretCreated):
        return {"name": payload.secret_name, "provider": payload.provider, "actor": payload.created_by,
                "value_set": 1, "masked_values": payload.masked_values, "encrypted_value": payload.encrypted_value,
                "wrapped_dek": payload.wrapped_dek, "kek_version": payload.kek_version, "auth_config_set": 1,
                "auth_config": payload.auth_config}
    if isinstance(payload, GatewaySecretUpdated):
        out: dict[str, Any] = {"actor": payload.updated_by}
        if payload.encrypted_value is not None:
            out.update(value_set=1, masked_values=payload.masked_values or {},
                       encrypted_value=payload.encrypted_value, wrapped_dek=payload.wrapped_dek,
                       kek_version=payload.kek_version)
        if payload.auth_config is not None:
            out.update(auth_config_set=1, auth_config=payload.auth_config)
        return out
    if isinstance(payload, GatewayModelDefinitionCreated):
        return {"name": payload.name, "provider": payload.provider, "secret_id": payload.secret_id,
                "model_name": payload.model_name, "actor": payload.created_by}
    if isinstance(payload, GatewayModelDefinitionUpdated):
        return {"name": payload.name, "provider": payload.provider, "secret_id": payload.secret_id,
                "model_name": payload.model_name, "actor": payload.updated_by}
    return {}


def entity(payload: Any) -> tuple[str, str]:
    if isinstance(payload, GatewaySecretCreated | GatewaySecretUpdated | GatewaySecretDeleted):
        return "secret", payload.secret_id
    assert isinstance(payload, GatewayModelDefinitionCreated | GatewayModelDefinitionUpdated
                      | GatewayModelDefinitionDeleted)
    return "model_definition", payload.model_definition_id


def project(logged: LoggedEvent, block: Block) -> None:
    e = logged.event
    if not isinstance(e.payload, GATEWAY_EVENTS):
        return
    found = values(e.payload)
    row = [found.get(name) for name in _FIELDS]
    for flag in ("value_set", "auth_config_set"):
        row[_FIELDS.index(flag)] = found.get(flag, 0)
    for mapping in ("masked_values", "auth_config"):
        row[_FIELDS.index(mapping)] = found.get(mapping) or {}
    block.append(*entity(e.payload), e.type, e.event_time, e.producer.user, *row, *coordinates(logged))


PROJECTION = Projection("gateway_changes", COLUMNS, project, payloads=GATEWAY_EVENTS)
