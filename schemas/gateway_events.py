"""MLflow AI-gateway secrets and model definitions as events (schema version 8); names equal the Avro records.

They belong to no run or experiment (both ""), so they are keyed like the registry's events (`REGISTRY_KEY`):
one partition, whose offsets order every gateway change. A secret's value never travels in plain text: the
events carry it encrypted (AES-GCM under a data key, the data key wrapped by the key derived from the server's
passphrase; `kek_version` names that key) and a masked rendering (`sk-...2345`), the only form ever answered.
The ciphertexts are base64 text so the audit history's JSON rendering holds them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class GatewaySecretCreated:
    secret_id: str
    secret_name: str
    encrypted_value: str  # base64 of nonce + AES-GCM ciphertext of the JSON value, bound to secret_id
    wrapped_dek: str  # base64 of nonce + the data key encrypted with the passphrase's key
    kek_version: int
    masked_values: dict[str, str]
    provider: str | None = None
    auth_config: dict[str, str] = field(default_factory=dict)
    created_by: str | None = None


@dataclass(frozen=True, slots=True)
class GatewaySecretUpdated:
    """None: unchanged. A new value comes with its ciphertext, data key and mask; auth_config {} clears it."""

    secret_id: str
    encrypted_value: str | None = None
    wrapped_dek: str | None = None
    kek_version: int | None = None
    masked_values: dict[str, str] | None = None
    auth_config: dict[str, str] | None = None
    updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class GatewaySecretDeleted:
    secret_id: str


@dataclass(frozen=True, slots=True)
class GatewayModelDefinitionCreated:
    model_definition_id: str
    name: str
    secret_id: str
    provider: str
    model_name: str
    created_by: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayModelDefinitionUpdated:
    """None: unchanged."""

    model_definition_id: str
    name: str | None = None
    secret_id: str | None = None
    provider: str | None = None
    model_name: str | None = None
    updated_by: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayModelDefinitionDeleted:
    model_definition_id: str


# In the order of the schema's payload union (after the alert records).
GATEWAY_EVENTS: tuple[type, ...] = (
    GatewaySecretCreated, GatewaySecretUpdated, GatewaySecretDeleted, GatewayModelDefinitionCreated,
    GatewayModelDefinitionUpdated, GatewayModelDefinitionDeleted,
)
GatewayPayload = (
    GatewaySecretCreated | GatewaySecretUpdated | GatewaySecretDeleted | GatewayModelDefinitionCreated
    | GatewayModelDefinitionUpdated | GatewayModelDefinitionDeleted
)
