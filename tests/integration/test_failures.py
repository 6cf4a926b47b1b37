"""What a user sees when a piece is down: a dead broker for the SDK and for /healthz."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from producer import Tracker, TrackerSettings
from runstream.settings import ServerSettings
from runstream.stack import build_app
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


def test_sdk_never_raises_or_hangs_when_the_broker_is_dead(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    settings = TrackerSettings(kafka_bootstrap_servers=dead, metrics_flush_interval_s=0.1, spool_dir=tmp_path)
    tracker = Tracker(settings=settings)
    started = time.monotonic()
    with tracker.start_run("offline", params={"lr": 0.1}) as run:
        for step in range(1000):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    assert time.monotonic() - started < 5, "logging must not wait for the broker"
    assert tracker.flush(timeout=1) > 0
    events, size = tracker.spool_depth
    assert events >= 4 and size > 8000, "the events wait on disk"
    tracker.close(timeout=1)
    assert tracker.delivery_failures == [] and tracker.dropped_events == 0
    assert list((tmp_path / settings.topic).glob("*.spool")), "what was not delivered stays spooled"


def test_healthz_is_503_with_the_reason_when_kafka_is_unreachable(clickhouse_dsn: str) -> None:
    settings = ServerSettings(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}", clickhouse_dsn=clickhouse_dsn,
                              clickhouse_database="it_dead_kafka", run_projector=False, health_timeout_s=1.0)
    with TestClient(build_app(settings)) as api:
        response = api.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["clickhouse"] == "ok"
    assert body["kafka"].startswith("error")
    assert "kafka unreachable" in body["reason"]
