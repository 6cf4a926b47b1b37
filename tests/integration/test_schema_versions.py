"""A log holding events written with every schema version projects, and replays, to the same tables as the
same events written with the newest version alone (events only a newer version holds, the AI gateway's of v8,
are written with the first version that has them)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Producer as KafkaProducer
from fastapi.testclient import TestClient

from runstream.stack import build_app
from schemas import (
    ExperimentCreated,
    ParamsLogged,
    Producer,
    RunEvent,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
    default_catalog,
    encode,
    metric_columns,
)
from schemas.catalog import SchemaVersion
from schemas.gateway_events import GatewayModelDefinitionCreated, GatewaySecretCreated, GatewaySecretUpdated
from schemas.ids import experiment_id_for
from schemas.model_events import REGISTRY_KEY
from tests.integration.conftest import Stack, stack_settings, wait_for

pytestmark = pytest.mark.integration

EXPERIMENT = "versions-it"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Rows compare whole, but for when they were projected and which schema wrote them.
TABLES = {
    "events": "SELECT * EXCEPT (projected_at, schema_fingerprint) FROM events ORDER BY ALL",
    "runs": "SELECT * FROM runs ORDER BY ALL", "params": "SELECT * FROM params ORDER BY ALL",
    "tags": "SELECT * FROM tags ORDER BY ALL", "experiments": "SELECT * FROM experiments ORDER BY ALL",
    "metrics": "SELECT * FROM metrics ORDER BY ALL", "gateway_changes": "SELECT * FROM gateway_changes ORDER BY ALL",
    "run_metric_summary": "SELECT experiment_id, key, run_id, finalizeAggregation(last_value), min_value, max_value, "
                          "sum_value, value_count, point_count, last_step, last_ts FROM run_metric_summary FINAL "
                          "ORDER BY ALL",
}


def _events() -> list[RunEvent]:
    """Runs with params, tags (set, overwritten, removed), metric batches with NaN and infinities, and ends."""
    exp = experiment_id_for(EXPERIMENT)
    producer = Producer("host", 7, "ana", "test")
    out = [RunEvent(str(uuid.uuid4()), "", exp, 1, T0, producer, ExperimentCreated(EXPERIMENT))]
    for r in range(4):
        run_id = uuid.uuid4().hex
        seq = iter(range(1, 100))
        at = iter(T0 + timedelta(seconds=r * 60 + i) for i in range(100))
        payloads: list[Any] = [RunStarted(f"r{r}", "ana"), ParamsLogged({"lr": str(0.1 * (r + 1)), "depth": str(r)}),
                               TagsSet({"team": "a", "tmp": "x"})]
        for b in range(5):
            points = [(key, step, 1_772_000_000_000 + step, math.nan if step == 7 and key == "acc" else
                       (math.inf if step == 3 else 1.0 / (step + r + 1)))
                      for step in range(b * 20, (b + 1) * 20) for key in ("loss", "acc")]
            payloads.append(metric_columns.from_points(points))
        payloads += [TagsSet({"team": "b"}), TagDeleted("tmp"),
                     RunStatusChanged(RunStatus.FAILED if r % 2 else RunStatus.FINISHED, end_time=T0)]
        out += [RunEvent(str(uuid.uuid4()), run_id, exp, next(seq), next(at), producer, p) for p in payloads]
    gateway: list[Any] = [GatewaySecretCreated("s-1", "key", "Y3Q=", "ZGVr", 1, {"api_key": "sk-...2345"}, "openai"),
                          GatewaySecretUpdated("s-1", auth_config={"auth_mode": "api_key"}),
                          GatewayModelDefinitionCreated("d-1", "gpt", "s-1", "openai", "gpt-4")]
    return out + [RunEvent(str(uuid.uuid4()), "", "", 1, T0, producer, p) for p in gateway]


def _oldest_holding(event: RunEvent, candidate: SchemaVersion) -> SchemaVersion:
    """The candidate version if its payload union has the event's record, else the first version that has it."""
    def holds(version: SchemaVersion) -> bool:
        union = next(f for f in version.parsed["fields"] if f["name"] == "payload")["type"]
        return any(t["name"].endswith(f".{event.type}") for t in union)

    return candidate if holds(candidate) else next(v for v in default_catalog().versions if holds(v))


def _publish(stack: Stack, events: list[RunEvent], mixed: bool) -> set[str]:
    """Publish in order, each event written by a schema version (cycling through all when mixed)."""
    versions = default_catalog().versions
    producer = KafkaProducer({"bootstrap.servers": stack.settings.store.kafka_bootstrap_servers})
    used = set()
    for i, event in enumerate(events):
        version = _oldest_holding(event, versions[i % len(versions)]) if mixed else versions[-1]
        used.add(version.fingerprint.hex())
        producer.produce(stack.settings.store.topic, value=encode(event, version=version),
                         key=event.run_id or event.experiment_id or REGISTRY_KEY)
    assert producer.flush(30) == 0
    return used


def _tables(api: TestClient) -> dict[str, list[tuple[Any, ...]]]:
    client = api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
    return {table: [tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in row)
                    for row in client.query(sql).result_rows] for table, sql in TABLES.items()}


def test_a_log_of_every_version_projects_and_replays_like_the_newest_alone(stack: Stack, kafka_bootstrap: str,
                                                                        clickhouse_dsn: str) -> None:
    events = _events()
    used = _publish(stack, events, mixed=True)
    assert used == {v.fingerprint.hex() for v in default_catalog().versions}
    newest = stack_settings(kafka_bootstrap, clickhouse_dsn, "versions_newest")
    with TestClient(build_app(newest)) as api:
        _publish(Stack(newest, api), events, mixed=False)
        Stack(newest, api).wait_projected()
        stack.wait_projected()
        expected = _tables(api)
        runs = sorted({e.run_id for e in events if e.run_id})
        expected_runs = [api.get(f"/api/v1/runs/{r}").json() for r in runs]

    mixed = _tables(stack.api)
    assert len(mixed["metrics"]) == 4 * 5 * 40 and len(mixed["events"]) == len(events)
    assert len(mixed["gateway_changes"]) == 3
    for table in TABLES:
        assert mixed[table] == expected[table], table
    assert [stack.api.get(f"/api/v1/runs/{r}").json() for r in runs] == expected_runs
    fingerprints = stack.api.post("/api/v1/sql", json={"query": "SELECT DISTINCT schema_fingerprint FROM events"})
    assert {row[0] for row in fingerprints.json()["rows"]} == used

    started = stack.api.post("/api/v1/admin/verify")
    assert started.status_code == 202, started.text
    status = wait_for(lambda: (s := stack.api.get("/api/v1/admin/verify").json())["state"] != "running" and s,
                      120, 0.2, "verify to finish")
    assert status["state"] == "done" and status["differences"] == [], status
    assert status["points"] == 4 * 5 * 40
