"""Does a stream of bad messages slow the projector? The same backlog of good events projected twice: alone, and
interleaved with poison (out-of-range values, events under another experiment, wrong keys, undecodable bytes).

    RUNSTREAM_BENCH_KAFKA=127.0.0.1:9092 python benchmarks/poison_rate.py [--runs 200 --batches 20 --every 2]

Needs a running broker (RUNSTREAM_BENCH_KAFKA); ClickHouse is embedded under a temporary directory. Prints the
good events and points projected per second for both backlogs and the number of dead letters.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

from consumers.clickhouse import connect  # noqa: E402
from consumers.migrate import migrate  # noqa: E402
from consumers.projector import Projector  # noqa: E402
from consumers.settings import ProjectorSettings  # noqa: E402
from consumers.topics import ensure_topics  # noqa: E402
from schemas import MetricsLogged, RunEvent, RunStarted, TagsSet, encode  # noqa: E402
from schemas import Producer as ProducerInfo  # noqa: E402

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POINTS = 100


def event(run: str, exp: str, seq: int, payload: object, pid: int = 1) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run, exp, seq, NOW, ProducerInfo("h", pid, "u", "b"), payload)  # type: ignore[arg-type]


def backlog(runs: int, batches: int, poison_every: int) -> tuple[list[tuple[bytes, bytes]], int, int]:
    """(messages, good events, poison messages): per run a RunStarted and metric batches of 100 points; with
    poison, after every `poison_every`-th good event one bad message of a rotating kind."""
    out: list[tuple[bytes, bytes]] = []
    good = bad = 0
    for r in range(runs):
        run, exp = uuid.uuid4().hex, f"exp-{r % 5}"
        seq = 1
        out.append((run.encode(), encode(event(run, exp, seq, RunStarted(f"r{r}", "u")))))
        good += 1
        for b in range(batches):
            seq += 1
            steps = list(range(b * POINTS, (b + 1) * POINTS))
            batch = MetricsLogged(["loss"], [0] * POINTS, steps, [1_780_000_000_000 + s for s in steps],
                                  [1.0 / (s + 1) for s in steps])
            out.append((run.encode(), encode(event(run, exp, seq, batch))))
            good += 1
            if poison_every and good % poison_every == 0:
                kind = bad % 4
                if kind == 0:
                    value = encode(event(run, exp, 10**6 + bad, TagsSet({"x": "1"}), pid=-1))
                elif kind == 1:
                    value = encode(event(run, "elsewhere", 10**6 + bad, TagsSet({"x": "1"})))
                elif kind == 2:
                    value = encode(event(uuid.uuid4().hex, exp, 1, TagsSet({"x": "1"})))  # keyed by another run
                else:
                    value = b"\x00 not avro at all"
                out.append((run.encode(), value))
                bad += 1
    return out, good, bad


def measure(bootstrap: str, data_dir: Path, name: str, messages: list[tuple[bytes, bytes]]) -> float:
    suffix = f"{name}_{uuid.uuid4().hex[:6]}"
    settings = ProjectorSettings(kafka_bootstrap_servers=bootstrap, topic=f"bench.{suffix}",
                                 dlq_topic=f"bench.{suffix}.dlq", consumer_group=f"bench-{suffix}",
                                 clickhouse_dsn=f"chdb://{data_dir}", clickhouse_database=f"bench_{suffix}")
    ensure_topics(AdminClient({"bootstrap.servers": bootstrap}), [settings.topic, settings.dlq_topic], partitions=3)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "zstd"})
    for key, value in messages:
        while True:
            try:
                producer.produce(settings.topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0
    client = connect(settings.clickhouse_url, settings.clickhouse_database)
    migrate(client)
    projector = Projector(settings, client)
    stop = threading.Event()
    thread = threading.Thread(target=projector.run, args=(stop,), daemon=True)
    began = time.perf_counter()
    thread.start()
    while projector.stats.events + projector.stats.dead_letters + projector.stats.duplicates < len(messages):
        if not thread.is_alive():
            raise RuntimeError("the projector stopped")
        time.sleep(0.05)
    elapsed = time.perf_counter() - began
    stop.set()
    thread.join(30)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--every", type=int, default=2, help="one poison message after every N good events")
    args = parser.parse_args()
    bootstrap = os.environ["RUNSTREAM_BENCH_KAFKA"]
    with tempfile.TemporaryDirectory(prefix="poison-rate-") as tmp:
        clean, good, _ = backlog(args.runs, args.batches, 0)
        dirty, good2, bad = backlog(args.runs, args.batches, args.every)
        points = args.runs * args.batches * POINTS
        for name, messages in (("clean", clean), ("poisoned", dirty), ("clean2", clean)):
            seconds = measure(bootstrap, Path(tmp), name, messages)
            print(f"{name:9s} {len(messages):6d} messages ({good} good, {len(messages) - good} poison): "
                  f"{seconds:6.2f} s, {good / seconds:8.0f} good events/s, {points / seconds:9.0f} points/s")
        assert good == good2 and bad == len(dirty) - len(clean)


if __name__ == "__main__":
    main()
