"""Replay benchmark: how fast `rebuild` and `verify` replay the log, against the live projector on the same log.

    python benchmarks/replay.py [--runs 500 --metrics 5 --steps 2000]   # 5M points by default

One process: a real Kafka broker (local, from the Maven jars) holding a seeded sweep published with the SDK,
and embedded ClickHouse. It measures, on the same log and machine:
  1. the live projector catching up from offset 0 (the baseline),
  2. `rebuild` of every table (replay into shadow tables + EXCHANGE TABLES),
  3. `verify` (replay into scratch tables + per-run checksums),
and reports events/s and metric points/s for each, and the ratios to the baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"

from consumers.clickhouse import connect  # noqa: E402
from consumers.maintenance import MaintenanceJob  # noqa: E402
from consumers.migrate import migrate  # noqa: E402
from consumers.projector import Projector  # noqa: E402
from consumers.settings import ProjectorSettings  # noqa: E402
from consumers.topics import ensure_topics  # noqa: E402
from producer import Tracker, TrackerSettings  # noqa: E402
from runstream.local.kafka import BrokerConfig, LocalKafka  # noqa: E402

KEYS = ["train_loss", "val_loss", "accuracy", "lr_actual", "grad_norm"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def publish(settings: ProjectorSettings, runs: int, metrics: int, steps: int, seed: int) -> tuple[int, float]:
    """The sweep, through the SDK: (points, seconds)."""
    rng = random.Random(seed)
    keys = KEYS[:metrics] + [f"metric_{i}" for i in range(len(KEYS), metrics)]
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
                                               topic=settings.topic,  # default batches: 1,000 points
                                               spool_dir=Path(tempfile.mkdtemp(prefix="replay-spool-"))))
    began = time.perf_counter()
    for r in range(runs):
        params = {"lr": 10 ** rng.uniform(-5, -1), "batch": rng.choice([32, 64, 128]), "seed": r}
        with tracker.start_run("replay-bench", f"trial-{r}", params=params, tags={"sweep": "replay"}) as run:
            base = rng.random()
            for step in range(steps):
                run.log_metrics({k: base / (step + 1) + i for i, k in enumerate(keys)}, step=step)
    assert tracker.flush(600) == 0, "the broker did not take every event"
    tracker.close()
    return runs * metrics * steps, time.perf_counter() - began


def project_live(settings: ProjectorSettings, client: Any, events_expected: int) -> dict[str, float]:
    """The baseline: the live projector catching up with the whole log."""
    projector = Projector(settings, client)
    stop = threading.Event()
    thread = threading.Thread(target=projector.run, args=(stop,))
    began = time.perf_counter()
    thread.start()
    while projector.stats.events + projector.stats.dead_letters + projector.stats.duplicates < events_expected:
        if not thread.is_alive():
            raise RuntimeError("the projector stopped")
        time.sleep(0.05)
    seconds = time.perf_counter() - began
    stop.set()
    thread.join()
    return {"seconds": seconds, "events": projector.stats.events, "points": projector.stats.points,
            "events_per_s": projector.stats.events / seconds, "points_per_s": projector.stats.points / seconds}


def timed_job(kind: str, settings: ProjectorSettings, client: Any) -> dict[str, Any]:
    job = MaintenanceJob(kind, settings, client)  # type: ignore[arg-type]
    load = os.getloadavg()[0]
    began, cpu = time.perf_counter(), time.process_time()
    status = job.run()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    if status.state != "done":
        raise RuntimeError(f"{kind} failed: {status.error}")
    return {"seconds": wall, "cpu_s": cpu, "load_before": load, "events": status.events, "points": status.points,
            "events_per_s": status.events / wall, "points_per_s": status.points / wall,
            "replay_points_per_s": status.points_per_s, "differences": len(status.differences),
            "counts_after": status.counts_after}


@dataclass
class Log:
    """A published log on a broker of its own, and a migrated embedded ClickHouse to project it into."""

    settings: ProjectorSettings
    client: Any
    points: int
    events: int
    publish_s: float


@contextlib.contextmanager
def published_log(args: argparse.Namespace, prefix: str) -> Iterator[Log]:
    """A local broker with the topic, `args.runs` x `args.metrics` x `args.steps` published by the SDK over
    `args.partitions` partitions, and a migrated ClickHouse client; the broker stopped, the client closed and the
    directory removed on the way out."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    broker = LocalKafka(BrokerConfig(home=home / "kafka", port=free_port(), controller_port=free_port(), heap="1g"))
    broker.start(timeout=180)
    try:
        settings = ProjectorSettings(kafka_bootstrap_servers=broker.cfg.bootstrap, topic="bench.events",
                                     dlq_topic="bench.dlq", consumer_group="bench-projector",
                                     clickhouse_dsn=f"chdb://{home / 'clickhouse'}", topic_partitions=args.partitions)
        from confluent_kafka import Consumer, TopicPartition
        from confluent_kafka.admin import AdminClient

        ensure_topics(AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers}),
                      [settings.topic, settings.dlq_topic], partitions=settings.topic_partitions)
        print(f"publishing {args.runs} runs x {args.metrics} metrics x {args.steps} steps ...", flush=True)
        points, publish_s = publish(settings, args.runs, args.metrics, args.steps, args.seed)
        client = connect(settings.clickhouse_url, settings.clickhouse_database)
        migrate(client)
        probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": "probe"})
        messages = sum(probe.get_watermark_offsets(TopicPartition(settings.topic, p), timeout=30)[1]
                       for p in range(settings.topic_partitions))
        probe.close()
        try:
            yield Log(settings, client, points, messages, publish_s)
        finally:
            client.close()
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    with published_log(args, "runstream-replay-bench-") as log_:
        settings, client, points, messages, publish_s = (log_.settings, log_.client, log_.points, log_.events,
                                                         log_.publish_s)
        print(f"published {points:,} points in {messages:,} events ({publish_s:.1f} s); projecting live ...",
              flush=True)
        live = project_live(settings, client, messages)
        print(f"live projection: {live['points_per_s']:,.0f} points/s; rebuilding ...", flush=True)
        rebuild = timed_job("rebuild", settings, client)
        print(f"rebuild: {rebuild['points_per_s']:,.0f} points/s; verifying ...", flush=True)
        verify = timed_job("verify", settings, client)
    if rebuild["points"] != points or verify["differences"]:
        raise RuntimeError(f"replay was not faithful: {rebuild['points']} of {points} points, "
                           f"{verify['differences']} difference(s)")
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_before": load_before,
        "sweep": {"runs": args.runs, "metrics": args.metrics, "steps": args.steps, "points": points,
                  "events": messages, "partitions": args.partitions, "publish_s": publish_s},
        "live_projection": live,
        "rebuild": rebuild,
        "verify": verify,
        "ratios": {"rebuild_vs_live": rebuild["points_per_s"] / live["points_per_s"],
                   "verify_vs_live": verify["points_per_s"] / live["points_per_s"]},
    }


