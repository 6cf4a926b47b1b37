"""`make bench-mlflow`: the same sweep logged by the unmodified mlflow client to a real MLflow server and to
runstream's MLflow-compatible API, on this machine, in one run.

    python benchmarks/mlflow_ingest.py [--runs 40 --metrics 5 --steps 1000 --producers 2]

Each producer process runs `MlflowClient`: create_run, log_batch of 1,000 metrics (params in the first call),
set_terminated, for every n-th run of the seeded sweep (the producer of benchmarks/sweep.py). MLflow's server
uses sqlite and writes synchronously; runstream answers each call once Kafka acknowledged its events. Reported
for both: acknowledged ingest (first call to last answer), and for runstream also the rate until every point is
visible through its API (the projector's work included). Results: benchmarks/results/mlflow-<stamp>.md and
benchmarks/results/mlflow-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep import (  # noqa: E402 - the sweep benchmark's producer and servers, shared
    EXPERIMENT,
    RESULTS,
    Http,
    Runstream,
    Sampler,
    machine,
    mlflow_producer,
    mlflow_server,
    start_producers,
    visible_points,
    wait,
)


def log_sweep(uri: str, api: Http, args: argparse.Namespace, sampler: Sampler, name: str) -> dict[str, Any]:
    """Create the experiment, run the producers, and time them; returns points, first and last instants."""
    experiment_id = api.call("POST", "/api/2.0/mlflow/experiments/create", {"name": EXPERIMENT})["experiment_id"]
    producers, out = start_producers(mlflow_producer, (uri, experiment_id), args.runs, args, sampler, name)
    reports = [out.get(timeout=36_000) for _ in range(args.producers)]
    for proc in producers:
        proc.join(30)
    first, last = min(r["first"] for r in reports), max(r["last"] for r in reports)
    points = args.runs * args.metrics * args.steps
    return {"experiment_id": experiment_id, "points": points, "first": first, "last": last,
            "seconds": last - first, "points_per_s": points / (last - first)}


def runstream_side(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    stack = Runstream(home)
    stack.start()
    try:
        sampler = Sampler()
        sampler.watch("runstream server", stack.proc.pid)  # type: ignore[union-attr]
        sampler.watch("kafka broker", stack.broker_pid())
        api = Http(stack.api_port)
        logged = log_sweep(f"http://127.0.0.1:{stack.api_port}", api, args, sampler, "producers")
        wait(lambda: visible_points(api, logged["experiment_id"]) >= logged["points"], 3600, "points visible", 0.2)
        visible = time.time()
        sampler.stop()
        logged["visible_seconds"] = visible - logged["first"]
        logged["visible_points_per_s"] = logged["points"] / logged["visible_seconds"]
        logged["processes"] = sampler.report()
        return logged
    finally:
        stack.stop()


def mlflow_side(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    sampler = Sampler()
    with mlflow_server(home, sampler) as api:
        logged = log_sweep(f"http://127.0.0.1:{api.port}", api, args, sampler, "producers")
    sampler.stop()
    logged["processes"] = sampler.report()
    return logged


def report(args: argparse.Namespace, result: dict[str, Any]) -> str:
    ours, theirs = result["runstream"], result["mlflow"]
    lines = [
        f"# mlflow client: runstream vs MLflow server ({result['when']})", "",
        f"Machine: {result['machine']}; load before: {result['load_before']:.2f}", "",
        f"Sweep: {args.runs} runs x {args.metrics} metrics x {args.steps} steps = {ours['points']:,} points, "
        f"10 params per run, from {args.producers} producer processes running the unmodified mlflow client "
        "(log_batch of 1,000 metrics).", "",
        "| | MLflow server (sqlite) | runstream (MLflow API) | ratio |",
        "|---|---:|---:|---:|",
        f"| ingest, acknowledged (points/s) | {theirs['points_per_s']:,.0f} | {ours['points_per_s']:,.0f} | "
        f"{ours['points_per_s'] / theirs['points_per_s']:.2f}x |",
        f"| ingest until visible in queries (points/s) | {theirs['points_per_s']:,.0f} (synchronous) | "
        f"{ours['visible_points_per_s']:,.0f} | {ours['visible_points_per_s'] / theirs['points_per_s']:.2f}x |",
        f"| wall time (s) | {theirs['seconds']:.1f} | {ours['seconds']:.1f} (visible after "
        f"{ours['visible_seconds']:.1f}) | |",
        "", "Processes (CPU seconds, peak RSS MB):", "",
    ]
    for side in ("mlflow", "runstream"):
        for name, stats in sorted(result[side]["processes"].items()):
            lines.append(f"- {side} / {name}: {stats.get('cpu_s', 0):.1f} CPU s, {stats.get('peak_rss_mb', 0):.0f} MB")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
                              "load_before": os.getloadavg()[0]}
    home = Path(tempfile.mkdtemp(prefix="runstream-mlflow-bench-"))
    try:
        for side, measure in (("mlflow", mlflow_side), ("runstream", runstream_side)):
            print(f"{side} ...", flush=True)
            (home / side).mkdir()
            result[side] = measure(args, home / side)
            print(json.dumps({k: v for k, v in result[side].items() if k != "processes"}), flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    text = report(args, result)
    print(text)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        (RESULTS / f"mlflow-{stamp}.md").write_text(text)
        summary = {"when": result["when"], "machine": result["machine"], "points": result["runstream"]["points"],
                   "mlflow_points_per_s": result["mlflow"]["points_per_s"],
                   "runstream_points_per_s": result["runstream"]["points_per_s"],
                   "runstream_visible_points_per_s": result["runstream"]["visible_points_per_s"],
                   "ratio_acknowledged": result["runstream"]["points_per_s"] / result["mlflow"]["points_per_s"],
                   "ratio_visible": result["runstream"]["visible_points_per_s"] / result["mlflow"]["points_per_s"]}
        (RESULTS / "mlflow-latest.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
