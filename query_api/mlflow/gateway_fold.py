"""MLflow's AI gateway folded from its change rows (gateway_changes, in log order): pure, so a replayed log
folds to the same secrets and model definitions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Secret:
    secret_id: str
    name: str
    provider: str | None
    masked_values: dict[str, str]
    auth_config: dict[str, str]
    encrypted_value: str
    wrapped_dek: str
    kek_version: int
    created: datetime
    updated: datetime
    created_by: str | None
    updated_by: str | None


@dataclass
class ModelDefinition:
    model_definition_id: str
    name: str
    secret_id: str
    provider: str
    model_name: str
    created: datetime
    updated: datetime
    created_by: str | None
    updated_by: str | None


@dataclass
class Gateway:
    secrets: dict[str, Secret] = field(default_factory=dict)
    definitions: dict[str, ModelDefinition] = field(default_factory=dict)

    def secret_named(self, name: str) -> Secret | None:
        return next((s for s in self.secrets.values() if s.name == name), None)

    def definition_named(self, name: str) -> ModelDefinition | None:
        return next((d for d in self.definitions.values() if d.name == name), None)


def _secret(state: Gateway, row: Mapping[str, Any]) -> None:
    kind, sid, at = row["event_type"], row["entity_id"], row["event_time"]
    if kind == "GatewaySecretCreated":
        state.secrets[sid] = Secret(sid, row["name"], row["provider"], dict(row["masked_values"]),
                                    dict(row["auth_config"]), row["encrypted_value"], row["wrapped_dek"],
                                    row["kek_version"], at, at, row["actor"], row["actor"])
        return
    secret = state.secrets.get(sid)
    if secret is None:
        return
    if kind == "GatewaySecretDeleted":
        del state.secrets[sid]
        return
    if row["value_set"]:
        secret.masked_values = dict(row["masked_values"])
        secret.encrypted_value, secret.wrapped_dek = row["encrypted_value"], row["wrapped_dek"]
        secret.kek_version = row["kek_version"]
    if row["auth_config_set"]:
        secret.auth_config = dict(row["auth_config"])
    secret.updated, secret.updated_by = at, row["actor"]


def _definition(state: Gateway, row: Mapping[str, Any]) -> None:
    kind, did, at = row["event_type"], row["entity_id"], row["event_time"]
    if kind == "GatewayModelDefinitionCreated":
        state.definitions[did] = ModelDefinition(did, row["name"], row["secret_id"], row["provider"],
                                                 row["model_name"], at, at, row["actor"], row["actor"])
        return
    definition = state.definitions.get(did)
    if definition is None:
        return
    if kind == "GatewayModelDefinitionDeleted":
        del state.definitions[did]
        return
    for name in ("name", "secret_id", "provider", "model_name"):
        if row[name] is not None:
            setattr(definition, name, row[name])
    definition.updated = at
    if row["actor"]:  # as MLflow: an update without updated_by keeps the last one
        definition.updated_by = row["actor"]


def fold(rows: Iterable[Mapping[str, Any]]) -> Gateway:
    """The gateway after these rows (in log order)."""
    state = Gateway()
    for row in rows:
        (_secret if row["entity_kind"] == "secret" else _definition)(state, row)
    return state