def report(result: dict[str, Any]) -> str:
    s, live, rebuild, verify = result["sweep"], result["live_projection"], result["rebuild"], result["verify"]
    rows = [("live projector from offset 0 (baseline)", live, 1.0),
            ("rebuild (replay + EXCHANGE TABLES)", rebuild, result["ratios"]["rebuild_vs_live"]),
            ("verify (replay + per-run checksums)", verify, result["ratios"]["verify_vs_live"])]
    lines = [
        f"# Replay benchmark, {result['when']}",
        "",
        f"Machine: {result['machine']}; load average before: {result['load_before']:.2f}.",
        f"Log: {s['runs']} runs x {s['metrics']} metrics x {s['steps']} steps = {s['points']:,} points in "
        f"{s['events']:,} events over {s['partitions']} partitions (published with the SDK in {s['publish_s']:.1f} s).",
        "",
        "| what | wall s | events/s | points/s | vs live projector |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, figures, ratio in rows:
        lines.append(f"| {name} | {figures['seconds']:.1f} | {figures['events_per_s']:,.0f} | "
                     f"{figures['points_per_s']:,.0f} | {ratio:.2f}x |")
    lines += ["", f"Rebuild's replay loop alone: {rebuild['replay_points_per_s']:,.0f} points/s; "
              f"verify found {verify['differences']} difference(s).",
              # CPU of this process (Python and embedded ClickHouse, the broker apart): less load-dependent than
              # the wall time on a shared machine, though background merges of earlier steps count too.
              f"CPU of the process: rebuild {rebuild['cpu_s']:.2f} s (load before {rebuild['load_before']:.2f}), "
              f"verify {verify['cpu_s']:.2f} s (load before {verify['load_before']:.2f}).", ""]
    return "\n".join(lines)


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    """The log `published_log` publishes: runs x metrics x steps over partitions, and the values' seed."""
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_log_arguments(parser)
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args()
    result = run(args)
    text = report(result)
    print(text)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        (RESULTS / f"replay-{stamp}.md").write_text(text)
        (RESULTS / "replay-latest.json").write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
