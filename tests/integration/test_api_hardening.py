"""The API under attack and carelessness, against real Kafka and ClickHouse: atomic writes, bad input refused before
anything is published, bounded requests, /healthz never waiting behind a slow one."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient

from query_api.paging import PageToken, query_fingerprint
from query_api.publisher import ApiPublisher
from runstream.stack import build_app
from schemas import Producer, RunEvent, TagsSet
from tests.integration.conftest import Stack, stack_settings, wait_for

pytestmark = pytest.mark.integration
MLFLOW = "/api/2.0/mlflow"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, clickhouse_dsn: str) -> Iterator[Stack]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "api_hardening", query_clients=2)
    with TestClient(build_app(settings)) as api:
        yield Stack(settings, api)


def post(stack: Stack, route: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = stack.api.post(f"{MLFLOW}/{route}", json=body)
    return response.status_code, response.json()


def new_run(stack: Stack, name: str) -> tuple[str, str]:
    status, body = post(stack, "experiments/create", {"name": f"hardening-{uuid.uuid4().hex[:8]}"})
    assert status == 200, body
    experiment_id = body["experiment_id"]
    status, body = post(stack, "runs/create", {"experiment_id": experiment_id, "run_name": name})
    assert status == 200, body
    return experiment_id, body["run"]["info"]["run_id"]


def history(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    stack.wait_projected()
    body = stack.api.get(f"/api/v1/runs/{run_id}/history").json()
    return [e for e in body["events"] if e["type"] not in ("DeadLetter", "Duplicate")]


def event(run_id: str, seq: int, tags: dict[str, str]) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, "1", seq, datetime.now(UTC), Producer("h", 1, "u", "test"),
                    TagsSet(tags))


def read_all(bootstrap: str, topic: str, isolation: str) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}",
                         "isolation.level": isolation, "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
        found: list[bytes] = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            found += [m.value() for m in consumer.consume(100, 0.5) if m.error() is None]
        return found
    finally:
        consumer.close()


def test_a_failure_inside_a_several_event_write_leaves_nothing(kafka_bootstrap: str, clickhouse_dsn: str) -> None:
    """The second event is refused by the producer after the first was handed to it: in a transaction the write
    aborts and a read_committed reader (the projector) sees neither event. Sent one by one (the code before), the
    first stayed written: the half-done write this prevents."""
    store = stack_settings(kafka_bootstrap, clickhouse_dsn, "txn").store
    run_id = uuid.uuid4().hex
    first = {True: event(run_id, 1, {"in": "transaction"}), False: event(run_id, 1, {"one": "by one"})}
    big = event(run_id, 2, {"b": "x" * 5000})
    for transactions in (True, False):
        publisher = ApiPublisher(kafka_bootstrap, store.topic, timeout_s=20, transactions=transactions,
                                 extra_config={"message.max.bytes": 3000})
        try:
            with pytest.raises(Exception):  # noqa: B017 - PublishFailed, or Kafka's own error one by one
                publisher.publish([first[transactions], big])
        finally:
            publisher.close()
    committed = read_all(kafka_bootstrap, store.topic, "read_committed")
    assert not any(first[True].event_id.encode() in value for value in committed), "the transaction left nothing"
    assert any(first[False].event_id.encode() in value for value in committed), "one by one left half a write"


def test_a_run_update_with_a_1_mb_name_publishes_nothing(stack: Stack) -> None:
    _, run_id = new_run(stack, "before")
    events_before = history(stack, run_id)
    status, body = post(stack, "runs/update", {"run_id": run_id, "run_name": "n" * MB, "status": "FINISHED"})
    assert 400 <= status < 500 and body["error_code"], body
    assert history(stack, run_id) == events_before, "no RunRenamed, no status change, no tag"
    status, body = post(stack, "runs/update", {"run_id": run_id, "run_name": "after"})
    assert status == 200, body
    run = stack.api.get(f"{MLFLOW}/runs/get", params={"run_id": run_id}).json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert run["info"]["run_name"] == "after" == tags["mlflow.runName"], "name and tag agree"
    seqs = [e["seq"] for e in history(stack, run_id)]
    assert seqs == list(range(1, len(seqs) + 1)), "no seq gap"


@pytest.mark.parametrize(("route", "body"), [
    ("experiments/create", {"name": "x" * MB}),
    ("experiments/create", {"name": "big-location", "artifact_location": "s3://" + "x" * MB}),
    ("runs/create", {"experiment_id": "0", "run_name": "r" * MB}),
    ("runs/log-metric", {"run_id": "{run}", "key": "loss", "value": 1.0, "timestamp": 2**63 - 1}),
    ("runs/log-metric", {"run_id": "{run}", "key": "loss", "value": 1.0, "timestamp": 2**64}),
    ("runs/log-batch", {"run_id": "{run}", "metrics": [{"key": "l", "value": 1, "timestamp": 2**63 - 1}]}),
    ("runs/update", {"run_id": "{run}", "end_time": 2**63 - 1}),
    ("runs/log-inputs", {"run_id": "{run}", "datasets": [{"dataset": {"name": "d", "digest": "1",
                                                                      "schema": "s" * MB}}]}),
    ("runs/search", {"experiment_ids": ["0"], "filter": 12345}),
    ("runs/search", {"experiment_ids": ["0"], "page_token": "bm90IGEgdG9rZW4="}),
    ("experiments/search", {"filter": 7}),
])
def test_bad_input_is_a_4xx_json_error_and_publishes_nothing(stack: Stack, route: str, body: dict[str, Any]) -> None:
    _, run_id = new_run(stack, "target")
    before = history(stack, run_id)
    body = {k: (run_id if v == "{run}" else v) for k, v in body.items()}
    status, answer = post(stack, route, body)
    assert 400 <= status < 500, (status, answer)
    assert answer["error_code"] and answer["message"]
    assert history(stack, run_id) == before


def test_an_artifact_with_a_300_character_name_is_a_400(stack: Stack) -> None:
    experiment_id, run_id = new_run(stack, "artifacts")
    response = stack.api.put(f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/{'a' * 300}",
                             content=b"x")
    assert response.status_code == 400 and response.json()["error_code"], response.text


def test_forged_page_tokens_are_400_on_both_doors(stack: Stack) -> None:
    experiment_id, _ = new_run(stack, "paged")
    for offset, snapshot in ((10**30, {0: 1}), (0, {0: 2**70}), (0, {2**40: 0})):
        for view in ("active", "ACTIVE_ONLY"):
            fingerprint = query_fingerprint({"experiments": [experiment_id], "filter": "", "order_by": [],
                                             "run_view": view})
            token = PageToken(offset, snapshot, fingerprint).encode()
            response = stack.api.post("/api/v1/runs/search", json={"experiment_ids": [experiment_id],
                                                                   "page_token": token})
            assert response.status_code == 400, response.text
        mlflow_token = PageToken(offset, snapshot, "x").encode_mlflow()
        status, body = post(stack, "runs/search", {"experiment_ids": [experiment_id], "page_token": mlflow_token})
        assert status == 400, body


def test_a_filter_with_300_keys_is_refused_at_once(stack: Stack) -> None:
    text = " and ".join(f"params.p{i} = 'x'" for i in range(300))
    started = time.monotonic()
    response = stack.api.post("/api/v1/runs/search", json={"experiment_ids": ["0"], "filter": text})
    assert response.status_code == 400 and "distinct keys" in response.text
    assert time.monotonic() - started < 2


def test_every_request_query_carries_the_servers_limits(stack: Stack) -> None:
    client = stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
    rows = client.query("SELECT getSetting('max_execution_time'), getSetting('max_memory_usage')").result_rows
    assert rows == [(stack.settings.api.query_max_execution_time_s, stack.settings.api.query_max_memory_bytes)]


def test_healthz_and_other_readers_answer_while_slow_queries_run(stack: Stack) -> None:
    """Every client the requests share is busy with a 4 s scan; /healthz answers on its own client at once, and a
    reader waits for a free client, not for all of them."""
    client = stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
    slow = "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1"

    def scan() -> None:
        with contextlib.suppress(Exception):  # the scan ends at its time limit; that is the point
            client.query(slow, settings={"max_execution_time": 4})

    scans = [threading.Thread(target=scan) for _ in range(stack.settings.api.query_clients)]
    for t in scans:
        t.start()
    time.sleep(0.5)
    try:
        started = time.monotonic()
        response = stack.api.get("/healthz")
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 2.0, "healthz waited behind the scans"
    finally:
        for t in scans:
            t.join(30)
    wait_for(lambda: stack.api.get("/api/v1/experiments").status_code == 200, 10, what="readers after the scans")
