"""The server (API + projector) SIGKILLed five times during a 1M-point ingest converges to exact content."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from producer import Tracker, TrackerSettings
from tests.integration.conftest import free_port, http_json, stack_settings, wait_for

pytestmark = pytest.mark.integration
RUNS, STEPS, KEYS = 50, 10_000, ("loss", "acc")  # 1,000,000 points
KILLS = 5


class Server:
    """`runstream serve` in a child process with its own embedded ClickHouse, on the session broker."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir, self.env, self.port = data_dir, env, int(env["RUNSTREAM_API_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with open(self.data_dir / f"serve-{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "runstream", "serve"], env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        wait_for(lambda: self.call("GET", "/healthz")[0] == 200, 120, 0.2, what=f"serve #{self.starts}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return http_json(self.port, method, path, body)


@pytest.fixture
def server(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Server]:
    settings = stack_settings(kafka_bootstrap, "chdb://unused", "kills")  # creates the topics
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTREAM_")}
    env.update({
        "RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "RUNSTREAM_TOPIC": settings.store.topic,
        "RUNSTREAM_DLQ_TOPIC": settings.store.dlq_topic, "RUNSTREAM_CONSUMER_GROUP": settings.store.consumer_group,
        "RUNSTREAM_DATA_DIR": str(tmp_path), "RUNSTREAM_API_PORT": str(free_port()),
        "RUNSTREAM_BATCH_MAX_MESSAGES": "50", "RUNSTREAM_SPOOL_DIR": str(tmp_path / "spool"),
    })
    server = Server(tmp_path, env)
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(60)


def _value(run: int, key: str, step: int) -> float:
    return round((run + 1) * 0.001 + step * 1e-4 + (0.5 if key == "acc" else 0.0), 9)


def test_five_sigkills_during_a_million_point_ingest(server: Server, tmp_path: Path) -> None:
    topic = server.env["RUNSTREAM_TOPIC"]
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=server.env["RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS"],
                                               topic=topic, metrics_batch_points=100, spool_dir=tmp_path / "sdk"))
    for i in range(RUNS):  # 10,000 events of 100 points in the log before the server starts
        with tracker.start_run("kills", f"r{i}", params={"i": i}) as run:
            for step in range(STEPS):
                run.log_metrics({key: _value(i, key, step) for key in KEYS}, step=step)
    assert tracker.flush(120) == 0
    tracker.close()

    rng = random.Random(5)
    mid_stream = 0
    for _ in range(KILLS):
        server.start()
        time.sleep(rng.uniform(0.3, 1.5))
        status, health = server.call("GET", "/healthz")
        mid_stream += status == 200 and health.get("projector_lag", 0) > 0
        server.kill()
    assert mid_stream >= 4, "the kills land while the projector is still working through the log"
    server.start()

    def converged() -> bool:
        status, body = server.call("GET", "/healthz")
        return status == 200 and body.get("projector_lag") == 0
    wait_for(converged, 300, 1, what="the projector caught up after the kills")

    query = ("SELECT run_id, key, count(), round(sum(value), 6) FROM metrics GROUP BY run_id, key "
             "ORDER BY run_id, key")
    status, body = server.call("POST", "/api/v1/sql", {"query": query, "max_rows": 1000})
    assert status == 200, body
    runs = {r["run_id"]: int(r["params"]["i"]) for r in server.call(
        "POST", "/api/v1/runs/search", {"experiment_names": ["kills"], "max_results": 1000})[1]["runs"]}
    assert len(runs) == RUNS
    expected = {(run_id, key): (STEPS, round(sum(_value(i, key, s) for s in range(STEPS)), 6))
                for run_id, i in runs.items() for key in KEYS}
    got = {(run_id, key): (count, total) for run_id, key, count, total in body["rows"]}
    assert got == expected
    status, body = server.call("POST", "/api/v1/sql", {"query": (
        "SELECT sum(point_count), uniqExact(run_id, key) FROM run_metric_summary")})
    assert body["rows"] == [[RUNS * STEPS * len(KEYS), RUNS * len(KEYS)]], "the materialized view counted each once"
    status, body = server.call("POST", "/api/v1/sql", {"query": (
        "SELECT countIf(event_type = 'Duplicate'), countIf(event_type = 'DeadLetter') FROM events")})
    assert body["rows"] == [[0, 0]]
    assert server.starts == KILLS + 1
