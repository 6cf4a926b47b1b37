"""The local broker's CPU per 1M points under the sweep's producers, for broker variants alternated in one session.

    python benchmarks/broker_ab.py --variant base= --variant serial='-XX:+UseSerialGC' [--rounds 6] \
        [--variant 'io2=|num.io.threads=2,num.network.threads=1']

A variant is `name=JVM options` (added to `RUNSTREAM_KAFKA_JVM_OPTIONS`' default, split like a shell's), optionally
followed by `|key=value,key=value` broker properties appended to the local broker's server.properties and by
`|NAME=value,...` environment variables of the producers (the SDK's settings: `RUNSTREAM_COMPRESSION=none`). Each round
starts a fresh broker of every variant in turn (the order flipped every round), creates the topic as `runstream up`
does (6 partitions), and runs the sweep's producers twice against it: `cold` right after start (what `make bench`
measures: its broker starts seconds before the sweep) and `warm` after that. Each pass is 2 producer processes
logging 100 runs x 5 keys x 1,000 steps with `log_metric_series` (the sweep's default), closed (every event
acknowledged). Reported per pass: the broker's CPU (user + system, from /proc) from the producers' start to the last
acknowledgement, per 1M points; the producers' CPU; the wall time; the load before. No projector runs: the
broker's fetch path (3% of its samples in a sweep) is not counted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from confluent_kafka.admin import AdminClient  # noqa: E402
from sweep import free_port, runstream_series_producer  # noqa: E402

from consumers.topics import ensure_topics  # noqa: E402
from runstream.local import kafka  # noqa: E402
from runstream.settings import BrokerSettings  # noqa: E402

RUNS, METRICS, STEPS, PRODUCERS, PARTITIONS = 200, 5, 1000, 2, 6


Variant = tuple[str, tuple[str, ...], list[str], dict[str, str]]


def parse_variant(text: str) -> Variant:
    name, _, rest = text.partition("=")
    jvm, _, rest = rest.partition("|")
    props, _, env = rest.partition("|")
    default = shlex.split(BrokerSettings().kafka_jvm_options)
    return (name, (*default, *shlex.split(jvm)), [p for p in props.split(",") if p],
            dict(pair.split("=", 1) for pair in env.split(",") if pair))


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_pass(bootstrap: str, broker_pid: int, seed: int) -> dict[str, Any]:
    context = mp.get_context("spawn")
    out = context.Queue()
    load = os.getloadavg()[0]
    before = proc_cpu(broker_pid)
    began = time.time()
    procs = [context.Process(target=runstream_series_producer, daemon=True,
                             args=(bootstrap, list(range(i, RUNS, PRODUCERS)), METRICS, STEPS, seed, out))
             for i in range(PRODUCERS)]
    for proc in procs:
        proc.start()
    reports = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(30)
    acked = max(r["last"] for r in reports)
    broker = proc_cpu(broker_pid) - before
    points = RUNS * METRICS * STEPS
    assert not any(r["undelivered"] for r in reports), reports
    return {"load": round(load, 1), "broker_cpu_per_1m": round(broker * 1e6 / points, 3),
            "producers_cpu_per_1m": round(sum(r["cpu_s"] for r in reports) * 1e6 / points, 3),
            "publish_s": round(acked - min(r["first"] for r in reports), 3),
            "startup_s": round(min(r["first"] for r in reports) - began, 2)}


def one_broker(variant: Variant, passes: list[str]) -> list[dict[str, Any]]:
    name, jvm, props, env = variant
    home = Path(tempfile.mkdtemp(prefix=f"broker-ab-{name}-"))
    port = free_port()
    cfg = kafka.BrokerConfig(home=home, port=port, controller_port=free_port(), jvm_options=jvm)
    original = kafka.server_properties
    kafka.server_properties = lambda c: original(c) + "".join(f"{p}\n" for p in props)  # type: ignore[assignment]
    broker = kafka.LocalKafka(cfg)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the producers are spawned: they start with this environment
    try:
        broker.start()
        ensure_topics(AdminClient({"bootstrap.servers": cfg.bootstrap}), ["runstream.events"],
                      partitions=PARTITIONS)
        assert broker.pid is not None
        results = []
        for i, label in enumerate(passes):
            result = {"variant": name, "pass": label, **one_pass(cfg.bootstrap, broker.pid, seed=i + 1)}
            print(json.dumps(result), flush=True)
            results.append(result)
        return results
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        kafka.server_properties = original  # type: ignore[assignment]
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", required=True, help="name=JVM options[|key=value,...]")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--passes", default="cold,warm")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variant]
    passes = args.passes.split(",")
    results: list[dict[str, Any]] = []
    for r in range(args.rounds):
        for variant in variants if r % 2 == 0 else variants[::-1]:
            results.extend(one_broker(variant, passes))
    for label in passes:
        for key in ("broker_cpu_per_1m", "producers_cpu_per_1m", "publish_s"):
            medians = {name: statistics.median(x[key] for x in results if x["variant"] == name and x["pass"] == label)
                       for name, *_ in variants}
            print(json.dumps({"pass": label, "median": key, **medians}))
        base = variants[0][0]
        for name, *_ in variants[1:]:
            mine = [x for x in results if x["variant"] == name and x["pass"] == label]
            theirs = [x for x in results if x["variant"] == base and x["pass"] == label]
            lower = sum(a["broker_cpu_per_1m"] < b["broker_cpu_per_1m"] for a, b in zip(mine, theirs, strict=True))
            print(json.dumps({"pass": label, "variant": name, "broker_cpu_lower_than_base": f"{lower} of {len(mine)}"}))


if __name__ == "__main__":
    main()
