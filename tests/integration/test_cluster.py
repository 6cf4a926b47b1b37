"""A three-broker cluster loses the leader of a busy partition (SIGKILL) in the middle of a sweep logged through the
SDK, gets it back later, and every point is in ClickHouse exactly once while the projector never stops.

Slow (three JVMs): marked `cluster`, deselected by `make integration`, run by `make cluster-test`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource
from fastapi.testclient import TestClient

from consumers.topics import ensure_topics
from producer import Tracker, TrackerSettings
from runstream.local.cluster import ClusterConfig, LocalKafkaCluster
from runstream.settings import ServerSettings
from runstream.stack import build_app
from tests.integration.conftest import free_port, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

RUNS, KEYS, STEPS = 24, ("loss", "acc"), 1500
PACE_S = 0.01  # between steps: the sweep takes ~20 s, so the kill and the restart fall inside it


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    cfg = ClusterConfig(home=tmp_path_factory.mktemp("cluster"), ports=(free_port(), free_port(), free_port()),
                        controller_ports=(free_port(), free_port(), free_port()))
    kafka = LocalKafkaCluster(cfg)
    kafka.start(timeout=240)
    try:
        yield kafka
    finally:
        kafka.stop()


def _settings(cluster: LocalKafkaCluster, clickhouse_dsn: str) -> ServerSettings:
    suffix = uuid.uuid4().hex[:8]
    settings = ServerSettings(
        kafka_bootstrap_servers=cluster.cfg.bootstrap, topic=f"it.cluster_{suffix}.events",
        dlq_topic=f"it.cluster_{suffix}.dlq", consumer_group=f"it-cluster-{suffix}", clickhouse_dsn=clickhouse_dsn,
        clickhouse_database=f"it_cluster_{suffix}", topic_partitions=3, topic_replication_factor=3,
    )
    admin = AdminClient({"bootstrap.servers": settings.store.kafka_bootstrap_servers})
    ensure_topics(admin, [settings.store.topic, settings.store.dlq_topic], partitions=3, replication_factor=3)
    return settings


class Sampler(threading.Thread):
    """Every 20 ms: the busy partition's acknowledged offset, and whether the projector thread is alive."""

    def __init__(self, tracker: Tracker, projector: Any) -> None:
        super().__init__(daemon=True)
        self.tracker, self.projector = tracker, projector
        self.partition: int | None = None
        self.samples: list[tuple[float, int, bool]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            acked = self.tracker.acked_offsets.get(self.partition, -1) if self.partition is not None else -1
            self.samples.append((time.monotonic(), acked, self.projector.alive))
            time.sleep(0.02)

    def longest_stall(self, since: float, until: float) -> float:
        """The longest time the busy partition's acknowledged offset stood still between two instants."""
        longest, last_move, last = 0.0, since, None
        for at, acked, _ in self.samples:
            if at < since or at > until:
                continue
            if acked != last:
                longest, last_move, last = max(longest, at - last_move), at, acked
        return longest


def test_a_leader_killed_mid_sweep_loses_no_point_and_counts_none_twice(
        cluster: LocalKafkaCluster, clickhouse_dsn: str, tmp_path: Path) -> None:
    settings = _settings(cluster, clickhouse_dsn)
    admin = AdminClient({"bootstrap.servers": settings.store.kafka_bootstrap_servers})
    config = admin.describe_configs([ConfigResource("topic", settings.store.topic)])
    described = next(iter(config.values())).result()
    assert described["min.insync.replicas"].value == "2"
    assert all(len(p.replicas) == 3 for p in admin.list_topics(settings.store.topic).topics[settings.store.topic]
               .partitions.values())

    with TestClient(build_app(settings)) as api:
        projector = api.app.state.runstream.projector  # type: ignore[attr-defined]
        tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=settings.store.kafka_bootstrap_servers,
                                                   topic=settings.store.topic, spool_dir=tmp_path / "spool",
                                                   metrics_flush_interval_s=0.2))
        runs = [tracker.start_run("cluster-sweep", f"r{i}", params={"i": i}) for i in range(RUNS)]
        sampler = Sampler(tracker, projector)
        progress = {"step": 0}

        def sweep() -> None:
            for step in range(STEPS):
                for i, run in enumerate(runs):
                    run.log_metrics({"loss": 1.0 / (step + 1 + i), "acc": step / STEPS}, step=step)
                progress["step"] = step
                time.sleep(PACE_S)

        logger = threading.Thread(target=sweep, daemon=True)
        began = time.monotonic()
        logger.start()
        sampler.start()
        wait_for(lambda: progress["step"] >= STEPS * 0.3, 120, 0.05, "30% of the sweep")
        acked = tracker.acked_offsets
        sampler.partition = busy = max(acked, key=lambda p: acked[p])
        victim = cluster.leader(settings.store.topic, busy)
        killed_at, killed_step = time.monotonic(), progress["step"]
        cluster.nodes[victim].kill()
        wait_for(lambda: cluster.leader(settings.store.topic, busy) not in (victim, -1), 60, 0.2, "a new leader")
        new_leader = cluster.leader(settings.store.topic, busy)
        led_again_at = time.monotonic()
        wait_for(lambda: progress["step"] >= STEPS * 0.75 or not logger.is_alive(), 120, 0.05, "75% of the sweep")
        restarted_at, restarted_step = time.monotonic(), progress["step"]
        cluster.restart(victim)
        logger.join(300)
        for run in runs:
            run.end()
        assert tracker.flush(180) == 0
        swept_at = time.monotonic()
        wait_for(lambda: len(cluster.in_sync(settings.store.topic, busy)) == 3, 120, 0.5, "the restarted node in sync")
        wait_for(lambda: api.get("/healthz").json().get("projector_lag") == 0, 180, 0.5, "projector lag 0")
        sampler.stop.set()
        sampler.join()
        tracker.close()

        client = api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
        points, distinct = client.query("SELECT count(), uniqExact(run_id, key, step) FROM metrics").result_rows[0]
        summary = client.query("SELECT sum(point_count) FROM run_metric_summary").result_rows[0][0]
        kinds = dict(client.query("SELECT event_type, count() FROM events GROUP BY event_type").result_rows)
        finished = client.query("SELECT countIf(status = 'FINISHED') FROM runs_current").result_rows[0][0]
        figures = {
            "sweep": {"runs": RUNS, "keys": len(KEYS), "steps": STEPS, "points": RUNS * len(KEYS) * STEPS,
                      "seconds": round(swept_at - began, 1)},
            "busy_partition": busy, "killed_node": victim, "new_leader": new_leader,
            "killed_at_s": round(killed_at - began, 1), "killed_at_step": killed_step,
            "new_leader_after_s": round(led_again_at - killed_at, 1),
            "restarted_at_s": round(restarted_at - began, 1), "restarted_at_step": restarted_step,
            "producer_stall_s": round(sampler.longest_stall(killed_at, swept_at), 2),
            "producer_stall_before_kill_s": round(sampler.longest_stall(began, killed_at), 2),
            "metrics_rows": points, "distinct_points": distinct, "summary_points": summary,
            "events_by_type": kinds, "runs_finished": finished,
        }
        print("\ncluster failover:", json.dumps(figures, indent=1))

        expected = RUNS * len(KEYS) * STEPS
        assert points == distinct == summary == expected
        assert kinds.get("DeadLetter", 0) == 0
        assert finished == RUNS
        assert all(alive for _, _, alive in sampler.samples), "the projector stopped during the sweep"
        assert projector.alive and projector.error is None
        assert api.get("/healthz").json()["projector"] == "running"
