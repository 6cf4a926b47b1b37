"""The AI gateway folded from its projected rows: pure, and the rows are what the projection writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumers.projections.base import LoggedEvent
from consumers.projections.gateway import PROJECTION
from query_api.mlflow import protocol as p
from query_api.mlflow.gateway_fold import fold
from query_api.mlflow.gateway_protocol import auth_config, definition_shape, secret_shape, secret_value
from schemas import Producer, RunEvent, RunStarted
from schemas.gateway_events import (
    GatewayModelDefinitionCreated,
    GatewayModelDefinitionDeleted,
    GatewayModelDefinitionUpdated,
    GatewaySecretCreated,
    GatewaySecretDeleted,
    GatewaySecretUpdated,
)

SID, SID2, DID = "s-1", "s-2", "d-1"
T0 = datetime(2026, 5, 1, tzinfo=UTC)


def rows(payloads: list[Any]) -> list[dict[str, Any]]:
    """What the projection writes for these events (and what the query reads back), in log order."""
    logged = [LoggedEvent(RunEvent(str(uuid.uuid4()), "", "", 1, T0 + timedelta(seconds=i),
                                   Producer("h", 1, "ana", "t"), payload), 0, i, "fp")
              for i, payload in enumerate(payloads)]
    block = PROJECTION.block(logged)
    return [dict(zip(PROJECTION.columns, values, strict=True)) for values in zip(*block.data, strict=True)]


def created(sid: str = SID, name: str = "key", provider: str | None = "openai") -> GatewaySecretCreated:
    return GatewaySecretCreated(sid, name, "ct", "dek", 1, {"api_key": "sk-...2345"}, provider,
                                {"auth_mode": "api_key"}, "ana")


def test_only_gateway_events_make_rows() -> None:
    assert rows([RunStarted("r", "u")]) == []


def test_a_secret_is_created_rotated_reconfigured_and_deleted() -> None:
    state = fold(rows([created(), GatewaySecretUpdated(SID, "ct2", "dek2", 1, {"api_key": "new...1234"}, None, "bob")]))
    secret = state.secrets[SID]
    assert (secret.encrypted_value, secret.masked_values, secret.auth_config) == ("ct2", {"api_key": "new...1234"},
                                                                                 {"auth_mode": "api_key"})
    shape = secret_shape(secret)
    assert shape == {"secret_id": SID, "secret_name": "key", "masked_values": {"api_key": "new...1234"},
                     "created_at": int(T0.timestamp() * 1000), "last_updated_at": int(T0.timestamp() * 1000) + 1000,
                     "provider": "openai", "created_by": "ana", "last_updated_by": "bob",
                     "auth_config": {"auth_mode": "api_key"}}
    assert "ct2" not in str(shape)  # answers never carry the ciphertext either
    cleared = fold(rows([created(), GatewaySecretUpdated(SID, auth_config={})])).secrets[SID]
    assert cleared.auth_config == {} and cleared.encrypted_value == "ct" and cleared.updated_by is None
    assert fold(rows([created(), GatewaySecretDeleted(SID)])).secrets == {}


def test_a_model_definition_follows_its_updates_and_is_orphaned_by_its_secrets_deletion() -> None:
    state = fold(rows([created(), created(SID2, "other"),
                       GatewayModelDefinitionCreated(DID, "m", SID, "openai", "gpt-4"),
                       GatewayModelDefinitionUpdated(DID, secret_id=SID2, provider="anthropic", model_name="claude")]))
    shape = definition_shape(state.definitions[DID], state)
    assert (shape["secret_id"], shape["secret_name"], shape["provider"], shape["model_name"], shape["name"]) == (
        SID2, "other", "anthropic", "claude", "m")
    orphaned = fold(rows([created(), GatewayModelDefinitionCreated(DID, "m", SID, "openai", "gpt-4"),
                          GatewaySecretDeleted(SID)]))
    shape = definition_shape(orphaned.definitions[DID], orphaned)
    assert "secret_id" not in shape and "secret_name" not in shape
    gone = fold(rows([created(), GatewayModelDefinitionCreated(DID, "m", SID, "openai", "gpt-4"),
                      GatewayModelDefinitionDeleted(DID)]))
    assert gone.definitions == {}


def test_requests_are_checked_without_echoing_a_secret() -> None:
    with pytest.raises(p.MlflowError, match="Missing value for required parameter 'secret_value'"):
        secret_value({}, required_=True)
    assert secret_value(None, required_=False) is None
    with pytest.raises(p.MlflowError) as refused:
        secret_value({"api_key": "sk-very-secret", "base_url": "https://evil.example"}, required_=True)
    assert "sk-very-secret" not in str(refused.value) and "'base_url'" in str(refused.value)
    with pytest.raises(p.MlflowError, match="map of strings") as typed:
        secret_value({"api_key": 12345678901}, required_=True)
    assert "12345678901" not in str(typed.value)
    assert auth_config({"auth_mode": "x", "api_base": "  "}) == {"auth_mode": "x"}
    assert auth_config({"api_base": " https://api.example.com/v1 "}) == {"api_base": "https://api.example.com/v1"}
    with pytest.raises(p.MlflowError, match="https"):
        auth_config({"api_base": "http://169.254.169.254/"})
    with pytest.raises(p.MlflowError, match="custom_llm_provider"):
        auth_config({"custom_llm_provider": "x"})
