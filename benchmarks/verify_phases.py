"""Where a verify's (and a rebuild's) wall time goes outside the replay loop: every step of `MaintenanceJob.run`
and every ClickHouse statement, timed (issue 15, branch verify9).

    python benchmarks/verify_phases.py [--runs 500 --metrics 5 --steps 2000 --rounds 3] [--root /other/checkout]

Publishes the sweep of benchmarks/replay.py once, projects it live, then `--rounds` times runs a rebuild and a
verify in this process (as `make bench-replay` does). Each job's steps (methods of MaintenanceJob and Replay) are
wrapped to record their wall time and the process's CPU; every statement sent through clickhouse-connect is timed
too, with the thread that sent it. Prints, per job, the steps in order and the statements grouped by kind.
`--root`: import another checkout's code instead (its methods are wrapped the same way, where they exist).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
ROOT = parser.parse_known_args()[0].root  # the checkout to import (and measure) first
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from replay import add_log_arguments  # noqa: E402

add_log_arguments(parser)
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--kinds", default="rebuild,verify")
parser.add_argument("--out", type=Path, default=None, help="write every job's record as JSON here")
ARGS = parser.parse_args()

from clickhouse_connect.driver._backendclient import SyncBackendClient  # noqa: E402
from clickhouse_connect.driver.client import Client  # noqa: E402
from replay import project_live, published_log  # noqa: E402

import consumers.maintenance as maintenance  # noqa: E402
import consumers.replay as replay_module  # noqa: E402
from consumers.settings import ProjectorSettings  # noqa: E402

STEPS: list[dict[str, Any]] = []  # (name, thread, start, wall, cpu) of wrapped steps of the current job
STATEMENTS: list[dict[str, Any]] = []
DEPTH = threading.local()


def wrap(owner: Any, name: str, label: str | None = None) -> None:
    original = getattr(owner, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        depth = getattr(DEPTH, "n", 0)
        DEPTH.n = depth + 1
        began, cpu = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            DEPTH.n = depth
            STEPS.append({"step": label or name, "depth": depth, "thread": threading.current_thread().name,
                          "start": began, "wall": time.perf_counter() - began, "cpu": time.process_time() - cpu})

    setattr(owner, name, timed)


def kind_of(sql: str) -> str:
    sql = " ".join(sql.split())
    for pattern, kind in [(r"^CREATE MATERIALIZED VIEW", "create view"),
                          (r"^CREATE TABLE .* ENGINE = Null", "create Null"),
                          (r"^CREATE TABLE .*__sums", "create sums"), (r"^CREATE TABLE", "create table"),
                          (r"^SYSTEM STOP MERGES", "stop merges"), (r"^SYSTEM START MERGES", "start merges"),
                          (r"^DROP TABLE", "drop"), (r"^EXCHANGE", "exchange"), (r"^INSERT", "insert"),
                          (r"system\.tables", "leftovers"), (r"system\.columns", "columns"),
                          (r"count\(\) AS n FROM", "counts"), (r"max\(kafka_offset\)", "positions"),
                          (r"cityHash64\(s\)", "string hashes"), (r"AS side", "checksum pair"),
                          (r"arrayJoin|arraySum|chunk", "chunk checksum"), (r"OPTIMIZE", "optimize")]:
        if re.search(pattern, sql):
            return kind
    return "other: " + sql[:50]


def wrap_client() -> None:
    for owner, name in ((Client, "query"), (SyncBackendClient, "command")):
        original = getattr(owner, name)

        def timed(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            sql = args[0] if args else kwargs.get("query") or kwargs.get("cmd") or ""
            began = time.perf_counter()
            try:
                return __original(self, *args, **kwargs)
            finally:
                STATEMENTS.append({"kind": kind_of(str(sql)), "thread": threading.current_thread().name,
                                   "start": began, "wall": time.perf_counter() - began})

        setattr(owner, name, timed)


M = maintenance.MaintenanceJob
for step in ("_check_no_foreign_projector", "_counts", "_columns", "_side_by_side", "_live_positions",
             "_differences", "_drop", "_close_clients", "_prepare", "_create_shadows"):
    wrap(M, step)
R = replay_module.Replay
for step in ("__init__", "start", "run_until", "close", "_partitions", "pause_merges"):
    wrap(R, step, f"Replay.{step}")
wrap(replay_module, "open_client", "Replay open_client")
wrap(replay_module, "city_hashes", "Replay city_hashes")
wrap(maintenance, "open_client", "DDL open_client")
wrap_client()


def one_job(kind: str, settings: ProjectorSettings, client: Any) -> dict[str, Any]:
    STEPS.clear()
    STATEMENTS.clear()
    phases: list[tuple[str, float]] = []
    job = maintenance.MaintenanceJob(kind, settings, client)  # type: ignore[arg-type]
    original_phase = job._phase

    def phase(name: str) -> None:
        phases.append((name, time.perf_counter()))
        original_phase(name)

    job._phase = phase  # type: ignore[method-assign]
    load = os.getloadavg()[0]
    began, cpu = time.perf_counter(), time.process_time()
    status = job.run()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    if status.state != "done" or status.differences:
        raise SystemExit(f"{kind} failed or found differences: {status.error} {status.differences[:3]}")
    marks = [("start", began), *phases, ("end", began + wall)]
    by_phase: dict[str, float] = defaultdict(float)
    for (name, at), (_, end) in zip(marks, marks[1:], strict=False):
        by_phase[name] += end - at
    stmts: dict[str, list[float]] = defaultdict(list)
    for s in STATEMENTS:
        stmts[s["kind"]].append(s["wall"])
    return {"kind": kind, "load": load, "wall": wall, "cpu": cpu, "points_per_s": status.points / wall,
            "phases": {k: round(v, 3) for k, v in by_phase.items()},
            "steps": [{**s, "start": round(s["start"] - began, 3), "wall": round(s["wall"], 4),
                       "cpu": round(s["cpu"], 4)} for s in sorted(STEPS, key=lambda s: s["start"])],
            "statements": {k: {"n": len(v), "sum": round(sum(v), 3), "max": round(max(v), 3)}
                           for k, v in sorted(stmts.items(), key=lambda kv: -sum(kv[1]))}}


def show(r: dict[str, Any]) -> None:
    print(f"\n== {r['kind']} load {r['load']:.2f}: {r['wall']:.2f} s = {r['points_per_s']:,.0f} points/s, "
          f"CPU {r['cpu']:.2f} s; phases {r['phases']}", flush=True)
    for s in r["steps"]:
        if s["step"] == "Replay.run_until" and s["wall"] > 0.5 or s["depth"] <= 1:
            print(f"  {'  ' * s['depth']}{s['start']:6.3f} +{s['wall']:.3f} s (CPU {s['cpu']:.3f}) {s['step']}"
                  f" [{s['thread']}]")
    for k, v in r["statements"].items():
        print(f"  stmt {k:20} n={v['n']:3} sum {v['sum']:.3f} s max {v['max']:.3f} s")


def main() -> None:
    results = []
    with published_log(ARGS, "runstream-verify-phases-") as log_:
        settings, client, points, messages = log_.settings, log_.client, log_.points, log_.events
        live = project_live(settings, client, messages)
        print(f"{points:,} points in {messages:,} events; live {live['points_per_s']:,.0f} points/s", flush=True)
        for _ in range(ARGS.rounds):
            for kind in ARGS.kinds.split(","):
                r = one_job(kind, settings, client)
                results.append(r)
                show(r)
    for kind in ARGS.kinds.split(","):
        mine = [r for r in results if r["kind"] == kind]
        phases = sorted({p for r in mine for p in r["phases"]})
        print(f"median {kind}: wall {statistics.median(r['wall'] for r in mine):.2f} s, CPU "
              f"{statistics.median(r['cpu'] for r in mine):.2f} s; " + ", ".join(
                  f"{p} {statistics.median(r['phases'].get(p, 0.0) for r in mine):.3f}" for p in phases))
    if ARGS.out:
        ARGS.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
