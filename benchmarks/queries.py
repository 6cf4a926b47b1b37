"""Query benchmark: a 10,000-run sweep loaded straight into ClickHouse, timed over HTTP.

    python benchmarks/queries.py [--runs 10000 --steps 1000 --repeat 20]

Three processes: a loader (generates the sweep inside ClickHouse with INSERT ... SELECT, so the
materialized views fill as they would from the projector), the runstream API over that data, and this
one, which times medians of repeated calls with a persistent HTTP connection.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
EXPERIMENT = "bench-sweep"
KEYS = ["train_loss", "val_loss", "accuracy", "lr_actual", "grad_norm"]
PARAMS = ["lr", "optimizer", "batch_size", "dropout", "layers", "width", "config", "weight_decay", "seed", "scheduler"]
TARGETS_MS = {"search": 50, "leaderboard": 20, "curve": 20, "compare": 100, "parallel_coordinates": 200,
              "group_curves": 200, "group_leaderboard": 100}

LOAD_SQL = [
    """INSERT INTO experiments (experiment_id, name, artifact_location, created_time, event_id, kafka_partition,
           kafka_offset)
       SELECT {exp:String}, {name:String}, NULL, now64(6), generateUUIDv4(), 0, 0""",
    """INSERT INTO runs (experiment_id, run_id, event_type, event_time, seq, name, user, status, start_time,
           end_time, deleted, event_id, kafka_partition, kafka_offset)
       SELECT {exp:String}, lower(hex(MD5(toString(number)))), 'RunStarted', now64(6) - toIntervalSecond(number), 1,
              concat('trial-', toString(number)), 'bench', if(number % 10 = 0, 'FAILED', 'FINISHED'),
              now64(6) - toIntervalSecond(number), now64(6), 0, generateUUIDv4(), number % 6, 1 + intDiv(number, 6)
       FROM numbers({runs:UInt64})""",
    """INSERT INTO events (event_id, run_id, experiment_id, seq, event_type, event_time, producer_host, producer_pid,
           producer_user, sdk_version, schema_fingerprint, payload, kafka_partition, kafka_offset)
       SELECT generateUUIDv4(), lower(hex(MD5(toString(number)))), {exp:String}, 1, 'RunStarted', now64(6), 'bench',
              0, 'bench', 'bench', '', '{}', number % 6, 1 + intDiv(number, 6)
       FROM numbers({runs:UInt64})""",
    """INSERT INTO params (experiment_id, run_id, key, value, event_time, seq, event_id, kafka_partition, kafka_offset)
       SELECT {exp:String}, lower(hex(MD5(toString(intDiv(number, 10))))), {keys:Array(String)}[number % 10 + 1],
              multiIf(number % 10 = 0, toString(pow(10, -1 - toInt64(sipHash64(intDiv(number, 10), 0) % 4))),
                      number % 10 = 1, ['adam', 'sgd', 'adamw'][sipHash64(intDiv(number, 10), 1) % 3 + 1],
                      number % 10 = 2, toString(16 * pow(2, sipHash64(intDiv(number, 10), 2) % 5)),
                      number % 10 = 6, toString(intDiv(number, 50)),
                      number % 10 = 8, toString(intDiv(number, 10) % 5),
                      toString(sipHash64(intDiv(number, 10), number % 10) % 100)),
              now64(6), 2, generateUUIDv4(), intDiv(number, 10) % 6, 1 + intDiv(intDiv(number, 10), 6)
       FROM numbers({runs:UInt64} * 10)""",
    """INSERT INTO metrics (experiment_id, run_id, key, step, ts, value, kafka_partition, kafka_offset,
           point_index)
       SELECT {exp:String}, lower(hex(MD5(toString(intDiv(number, {per_run:UInt64}))))),
              {metric_keys:Array(String)}[intDiv(number, {steps:UInt64}) % 5 + 1],
              number % {steps:UInt64}, toDateTime64('2026-01-01 00:00:00', 3, 'UTC') + toIntervalMillisecond(number),
              (1 + (sipHash64(intDiv(number, {per_run:UInt64})) % 1000) / 1000) / (number % {steps:UInt64} + 1)
                  + (sipHash64(number) % 1000) / 100000,
              intDiv(number, {per_run:UInt64}) % 6, 0,
              toUInt32(number % {steps:UInt64})
       FROM numbers({points:UInt64})""",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(data_dir: str, runs: int, steps: int) -> None:
    """Child process: create the tables and fill them (embedded ClickHouse allows one process per path)."""
    sys.path.insert(0, str(ROOT))
    from consumers.clickhouse import connect
    from consumers.derived import DERIVED
    from consumers.migrate import migrate, migrations
    from consumers.sink import ClickHouseSink
    from schemas.ids import experiment_id_for

    client = connect(f"chdb://{data_dir}/clickhouse", "runstream")
    migrate(client)
    bind = {"exp": experiment_id_for(EXPERIMENT), "name": EXPERIMENT, "runs": runs, "keys": PARAMS,
            "metric_keys": KEYS, "steps": steps, "per_run": steps * len(KEYS), "points": runs * steps * len(KEYS)}
    for sql in LOAD_SQL:
        client.command(sql, parameters=bind, settings={"async_insert": 0, "max_insert_threads": 2})
    # run_state from the rows just loaded, by migration 0018's own statements (the projector writes it live)
    for statement in next(s for version, _, s in migrations() if version == 18):
        if statement.startswith("INSERT INTO run_state"):
            client.command(statement, settings={"async_insert": 0})
    sink = ClickHouseSink(client)
    for derived in DERIVED:  # what the projector derives after each batch, here in one pass per partition
        for partition in range(6):
            sink.derive(derived, partition, -1, 2**63 - 1)
    client.command("OPTIMIZE TABLE run_metric_summary FINAL")
    client.command("OPTIMIZE TABLE run_state FINAL")  # as the table stands 10 s after the projector's last insert
    print(json.dumps({"points": client.query("SELECT count() FROM metrics").result_rows[0][0]}))


def serve(data_dir: str, port: int) -> None:
    """Child process: the runstream API over the loaded data (no projector, no broker needed)."""
    sys.path.insert(0, str(ROOT))
    import uvicorn

    from runstream.settings import ServerSettings
    from runstream.stack import build_app

    settings = ServerSettings(data_dir=Path(data_dir), run_projector=False, kafka_bootstrap_servers="127.0.0.1:1",
                              api_port=port)
    uvicorn.run(build_app(settings), host="127.0.0.1", port=port, log_level="warning")


class Api:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = json.dumps(body) if body is not None else None
        self.conn.request(method, path, payload, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path} -> {response.status}: {data[:300]!r}")
        result: dict[str, Any] = json.loads(data)
        return result

    def median_ms(self, repeat: int, method: str, path: str, body: dict[str, Any] | None = None) -> float:
        self.call(method, path, body)  # warm-up
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            self.call(method, path, body)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the API process exited")
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/api/v1/experiments")
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the API did not start")


def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = tempfile.mkdtemp(prefix="runstream-bench-")
    try:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--load", data_dir, "--runs", str(args.runs),
                              "--steps", str(args.steps)], check=True, capture_output=True, text=True).stdout
        points = json.loads(out.strip().splitlines()[-1])["points"]
        load_s = time.perf_counter() - started
        print(f"loaded {args.runs} runs, {points:,} points in {load_s:.1f}s", flush=True)
        port = free_port()
        proc = subprocess.Popen([sys.executable, __file__, "--serve", data_dir, "--port", str(port)])
        try:
            wait_ready(port, proc)
            load_avg = round(os.getloadavg()[0], 1)
            api = Api(port)
            experiment = next(e for e in api.call("GET", "/api/v1/experiments")["experiments"]
                              if e["name"] == EXPERIMENT)
            exp_id = experiment["experiment_id"]
            some_runs = [r["run_id"] for r in api.call("POST", "/api/v1/runs/search", {
                "experiment_ids": [exp_id], "max_results": 20, "order_by": ["attributes.run_name ASC"]})["runs"]]
            timings = {
                "search": api.median_ms(args.repeat, "POST", "/api/v1/runs/search", {
                    "experiment_ids": [exp_id], "max_results": 100,
                    "filter": "metrics.val_loss < 0.01 AND params.optimizer = 'adam' "
                              "AND attributes.status = 'FINISHED'",
                    "order_by": ["metrics.val_loss ASC"]}),
                "leaderboard": api.median_ms(args.repeat, "GET",
                                             f"/api/v1/experiments/{exp_id}/leaderboard?metric=val_loss&k=10"),
                "curve": api.median_ms(args.repeat, "GET",
                                       f"/api/v1/runs/{some_runs[0]}/metrics/val_loss?max_points=1000"),
                "compare": api.median_ms(args.repeat, "POST", "/api/v1/compare", {
                    "run_ids": some_runs[:20], "metric_keys": ["val_loss", "train_loss"], "max_points": 500}),
                "parallel_coordinates": api.median_ms(
                    args.repeat, "GET",
                    f"/api/v1/experiments/{exp_id}/parallel-coordinates?params=lr,optimizer,batch_size&metric=val_loss"),
                # 200 configurations x 5 seeds (params.config is a run's number // 5; params.seed its number % 5)
                "group_curves": api.median_ms(args.repeat, "POST", "/api/v1/groups/curves", {
                    "experiment_ids": [exp_id], "filter": "params.config < 200", "group_by": ["params.config"],
                    "metric_keys": ["val_loss"], "max_points": 1000}),
                "group_leaderboard": api.median_ms(args.repeat, "POST", "/api/v1/groups/leaderboard", {
                    "experiment_ids": [exp_id], "group_by": ["params.config"], "metric_key": "val_loss"}),
            }
        finally:
            proc.terminate()
            proc.wait(30)
        return {"runs": args.runs, "steps": args.steps, "points": points, "load_s": round(load_s, 1),
                "load_avg": load_avg, "repeat": args.repeat, "median_ms": {k: round(v, 2) for k, v in timings.items()}}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def report(result: dict[str, Any]) -> str:
    lines = [
        f"# Query benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"embedded ClickHouse (chdb). Sweep: {result['runs']:,} runs x 10 params x 5 metrics x "
        f"{result['steps']:,} steps = {result['points']:,} points, loaded in {result['load_s']} s. "
        f"Medians of {result['repeat']} calls over HTTP (keep-alive), after one warm-up call. "
        f"Load average (1 min) when the queries started: {result.get('load_avg', 'not recorded')}.",
        "",
        "| query | median ms | target ms | within target |",
        "|---|---:|---:|---|",
    ]
    for name, ms in result["median_ms"].items():
        target = TARGETS_MS[name]
        lines.append(f"| {name} | {ms:.1f} | {target} | {'yes' if ms <= target else 'no'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        return load(args.load, args.runs, args.steps)
    if args.serve:
        return serve(args.serve, args.port)
    result = run(args)
    text = report(result)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"queries-{datetime.now(UTC):%Y%m%d-%H%M}.md").write_text(text)
    (RESULTS / "queries-latest.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
