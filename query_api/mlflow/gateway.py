"""MLflow's AI-gateway secrets and model definitions over the event log. Each write folds the gateway from
ClickHouse (after this instance's writes are projected), checks, encrypts a secret's value and publishes one
event; writes go one at a time, so a check and the write it guards see the same state. Answers hold masked
values only."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from query_api.mlflow import gateway_protocol as g
from query_api.mlflow import protocol as p
from query_api.mlflow.gateway_crypto import Keyring, mask_values
from query_api.mlflow.gateway_fold import Gateway, ModelDefinition, Secret, fold
from query_api.mlflow.service import MlflowService
from query_api.queries import gateway as q
from schemas import Payload
from schemas.gateway_events import (
    GatewayModelDefinitionCreated,
    GatewayModelDefinitionDeleted,
    GatewayModelDefinitionUpdated,
    GatewaySecretCreated,
    GatewaySecretDeleted,
    GatewaySecretUpdated,
)


class GatewayStore:
    """Secrets (encrypted in the log, masked in answers) and the model definitions that use them."""

    def __init__(self, tracking: MlflowService, keyring: Keyring) -> None:
        self.tracking = tracking
        self.keyring = keyring
        self._lock = threading.Lock()

    # -- reads ------------------------------------------------------------------------------------------
    def state(self) -> Gateway:
        self.tracking.reader.barrier.wait()
        return fold(q.rows(self.tracking.reader.clickhouse))

    def secret(self, secret_id: Any, state: Gateway | None = None) -> Secret:
        sid = g.required(secret_id, "secret_id")
        found = (state or self.state()).secrets.get(sid)
        if found is None:
            raise p.DoesNotExist(f"GatewaySecret not found (secret_id='{sid}')")
        return found

    def definition(self, model_definition_id: Any, state: Gateway | None = None) -> ModelDefinition:
        did = g.required(model_definition_id, "model_definition_id")
        found = (state or self.state()).definitions.get(did)
        if found is None:
            raise p.DoesNotExist(f"GatewayModelDefinition not found (model_definition_id='{did}')")
        return found

    def secrets(self, provider: Any) -> list[dict[str, Any]]:
        wanted = g.optional(provider, "provider")
        return [g.secret_shape(s) for s in self.state().secrets.values() if wanted is None or s.provider == wanted]

    def definitions(self, provider: Any, secret_id: Any) -> list[dict[str, Any]]:
        wanted, of_secret = g.optional(provider, "provider"), g.optional(secret_id, "secret_id")
        state = self.state()
        shapes = [g.definition_shape(d, state) for d in state.definitions.values()
                  if wanted is None or d.provider == wanted]
        return [s for s in shapes if of_secret is None or s.get("secret_id") == of_secret]

    def secret_answer(self, secret_id: Any) -> dict[str, Any]:
        return g.secret_shape(self.secret(secret_id))

    def definition_answer(self, model_definition_id: Any) -> dict[str, Any]:
        state = self.state()
        return g.definition_shape(self.definition(model_definition_id, state), state)

    # -- writes -----------------------------------------------------------------------------------------
    def _publish(self, payload: Payload, user: str | None) -> None:
        writer = self.tracking.writer
        writer.publisher.publish([writer.event("", "", 1, payload, user=user)])

    def create_secret(self, name: Any, value: Any, provider: Any, auth_config: Any, created_by: Any
                      ) -> dict[str, Any]:
        name = g.required(name, "secret_name")
        values = g.secret_value(value, required_=True)
        assert values is not None
        provider, created_by = g.optional(provider, "provider"), g.optional(created_by, "created_by")
        config = g.auth_config(auth_config) or {}
        with self._lock:
            if self.state().secret_named(name) is not None:
                raise p.AlreadyExists(f"Secret with name '{name}' already exists")
            secret_id = f"s-{uuid.uuid4().hex}"
            sealed = self.keyring.seal(secret_id, values)
            self._publish(GatewaySecretCreated(secret_id, name, sealed.encrypted_value, sealed.wrapped_dek,
                                               sealed.kek_version, mask_values(values), provider, config,
                                               created_by), created_by)
            return g.secret_shape(self.secret(secret_id))

    def update_secret(self, secret_id: Any, value: Any, auth_config: Any, updated_by: Any) -> dict[str, Any]:
        values = g.secret_value(value, required_=False)
        # as MLflow: an empty map leaves auth_config unchanged; one normalized to empty (a blank api_base) clears it
        config = g.auth_config(auth_config) if auth_config else None
        updated_by = g.optional(updated_by, "updated_by")
        with self._lock:
            secret = self.secret(secret_id)
            sealed = self.keyring.seal(secret.secret_id, values) if values is not None else None
            self._publish(GatewaySecretUpdated(
                secret.secret_id, sealed.encrypted_value if sealed else None, sealed.wrapped_dek if sealed else None,
                sealed.kek_version if sealed else None, mask_values(values) if values is not None else None,
                config, updated_by), updated_by)
            return g.secret_shape(self.secret(secret.secret_id))

    def delete_secret(self, secret_id: Any) -> None:
        with self._lock:
            secret = self.secret(secret_id)
            self._publish(GatewaySecretDeleted(secret.secret_id), None)

    def create_definition(self, name: Any, secret_id: Any, provider: Any, model_name: Any, created_by: Any
                          ) -> dict[str, Any]:
        name = g.required(name, "name")
        sid = g.required(secret_id, "secret_id")
        provider, model_name = g.required(provider, "provider"), g.required(model_name, "model_name")
        created_by = g.optional(created_by, "created_by")
        with self._lock:
            state = self.state()
            self.secret(sid, state)
            if state.definition_named(name) is not None:
                raise p.AlreadyExists(f"Model definition with name '{name}' already exists")
            did = f"d-{uuid.uuid4().hex}"
            self._publish(GatewayModelDefinitionCreated(did, name, sid, provider, model_name, created_by), created_by)
            return self.definition_answer(did)

    def update_definition(self, model_definition_id: Any, name: Any, secret_id: Any, provider: Any,
                          model_name: Any, updated_by: Any) -> dict[str, Any]:
        name, sid = g.optional(name, "name"), g.optional(secret_id, "secret_id")
        provider, model_name = g.optional(provider, "provider"), g.optional(model_name, "model_name")
        updated_by = g.optional(updated_by, "updated_by")
        with self._lock:
            state = self.state()
            definition = self.definition(model_definition_id, state)
            if sid is not None:
                self.secret(sid, state)
            other = state.definition_named(name) if name is not None else None
            if other is not None and other.model_definition_id != definition.model_definition_id:
                raise p.AlreadyExists(f"Model definition with name '{name}' already exists")
            self._publish(GatewayModelDefinitionUpdated(definition.model_definition_id, name, sid, provider,
                                                        model_name, updated_by), updated_by)
            return self.definition_answer(definition.model_definition_id)

    def delete_definition(self, model_definition_id: Any) -> None:
        with self._lock:
            definition = self.definition(model_definition_id)
            self._publish(GatewayModelDefinitionDeleted(definition.model_definition_id), None)
