"""How the live projector's consumer meets a backlog: the projector's own `_consume` and Kafka consumer, with a fixed
stand-in for the work between batches, per consume setting. No ClickHouse: the wait is the consumer's alone.

    python benchmarks/consume_backlog.py [--sweeps 5] [--work-s 0.15] [--rounds 2]

Publishes `--sweeps` times the sweep's producers' 1M points (2 processes, `log_metric_series`, 6 partitions) into a
fresh local broker, then per round and variant reads it all from the start with a fresh `Projector`'s consumer
(assigned, not subscribed), sleeping `--work-s` per 8 MiB of each batch as a drain would work on it. Variants:
- librdkafka: `batch_ready_bytes=0, fetch_queue_backoff_ms=1000` (the projector before 2026-12-04: consume(5000,
  0.1 s) and librdkafka's default backoff);
- ready: `batch_ready_bytes` 4 MiB only;
- backoff: `fetch_queue_backoff_ms` 10 only;
- both: the defaults now.
Per read: wall time, the time inside consume() that returned messages and the time in calls that returned none
(the projector would have been idle), the number of batches and the largest (MB). Prints JSON lines and medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from confluent_kafka import OFFSET_BEGINNING, TopicPartition  # noqa: E402
from sdk_ab import PRODUCER, fresh_broker  # noqa: E402

from consumers.projector import Projector  # noqa: E402
from consumers.settings import ProjectorSettings  # noqa: E402

TOPIC, PARTITIONS = "runstream.events", 6
VARIANTS: dict[str, dict[str, Any]] = {
    "librdkafka": {"batch_ready_bytes": 0, "fetch_queue_backoff_ms": 1000},
    "ready": {"batch_ready_bytes": 4 * 1024**2, "fetch_queue_backoff_ms": 1000},
    "backoff": {"batch_ready_bytes": 0, "fetch_queue_backoff_ms": 10},
    "both": {},
}


def publish(bootstrap: str, sweeps: int) -> int:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'benchmarks'}"}
    for _ in range(sweeps):
        procs = [subprocess.Popen([sys.executable, "-c", PRODUCER, bootstrap, str(i)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(2)]
        for proc in procs:
            assert proc.wait(timeout=600) == 0
    admin = Projector(ProjectorSettings(kafka_bootstrap_servers=bootstrap), client=None)  # type: ignore[arg-type]
    try:
        return sum(admin._consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1]
                   for p in range(PARTITIONS))
    finally:
        admin._consumer.close()


def read_all(bootstrap: str, expected: int, work_s: float, settings: dict[str, Any]) -> dict[str, float]:
    given: dict[str, Any] = {"kafka_bootstrap_servers": bootstrap,
                             "consumer_group": f"consume-backlog-{time.time_ns()}", **settings}
    projector = Projector(ProjectorSettings(**given),
                          client=None)  # type: ignore[arg-type]
    consumer = projector._consumer
    consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    got, batches, largest, busy, empty = 0, 0, 0.0, 0.0, 0.0
    began = time.perf_counter()
    try:
        while got < expected:
            t0 = time.perf_counter()
            messages = [m for m in projector._consume() if not m.error()]
            took = time.perf_counter() - t0
            if not messages:
                empty += took
                if time.perf_counter() - began > 120:
                    raise RuntimeError(f"read {got} of {expected} messages in 120 s")
                continue
            busy += took
            size = sum(len(m.value() or b"") for m in messages)
            got, batches, largest = got + len(messages), batches + 1, max(largest, size / 2**20)
            time.sleep(work_s * size / (8 * 2**20))
    finally:
        consumer.close()
    return {"wall_s": round(time.perf_counter() - began, 3), "in_consume_s": round(busy, 3),
            "empty_consume_s": round(empty, 3), "batches": batches, "largest_mb": round(largest, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=5)
    parser.add_argument("--work-s", type=float, default=0.15)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    with fresh_broker("consume-backlog-") as (bootstrap, _):
        expected = publish(bootstrap, args.sweeps)
        for round_ in range(1, args.rounds + 1):
            names = list(VARIANTS) if round_ % 2 else list(VARIANTS)[::-1]
            for name in names:
                row = {"round": round_, "variant": name, "load": round(os.getloadavg()[0], 2), "messages": expected,
                       **read_all(bootstrap, expected, args.work_s, VARIANTS[name])}
                print(json.dumps(row), flush=True)
                rows.append(row)
    for name in VARIANTS:
        mine = [r for r in rows if r["variant"] == name]
        print(json.dumps({"median": name, **{k: statistics.median(float(r[k]) for r in mine)  # type: ignore[arg-type]
                                             for k in ("wall_s", "in_consume_s", "empty_consume_s", "batches",
                                                       "largest_mb")}}))


if __name__ == "__main__":
    main()
