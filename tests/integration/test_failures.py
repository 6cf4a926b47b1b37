"""What a user sees when a piece is down: a dead broker for the SDK and for /healthz."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from producer import Tracker, TrackerSettings
from query_api.app import create_app
from query_api.settings import ServerSettings
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


def test_sdk_never_raises_or_hangs_when_the_broker_is_dead() -> None:
    dead = f"127.0.0.1:{free_port()}"
    settings = TrackerSettings(kafka_bootstrap_servers=dead, message_timeout_ms=1500, metrics_flush_interval_s=0.1)
    tracker = Tracker(settings=settings)
    started = time.monotonic()
    with tracker.start_run("offline", params={"lr": 0.1}) as run:
        for step in range(1000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert time.monotonic() - started < 5, "logging must not wait for the broker"
    undelivered = tracker.flush(timeout=10)
    tracker.close(timeout=1)
    assert undelivered == 0 and tracker.delivery_failures, "every event is accounted for: failed, not silently lost"
    assert all("not delivered" in failure for failure in tracker.delivery_failures)


def test_healthz_is_503_with_the_reason_when_kafka_is_unreachable(clickhouse_dsn: str) -> None:
    settings = ServerSettings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}", clickhouse_dsn=clickhouse_dsn,
                              clickhouse_database="it_dead_kafka", run_projector=False, health_timeout_s=1.0)
    with TestClient(create_app(settings)) as api:
        response = api.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["clickhouse"] == "ok"
    assert body["kafka"].startswith("error")
    assert "kafka unreachable" in body["reason"]
