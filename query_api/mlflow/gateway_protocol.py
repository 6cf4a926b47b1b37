"""MLflow's AI-gateway request checks and answer shapes (pure): proto JSON with times in ms, unset fields left
out. A secret's value is never echoed, not even in an error."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from query_api.mlflow import protocol as p
from query_api.mlflow.gateway_fold import Gateway, ModelDefinition, Secret

# LiteLLM options that choose where the gateway sends requests (MLflow refuses them: only a checked api_base may)
DESTINATION_KEYS = frozenset({"api_base", "base_url", "model_list", "fallbacks", "custom_llm_provider"})


def required(value: Any, path: str) -> str:
    """A required string: absent or empty is missing, another JSON type is invalid (MLflow's words)."""
    if value is None or value == "":
        raise p.MlflowError(f"Missing value for required parameter '{path}'.")
    return p.check_string(value, path)


def optional(value: Any, path: str) -> str | None:
    """An optional string; empty is unset, as in proto3."""
    if value is None or value == "":
        return None
    return p.check_string(value, path)


def _string_map(value: Any, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise p.MlflowError(f"Invalid value for parameter '{path}' supplied: expected a map of strings to strings.")
    return dict(value)


def secret_value(value: Any, *, required_: bool) -> dict[str, str] | None:
    """The secret's key-value pairs (None: not given, on update); its values never appear in a message."""
    values = _string_map(value, "secret_value")
    if not values:
        if required_:
            raise p.MlflowError("Missing value for required parameter 'secret_value'.")
        return None
    reserved = sorted(DESTINATION_KEYS & set(values))
    if reserved:
        raise p.MlflowError(f"secret_value must not contain {', '.join(map(repr, reserved))}: these keys choose "
                            "where the gateway sends requests. Set the upstream with 'api_base' in auth_config, "
                            "where it is validated.")
    return values


def auth_config(value: Any) -> dict[str, str] | None:
    """auth_config normalized as MLflow does (a blank api_base dropped); None: not given."""
    config = _string_map(value, "auth_config")
    if not config:
        return None
    reserved = sorted((DESTINATION_KEYS - {"api_base"}) & set(config))
    if reserved:
        raise p.MlflowError(f"auth_config must not contain {', '.join(map(repr, reserved))}: these LiteLLM options "
                            "choose where the gateway sends requests. Set the upstream with 'api_base', which is "
                            "validated.")
    base = config.pop("api_base", "").strip()
    if base:
        parsed = urlparse(base)
        if parsed.scheme != "https" or not parsed.hostname:
            raise p.MlflowError(f"Invalid Gateway secret api_base: {base!r}. Only https URLs with a host are allowed.")
        config["api_base"] = base
    return config


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _shape(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None and v != {}}


def secret_shape(secret: Secret) -> dict[str, Any]:
    """GatewaySecretInfo: the masked values only."""
    return _shape({
        "secret_id": secret.secret_id, "secret_name": secret.name, "masked_values": secret.masked_values,
        "created_at": _ms(secret.created), "last_updated_at": _ms(secret.updated), "provider": secret.provider,
        "created_by": secret.created_by, "last_updated_by": secret.updated_by, "auth_config": secret.auth_config,
    })


def definition_shape(definition: ModelDefinition, state: Gateway) -> dict[str, Any]:
    """GatewayModelDefinition; a deleted secret leaves it orphaned (no secret id or name), as in MLflow."""
    secret = state.secrets.get(definition.secret_id)
    return _shape({
        "model_definition_id": definition.model_definition_id, "name": definition.name,
        "secret_id": secret.secret_id if secret else None, "secret_name": secret.name if secret else None,
        "provider": definition.provider, "model_name": definition.model_name,
        "created_at": _ms(definition.created), "last_updated_at": _ms(definition.updated),
        "created_by": definition.created_by, "last_updated_by": definition.updated_by,
    })
