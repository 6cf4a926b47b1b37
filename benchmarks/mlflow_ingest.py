"""`make bench-mlflow`: the same sweep logged by the unmodified mlflow client to a real MLflow server and to
runstream's MLflow-compatible API, on this machine, in one run.

    python benchmarks/mlflow_ingest.py [--runs 40 --metrics 5 --steps 1000 --producers 2]

Each producer process runs `MlflowClient`: create_run, log_batch of 1,000 metrics (params in the first call),
set_terminated, for every n-th run of the seeded sweep (the producer of benchmarks/sweep.py). MLflow's server
uses sqlite and writes synchronously; runstream answers each call once Kafka acknowledged its events. Reported
for both: acknowledged ingest (first call to last answer), and for runstream also the rate until every point is
visible through its API (the projector's work included). Then the way most users log: `log_metric` once per
key and step (one HTTP call a point) through the same client, on a smaller sweep (`--per-step-runs`,
`--per-step-steps`), against both servers. Results: benchmarks/results/mlflow-<stamp>.md and
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


def per_step_producer(uri: str, experiment_id: str, runs: list[int], metrics: int, steps: int, seed: int,
                      out: Any, start: Any = None) -> None:
    """The unmodified client as a training loop uses it: log_metric per key and step (one call a point)."""
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the client prints a link per run
    from mlflow.tracking import MlflowClient
    from sweep import metric_names, metric_value, run_params, together

    client = MlflowClient(uri)
    keys = metric_names(metrics)
    together(start)
    first = time.time()
    for run in runs:
        run_id = client.create_run(experiment_id, run_name=f"trial-{run}").info.run_id
        for key, value in run_params(seed, run).items():
            client.log_param(run_id, key, value)
        for step in range(steps):
            for i, key in enumerate(keys):
                client.log_metric(run_id, key, metric_value(seed, run, i, step), step=step)
        client.set_terminated(run_id)
    out.put({"first": first, "last": time.time(), "undelivered": 0})


def log_sweep(uri: str, api: Http, args: argparse.Namespace, sampler: Sampler, name: str,
              producer: Any = mlflow_producer, experiment: str = EXPERIMENT) -> dict[str, Any]:
    """Create the experiment, run the producers, and time them; returns points, first and last instants."""
    experiment_id = api.call("POST", "/api/2.0/mlflow/experiments/create", {"name": experiment})["experiment_id"]
    producers, out = start_producers(producer, (uri, experiment_id), args.runs, args, sampler, name)
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
        logged["per_step"] = per_step(f"http://127.0.0.1:{stack.api_port}", api, args)
        return logged
    finally:
        stack.stop()


def per_step(uri: str, api: Http, args: argparse.Namespace) -> dict[str, Any]:
    small = argparse.Namespace(**{**vars(args), "runs": args.per_step_runs, "steps": args.per_step_steps})
    sampler = Sampler()
    try:
        return log_sweep(uri, api, small, sampler, "per-step producers", per_step_producer, f"{EXPERIMENT}-per-step")
    finally:
        sampler.stop()


def mlflow_side(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    sampler = Sampler()
    with mlflow_server(home, sampler) as api:
        logged = log_sweep(f"http://127.0.0.1:{api.port}", api, args, sampler, "producers")
        logged["per_step"] = per_step(f"http://127.0.0.1:{api.port}", api, args)
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
        f"| per-step `log_metric` (one call a point; {ours['per_step']['points']:,} points), acknowledged points/s | "
        f"{theirs['per_step']['points_per_s']:,.0f} | {ours['per_step']['points_per_s']:,.0f} | "
        f"{ours['per_step']['points_per_s'] / theirs['per_step']['points_per_s']:.2f}x |",
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
    parser.add_argument("--per-step-runs", type=int, default=4)
    parser.add_argument("--per-step-steps", type=int, default=100)
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
            print(json.dumps({k: v for k, v in result[side].items() if k not in ("processes", "per_step")}), flush=True)
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
                   "ratio_visible": result["runstream"]["visible_points_per_s"] / result["mlflow"]["points_per_s"],
                   "per_step_log_metric": {
                       "points": result["runstream"]["per_step"]["points"],
                       "mlflow_points_per_s": result["mlflow"]["per_step"]["points_per_s"],
                       "runstream_points_per_s": result["runstream"]["per_step"]["points_per_s"],
                       "ratio": result["runstream"]["per_step"]["points_per_s"]
                       / result["mlflow"]["per_step"]["points_per_s"]},
                   "load_average": {"before": result["load_before"], "after": os.getloadavg()[0]}}
        (RESULTS / "mlflow-latest.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
