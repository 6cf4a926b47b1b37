"""Where each benchmark question's time goes: per ClickHouse statement, JSON encoding, and the rest (HTTP, FastAPI).

    python benchmarks/query_profile.py --data DIR [--runs 10000 --steps 50 --repeat 15]

Loads a sweep with benchmarks/queries.py's loader when DIR holds none, serves the API in this process (uvicorn in
a thread, no projector) and asks the five questions of benchmarks/sweep.py over HTTP. Every statement the API
sends is timed on the client (`Client.query`, which includes turning the result into Python rows), as is the
response's JSON encoding; medians per question and per statement are printed as JSON lines. `--door mlflow` asks
them of runstream's MLflow REST API, as benchmarks/sweep.py asks MLflow.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# (a fragment of the statement, its name), first match wins
LABELS = [
    ("SELECT r.run_id, snapshot FROM", "search ids (+ log positions)"),
    ("event_offsets", "log positions"),
    ("FROM experiments WHERE experiment_id IN", "experiment exists"),
    ("FROM experiments_current WHERE name IN", "experiment by name"),
    ("FROM run_current", "run_current"),
    ("SELECT any(experiment_id) FROM runs WHERE run_id", "run's experiment"),
    ("SELECT r.run_id FROM", "search ids"),
    ("SELECT r.run_id, r.experiment_id, e.name", "attributes"),
    ("SELECT r.run_id, r.experiment_id, '', r.name", "state (attributes, params, tags)"),
    ("FROM experiments_current WHERE experiment_id IN", "names"),
    ("SELECT r.run_id, r.name, r.status, r.params", "run cards"),
    ("SELECT r.run_id, r.name,\n", "parallel rows"),
    ("SELECT run_id, key, argMax(value, (event_time, seq))\nFROM params", "params"),
    ("FROM tags", "tags"),
    ("argMaxMerge(last_value), min(min_value)", "summaries"),
    ("HAVING v IS NOT NULL", "ranking"),
    ("SELECT r.run_id, r.name, r.status, p.kv", "run cards"),
    ("SELECT r.run_id, r.name, p.kv, m.v", "parallel rows"),
    ("SELECT count(), min(step), max(step)", "curve count"),
    ("largestTriangleThreeBuckets({max_points:UInt64})(toFloat64(step), value)\nFROM", "bulk lttb"),
    ("SELECT step, value, toUnixTimestamp64Milli(ts)", "curve points"),
    ("inputs", "inputs"),
]


def label(sql: str) -> str:
    return next((name for fragment, name in LABELS if fragment in sql), sql.strip().splitlines()[0][:60])


class Recorder:
    """Per request: (statement, ms) of every ClickHouse query and the JSON encoding."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def add(self, name: str, ms: float) -> None:
        with self.lock:
            self.events.append((name, ms))

    def take(self) -> list[tuple[str, float]]:
        with self.lock:
            events, self.events = self.events, []
        return events


