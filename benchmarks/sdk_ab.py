"""The SDK of two checkouts alternated against one local broker: the producers' and the broker's CPU per 1M points.

    python benchmarks/sdk_ab.py --base /work/wt/x-base --new /work/wt/x [--pairs 6]

Each side runs the sweep's producers (2 processes, 100 runs each of 5 keys x 1,000 steps with `log_metric_series`,
`sweep.runstream_series_producer`) with its checkout first on PYTHONPATH, and closes them (every event acknowledged).
Reported per side: the producers' process CPU, the broker's CPU (from /proc) from their start to their end, the wall
time with the processes' start-up, and the load before (alternate.alternate and its table). No projector runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from alternate import alternate, table  # noqa: E402
from broker_ab import proc_cpu  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402
from sweep import free_port  # noqa: E402

from consumers.topics import ensure_topics  # noqa: E402
from runstream.local import kafka  # noqa: E402
from runstream.settings import BrokerSettings  # noqa: E402

RUNS, METRICS, STEPS, PRODUCERS = 200, 5, 1000, 2
COLUMNS = [("producers CPU s per 1M", "producers_cpu_per_1m", "{:.3f}", False),
           ("broker CPU s per 1M", "broker_cpu_per_1m", "{:.3f}", False), ("wall s", "wall_s", "{:.2f}", False)]
PRODUCER = f"""
import json, sys, queue
from sweep import runstream_series_producer
out = queue.Queue()
runstream_series_producer(sys.argv[1], list(range(int(sys.argv[2]), {RUNS}, {PRODUCERS})), {METRICS}, {STEPS}, 1, out)
print(json.dumps(out.get()))
"""


def one_side(checkout: Path, bootstrap: str, broker_pid: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{checkout}:{checkout / 'benchmarks'}"}
    load = os.getloadavg()[0]
    before, began = proc_cpu(broker_pid), time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", PRODUCER, bootstrap, str(i)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for i in range(PRODUCERS)]
    reports = [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]
    assert not any(r["undelivered"] for r in reports), reports
    scale = 1e6 / (RUNS * METRICS * STEPS)
    return {"load": f"{load:.2f}", "producers_cpu_per_1m": round(sum(r["cpu_s"] for r in reports) * scale, 3),
            "broker_cpu_per_1m": round((proc_cpu(broker_pid) - before) * scale, 3),
            "wall_s": round(time.perf_counter() - began, 2)}


@contextmanager
def fresh_broker(prefix: str) -> Iterator[tuple[str, int]]:
    """A local broker of its own (the local stack's JVM options) with the events topic made as `runstream up`
    makes it (6 partitions): its bootstrap address and process id. Stopped and removed on the way out."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    cfg = kafka.BrokerConfig(home=home, port=free_port(), controller_port=free_port(),
                             jvm_options=tuple(BrokerSettings().kafka_jvm_options.split()))
    broker = kafka.LocalKafka(cfg)
    try:
        broker.start()
        assert broker.pid is not None
        ensure_topics(AdminClient({"bootstrap.servers": cfg.bootstrap}), ["runstream.events"], partitions=6)
        yield cfg.bootstrap, broker.pid
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=6)
    args = parser.parse_args()
    with fresh_broker("sdk-ab-") as (bootstrap, broker_pid):
        rows = alternate(args.pairs, args.base, args.new, lambda checkout: one_side(checkout, bootstrap, broker_pid))
    print(table(rows, COLUMNS))


if __name__ == "__main__":
    main()
