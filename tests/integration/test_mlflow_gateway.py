"""MLflow's AI-gateway secrets and model definitions through the unmodified client's store methods: CRUD with
masked answers, MLflow's errors, a log and tables that never hold a plain secret, rebuild then verify."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from confluent_kafka import Consumer, TopicPartition

from tests.integration.conftest import serving, stack_settings, wait_for

pytest.importorskip("mlflow")
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]
PASSPHRASE = "gateway-test-passphrase-at-least-32-characters"
# Every plain secret value this module sends; none may appear in the log or a table.
PLAIN = {"sk-openai-PLAINTEXT-0001", "sk-ant-PLAINTEXT-0002", "AKIAPLAINTEXT0003", "aws-secret-PLAINTEXT-0004",
         "AKIAROTATEDPLAIN0005", "rotated-secret-PLAINTEXT-0006", "sk-model-PLAINTEXT-0007"}
GATEWAY = "/api/3.0/mlflow/gateway"


@pytest.fixture(scope="module")
def server(kafka_bootstrap: str, clickhouse_dsn: str) -> Iterator[tuple[str, Any]]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "gateway", gateway_kek_passphrase=PASSPHRASE)
    with serving(settings) as port:
        yield f"http://127.0.0.1:{port}", settings


@pytest.fixture(scope="module")
def base(server: tuple[str, Any]) -> str:
    return server[0]


@pytest.fixture(scope="module")
def store(base: str) -> Any:
    return MlflowClient(base)._tracking_client.store  # the client's own REST store, unmodified


def _error(call: Any) -> str:
    with pytest.raises(MlflowException) as raised:
        call()
    return str(raised.value.error_code)


def test_secrets_are_created_read_rotated_listed_and_deleted_with_masked_values(store: Any) -> None:
    openai = store.create_gateway_secret(secret_name="openai-key", secret_value={"api_key": "sk-openai-PLAINTEXT-0001"},
                                         provider="openai", created_by="ana")
    assert openai.secret_id.startswith("s-") and openai.masked_values == {"api_key": "sk-...0001"}
    assert (openai.secret_name, openai.provider, openai.created_by) == ("openai-key", "openai", "ana")
    store.create_gateway_secret(secret_name="anthropic-key", secret_value={"api_key": "sk-ant-PLAINTEXT-0002"},
                                provider="anthropic")
    aws = store.create_gateway_secret(
        secret_name="aws", provider="bedrock",
        secret_value={"aws_access_key_id": "AKIAPLAINTEXT0003", "aws_secret_access_key": "aws-secret-PLAINTEXT-0004"},
        auth_config={"auth_mode": "access_keys", "aws_region_name": "us-east-1"})
    assert aws.masked_values == {"aws_access_key_id": "AKI...0003", "aws_secret_access_key": "aws...0004"}
    fetched = store.get_secret_info(aws.secret_id)
    assert fetched.masked_values == aws.masked_values and fetched.auth_config == {
        "auth_mode": "access_keys", "aws_region_name": "us-east-1"}

    rotated = store.update_gateway_secret(secret_id=aws.secret_id, updated_by="bob", secret_value={
        "aws_access_key_id": "AKIAROTATEDPLAIN0005", "aws_secret_access_key": "rotated-secret-PLAINTEXT-0006"})
    assert rotated.masked_values == {"aws_access_key_id": "AKI...0005", "aws_secret_access_key": "rot...0006"}
    assert rotated.last_updated_at >= aws.created_at and rotated.last_updated_by == "bob"
    assert rotated.auth_config == fetched.auth_config  # not given: unchanged

    assert {s.secret_name for s in store.list_secret_infos()} == {"openai-key", "anthropic-key", "aws"}
    assert [s.secret_id for s in store.list_secret_infos(provider="openai")] == [openai.secret_id]
    assert _error(lambda: store.create_gateway_secret(secret_name="openai-key", secret_value={"api_key": "x" * 9})
                  ) == "RESOURCE_ALREADY_EXISTS"

    store.delete_gateway_secret(openai.secret_id)
    assert openai.secret_id not in {s.secret_id for s in store.list_secret_infos()}
    assert _error(lambda: store.get_secret_info(openai.secret_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert _error(lambda: store.update_gateway_secret(secret_id="s-unknown", secret_value={"api_key": "y" * 9})
                  ) == "RESOURCE_DOES_NOT_EXIST"
    assert _error(lambda: store.delete_gateway_secret("s-unknown")) == "RESOURCE_DOES_NOT_EXIST"


def test_model_definitions_are_created_updated_listed_orphaned_and_deleted(store: Any) -> None:
    secret = store.create_gateway_secret(secret_name="model-secret", provider="openai",
                                         secret_value={"api_key": "sk-model-PLAINTEXT-0007"})
    definition = store.create_gateway_model_definition(name="gpt", secret_id=secret.secret_id, provider="openai",
                                                       model_name="gpt-4")
    assert definition.model_definition_id.startswith("d-")
    assert (definition.secret_id, definition.secret_name, definition.model_name) == (
        secret.secret_id, "model-secret", "gpt-4")
    assert store.get_gateway_model_definition(definition.model_definition_id).name == "gpt"
    updated = store.update_gateway_model_definition(model_definition_id=definition.model_definition_id,
                                                    provider="anthropic", model_name="claude-3-5-haiku-latest")
    assert (updated.provider, updated.model_name, updated.name) == ("anthropic", "claude-3-5-haiku-latest", "gpt")
    assert [d.model_definition_id for d in store.list_gateway_model_definitions(provider="anthropic")] == [
        definition.model_definition_id]
    assert store.list_gateway_model_definitions(provider="openai") == []
    assert len(store.list_gateway_model_definitions(secret_id=secret.secret_id)) == 1
    assert _error(lambda: store.create_gateway_model_definition(name="gpt", secret_id=secret.secret_id,
                                                                provider="openai", model_name="gpt-4")
                  ) == "RESOURCE_ALREADY_EXISTS"
    assert _error(lambda: store.create_gateway_model_definition(name="other", secret_id="s-unknown",
                                                                provider="openai", model_name="gpt-4")
                  ) == "RESOURCE_DOES_NOT_EXIST"

    store.delete_gateway_secret(secret.secret_id)  # as MLflow: the definition stays, orphaned
    orphaned = store.get_gateway_model_definition(definition.model_definition_id)
    assert orphaned.secret_id is None and orphaned.secret_name is None
    store.delete_gateway_model_definition(definition.model_definition_id)
    assert store.list_gateway_model_definitions() == []
    assert _error(lambda: store.get_gateway_model_definition(definition.model_definition_id)
                  ) == "RESOURCE_DOES_NOT_EXIST"


def test_http_answers_config_errors_and_what_stays_unimplemented(base: str) -> None:
    config = requests.get(f"{base}/ajax-api/3.0/mlflow/gateway/secrets/config", timeout=10)
    assert config.json() == {"secrets_available": True, "using_default_passphrase": False}
    unknown = requests.get(f"{base}{GATEWAY}/secrets/get", params={"secret_id": "s-nope"}, timeout=10)
    assert unknown.status_code == 404 and unknown.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST", "message": "GatewaySecret not found (secret_id='s-nope')"}
    missing = requests.post(f"{base}{GATEWAY}/secrets/create", json={"secret_name": "n"}, timeout=10)
    assert missing.status_code == 400 and missing.json()["message"] == (
        "Missing value for required parameter 'secret_value'.")
    steering = requests.post(f"{base}{GATEWAY}/secrets/create", timeout=10, json={
        "secret_name": "n", "secret_value": {"api_key": "sk-do-not-echo-me", "base_url": "https://x.example"}})
    assert steering.status_code == 400 and "sk-do-not-echo-me" not in steering.text
    endpoint = requests.post(f"{base}{GATEWAY}/endpoints/create", json={"name": "e"}, timeout=10)
    assert endpoint.status_code == 501 and endpoint.json()["error_code"] == "NOT_IMPLEMENTED"


def _raw_log(settings: Any) -> list[bytes]:
    """Every message of the topic, as bytes, from the first offset."""
    consumer = Consumer({"bootstrap.servers": settings.store.kafka_bootstrap_servers,
                         "group.id": f"raw-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
    topic = settings.store.topic
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        values: list[bytes] = []
        seen = dict.fromkeys(parts, 0)
        while any(seen[p] < ends[p] for p in parts):
            for message in consumer.consume(500, timeout=1.0):
                value, partition, offset = message.value(), message.partition(), message.offset()
                if message.error() is None and value is not None and partition is not None and offset is not None:
                    values.append(value)
                    seen[partition] = offset + 1
        return values
    finally:
        consumer.close()


def _sql(base: str, query: str) -> list[list[Any]]:
    answer = requests.post(f"{base}/api/v1/sql", json={"query": query}, timeout=30)
    assert answer.status_code == 200, answer.text
    rows: list[list[Any]] = answer.json()["rows"]
    return rows


def test_neither_the_log_nor_the_tables_hold_a_plain_secret(server: tuple[str, Any]) -> None:
    base, settings = server
    log = _raw_log(settings)
    assert len(log) >= 10 and any(b"AKI...0005" in message for message in log)  # the scan sees the gateway's events
    for value in PLAIN:
        assert not any(value.encode() in message for message in log), value
    events = _sql(base, "SELECT event_type, payload FROM events WHERE event_type LIKE 'Gateway%' ORDER BY kafka_offset")
    assert [e[0] for e in events].count("GatewaySecretCreated") == 4
    changes = str(_sql(base, "SELECT * FROM gateway_changes"))
    for value in PLAIN:
        assert value not in str(events) and value not in changes, value
    assert "AKI...0005" in changes and "encrypted_value" in events[0][1]  # masks and ciphertexts are there


def _finished(base: str, kind: str) -> dict[str, Any] | None:
    status: dict[str, Any] = requests.get(f"{base}/api/v1/admin/{kind}", timeout=10).json()
    return status if status["state"] != "running" else None


def test_rebuild_then_verify_leave_the_gateway_unchanged(base: str, store: Any) -> None:
    def answers() -> Any:
        secrets = sorted(store.list_secret_infos(), key=lambda s: s.secret_id)
        return ([s.to_proto().SerializeToString() for s in secrets],
                _sql(base, "SELECT * FROM gateway_changes FINAL ORDER BY kafka_offset"))

    before = answers()
    assert before[0] and len(before[1]) >= 10
    for kind in ("rebuild", "verify"):
        assert requests.post(f"{base}/api/v1/admin/{kind}", timeout=10).status_code == 202
        status = wait_for(functools.partial(_finished, base, kind), 120, 0.2, f"{kind} to finish")
        assert status["state"] == "done" and status.get("differences", []) == [], status
        assert "gateway_changes" in status["tables"]
        assert answers() == before