def instrument(recorder: Recorder) -> None:
    from clickhouse_connect.driver.client import Client

    from query_api import jsonresponse

    original_query = Client.query
    original_dumps = jsonresponse.dumps

    def query(self: Any, query: str | None = None, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        result = original_query(self, query, *args, **kwargs)
        _ = result.result_rows
        recorder.add(label(query or ""), (time.perf_counter() - began) * 1000)
        return result

    def dumps(content: Any) -> bytes:
        began = time.perf_counter()
        out = original_dumps(content)
        recorder.add("json encode", (time.perf_counter() - began) * 1000)
        return out

    Client.query = query  # type: ignore[method-assign]
    jsonresponse.dumps = dumps  # type: ignore[assignment]


def serve(data_dir: str, port: int) -> threading.Thread:
    import uvicorn

    from runstream.settings import ServerSettings
    from runstream.stack import build_app

    settings = ServerSettings(data_dir=Path(data_dir), run_projector=False, kafka_bootstrap_servers="127.0.0.1:1",
                              api_port=port)
    server = uvicorn.Server(uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return thread


def questions(api: Any, experiment_id: str, steps: int) -> dict[str, Callable[[], Any]]:
    """The five questions of benchmarks/sweep.py (runstream side), as calls."""
    import sweep

    metric = "val_loss"
    some = [r["run_id"] for r in api.call("POST", "/api/v1/runs/search", {
        "experiment_ids": [experiment_id], "max_results": 20, "order_by": ["attributes.run_name ASC"]})["runs"]]
    return {
        "top10_by_final_metric": lambda: api.call(
            "GET", f"/api/v1/experiments/{experiment_id}/leaderboard?metric={metric}&order=asc&k=10&agg=last"),
        "top10_by_final_metric_cold": lambda: api.call(
            "GET", f"/api/v1/experiments/{experiment_id}/leaderboard?metric={metric}&order=asc&k=10&agg=last", None,
            sweep.NO_CACHE),
        "param_filtered_search": lambda: api.call("POST", "/api/v1/runs/search", {
            "experiment_ids": [experiment_id], "filter": "params.optimizer = 'adam'", "max_results": 100}),
        "param_filtered_search_cold": lambda: api.call("POST", "/api/v1/runs/search", {
            "experiment_ids": [experiment_id], "filter": "params.optimizer = 'adam'", "max_results": 100},
            sweep.NO_CACHE),
        "one_curve": lambda: api.call("GET", f"/api/v1/runs/{some[0]}/metrics/{metric}"),
        "one_curve_cold": lambda: api.call("GET", f"/api/v1/runs/{some[0]}/metrics/{metric}", None, sweep.NO_CACHE),
        "twenty_curves": lambda: api.call("POST", "/api/v1/compare", {
            "run_ids": some[:20], "metric_keys": [metric], "max_points": steps}),
        "twenty_curves_cold": lambda: api.call("POST", "/api/v1/compare", {
            "run_ids": some[:20], "metric_keys": [metric], "max_points": steps}, sweep.NO_CACHE),
        "all_runs_params_final_metrics": lambda: api.call(
            "GET", f"/api/v1/experiments/{experiment_id}/parallel-coordinates?"
                   f"params={','.join(sweep.PARAM_NAMES)}&metric={metric}"),
        "all_runs_params_final_metrics_cold": lambda: api.call(
            "GET", f"/api/v1/experiments/{experiment_id}/parallel-coordinates?"
                   f"params={','.join(sweep.PARAM_NAMES)}&metric={metric}", None, sweep.NO_CACHE),
    }


def main() -> None:
    import sweep

    from benchmarks import queries as loader
    from schemas.ids import experiment_id_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--door", choices=("api", "mlflow"), default="api",
                        help="ask runstream's own API (default) or its MLflow REST API the same five questions")
    args = parser.parse_args()
    if not (Path(args.data) / "clickhouse").exists():
        loader.load(args.data, args.runs, args.steps)
    recorder = Recorder()
    instrument(recorder)
    port = sweep.free_port()
    serve(args.data, port)
    sweep.wait(lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/healthz") or True,
               60, "the API")
    time.sleep(1)
    api = sweep.Http(port)
    experiment_id = experiment_id_for(loader.EXPERIMENT)
    if args.door == "mlflow":
        calls = sweep.mlflow_questions(api, experiment_id, "val_loss", args.steps, args.runs)
    else:
        calls = questions(api, experiment_id, args.steps)
    for name, call in calls.items():
        call()  # warm-up
        recorder.take()
        totals, parts = [], defaultdict(list)
        for _ in range(args.repeat):
            began = time.perf_counter()
            call()
            totals.append((time.perf_counter() - began) * 1000)
            per: dict[str, float] = defaultdict(float)
            for part, ms in recorder.take():
                per[part] += ms
            for part, ms in per.items():
                parts[part].append(ms)
        print(json.dumps({"question": name, "http_ms": round(statistics.median(totals), 2),
                          "parts_ms": {k: round(statistics.median(v), 2) for k, v in parts.items()},
                          "load_average": round(os.getloadavg()[0], 2)}), flush=True)


if __name__ == "__main__":
    main()
