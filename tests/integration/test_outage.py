"""A broker outage mid-sweep, and a process that exits during one: every point arrives exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from producer import Tracker, TrackerSettings
from runstream.local.kafka import BrokerConfig, LocalKafka
from runstream.stack import build_app
from tests.integration.conftest import Stack, free_port, stack_settings, wait_for

pytestmark = pytest.mark.integration
OUTAGE_S = 30


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker of this module's own, so that stopping it disturbs no other test."""
    broker = LocalKafka(BrokerConfig(home=tmp_path_factory.mktemp("outage-kafka"), port=free_port(),
                                     controller_port=free_port(), heap="512m"))
    broker.start(timeout=120)
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def stack(own_broker: LocalKafka, clickhouse_dsn: str) -> Iterator[Stack]:
    settings = stack_settings(own_broker.cfg.bootstrap, clickhouse_dsn, "outage")
    with TestClient(build_app(settings)) as api:
        yield Stack(settings, api)


def _counts(stack: Stack, experiment: str) -> dict[str, int]:
    response = stack.api.post("/api/v1/runs/search", json={"experiment_names": [experiment]})
    if response.status_code == 404:  # not projected yet
        return {}
    runs = response.json()["runs"]
    return {r["name"]: r["metrics"].get("loss", {}).get("count", 0) for r in runs}


def _wait_counts(stack: Stack, experiment: str, expected: dict[str, int], timeout: float, what: str) -> None:
    """Wait for these counts; on a timeout say what was visible and what /healthz said."""
    try:
        wait_for(lambda: _counts(stack, experiment) == expected, timeout, 1, what=what)
    except pytest.fail.Exception:
        pytest.fail(f"timed out after {timeout}s waiting for {what}: visible {_counts(stack, experiment)}, "
                    f"/healthz {stack.api.get('/healthz').json()}")


def test_a_30s_broker_outage_mid_sweep_loses_and_doubles_nothing(
    stack: Stack, own_broker: LocalKafka, tmp_path: Path
) -> None:
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=stack.settings.store.kafka_bootstrap_servers,
                                               topic=stack.settings.store.topic, spool_dir=tmp_path,
                                               metrics_batch_points=100, metrics_flush_interval_s=0.2))
    runs = [tracker.start_run("outage", f"r{i}") for i in range(5)]
    for step in range(1000):  # 5,000 points before the outage
        for run in runs:
            run.log_metric("loss", step / 1000, step=step)
    assert tracker.flush(30) == 0
    assert own_broker.pid is not None
    os.kill(own_broker.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        for step in range(1000, 2000):  # 5,000 more while the broker is frozen
            for run in runs:
                run.log_metric("loss", step / 1000, step=step)
        logging_s = time.monotonic() - started
        assert logging_s < 10, f"logging waited for the frozen broker ({logging_s:.1f}s)"
        assert tracker.flush(1) > 0, "the events wait in the spool"
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - started)))
    finally:
        os.kill(own_broker.pid, signal.SIGCONT)
    for run in runs:
        run.end()
    assert tracker.flush(120) == 0
    assert tracker.spool_depth == (0, 0) and tracker.dropped_events == 0
    tracker.close()
    _wait_counts(stack, "outage", {f"r{i}": 2000 for i in range(5)}, 120, "all 10,000 points visible")
    for run in runs:
        history = stack.api.get(f"/api/v1/runs/{run.run_id}/history").json()
        assert history["seq_gaps"] == [] and "Duplicate" not in {e["type"] for e in history["events"]}
        assert [e["seq"] for e in history["events"]] == list(range(1, len(history["events"]) + 1))
    assert list(tmp_path.rglob("*.spool")) == [], "a fully delivered spool is removed"


def test_events_spooled_by_a_process_that_exited_are_sent_by_the_next_tracker(
    stack: Stack, tmp_path: Path
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    topic = stack.settings.store.topic
    script = textwrap.dedent(f"""
        from producer import Tracker, TrackerSettings
        tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers={dead!r}, topic={topic!r},
                                                   spool_dir={str(tmp_path)!r}))
        with tracker.start_run("exited", "orphan", params={{"lr": 0.5}}) as run:
            for step in range(3000):
                run.log_metric("loss", step * 0.5, step=step)
        tracker.close(timeout=1)   # the broker never answered: the process exits with its events spooled
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60, cwd=Path(__file__).parents[2])
    assert list(tmp_path.rglob("*.spool"))
    successor = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=stack.settings.store.kafka_bootstrap_servers,
                                                 topic=stack.settings.store.topic, spool_dir=tmp_path))
    assert successor.flush(60) == 0
    successor.close()
    _wait_counts(stack, "exited", {"orphan": 3000}, 60, "the orphaned points")
    run = stack.api.post("/api/v1/runs/search", json={"experiment_names": ["exited"]}).json()["runs"][0]
    assert run["status"] == "FINISHED" and run["params"] == {"lr": "0.5"}
    assert list(tmp_path.rglob("*.spool")) == []


def test_a_consumer_out_of_its_group_too_long_is_replaced_and_nothing_is_lost(
    own_broker: LocalKafka, clickhouse_dsn: str, tmp_path: Path
) -> None:
    """The broker freezes for longer than the consumer's session: it leaves its group, and after `group_stuck_s`
    (8 s here: more than a first join takes) the projector replaces it. When the broker is back, the new consumer
    is assigned the partitions and every point lands once. The first run of this test, with 3 s, replaced the
    consumer while rejoins came and went, and aborted the process from inside consume(): the assignment callback
    counted the topic's partitions with list_topics (a blocking call of the same consumer), which ended the call
    state that consume()'s next callback needed."""
    settings = stack_settings(own_broker.cfg.bootstrap, clickhouse_dsn, "stuck", group_stuck_s=8.0)
    with TestClient(build_app(settings)) as api:
        stack = Stack(settings, api)
        projector = api.app.state.runstream.projector.projector  # type: ignore[attr-defined]
        tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=settings.store.kafka_bootstrap_servers,
                                                   topic=settings.store.topic, spool_dir=tmp_path,
                                                   metrics_batch_points=100, metrics_flush_interval_s=0.2))
        runs = [tracker.start_run("stuck", f"r{i}") for i in range(3)]
        for step in range(500):
            for run in runs:
                run.log_metric("loss", step / 1000, step=step)
        assert tracker.flush(30) == 0
        _wait_counts(stack, "stuck", {f"r{i}": 500 for i in range(3)}, 60, "the first 1,500 points")
        assert projector.stats.consumers_replaced == 0, "a steady consumer is kept"
        assert own_broker.pid is not None
        os.kill(own_broker.pid, signal.SIGSTOP)
        try:  # the session (10 s) times out, then 8 s out of the group
            wait_for(lambda: projector.stats.consumers_replaced >= 1, 60, 0.2, "the consumer replaced")
        finally:
            os.kill(own_broker.pid, signal.SIGCONT)
        for step in range(500, 1000):
            for run in runs:
                run.log_metric("loss", step / 1000, step=step)
        for run in runs:
            run.end()
        assert tracker.flush(120) == 0
        tracker.close()
        _wait_counts(stack, "stuck", {f"r{i}": 1000 for i in range(3)}, 120, "all 3,000 points visible")
        client = api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
        assert client.query("SELECT count(), uniqExact(run_id, key, step) FROM metrics").result_rows[0] == \
            (3000, 3000)
        assert client.query("SELECT sum(point_count) FROM run_metric_summary").result_rows[0][0] == 3000
        health = api.get("/healthz").json()
        assert health["projector"] == "running" and sorted(projector.owned_partitions()) == [0, 1, 2]
