"""`make fuzz`: schemathesis against the OpenAPI schema of a running local stack; any 5xx fails.

Starts `runstream up` (its own broker, data directory and ports), logs a small sweep so that reads find
data, then runs schemathesis with the not_a_server_error check and a bounded number of examples. Then
generated bodies for the MLflow routes and generated SQL for /api/v1/sql (tests/fuzz/bodies.py): no 5xx, JSON
answers, and no answer holding a canary (a file's contents, a value only the server's environment holds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def fuzz_bodies(api_port: int, examples: int, canaries: tuple[str, ...], canary_file: str) -> int:
    from tests.fuzz.bodies import Target, fuzz_mlflow, fuzz_sql

    base = f"http://127.0.0.1:{api_port}"

    def created(path: str, body: dict[str, object], field: str) -> str:
        request = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        return str(answer["experiment_id"] if field == "experiment_id" else answer["run"]["info"]["run_id"])

    experiment_id = created("/api/2.0/mlflow/experiments/create", {"name": "fuzz-mlflow"}, "experiment_id")
    run_id = created("/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id}, "run_id")
    target = Target(base, run_id, experiment_id, canaries, canary_file)
    fuzz_mlflow(target, examples)
    fuzz_sql(target, examples * 10)
    print(f"generated bodies: {target.requests} requests, {len(target.failures)} failures", flush=True)
    for failure in target.failures[:50]:
        print("  " + failure, file=sys.stderr)
    return 1 if target.failures else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--body-examples", type=int, default=40, help="generated bodies per MLflow route, and "
                        "10x as many SQL statements")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="runstream-fuzz-"))
    api_port, kafka_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTREAM_")}
    canary_file, env_canary = data_dir / "canary.txt", f"env-canary-{uuid.uuid4().hex}"
    file_canary = f"file-canary-{uuid.uuid4().hex}"
    canary_file.write_text(file_canary)
    env["FUZZ_CANARY"] = env_canary
    env.update({"RUNSTREAM_DATA_DIR": str(data_dir), "RUNSTREAM_API_PORT": str(api_port),
                "RUNSTREAM_KAFKA_PORT": str(kafka_port), "RUNSTREAM_KAFKA_CONTROLLER_PORT": str(free_port()),
                "RUNSTREAM_KAFKA_HEAP": "512m", "RUNSTREAM_SQL_MAX_EXECUTION_TIME_S": "2"})
    with open(data_dir / "up.log", "wb") as log:
        up = subprocess.Popen([sys.executable, "-m", "runstream", "up"], env=env, stdout=log, stderr=subprocess.STDOUT,
                              cwd=ROOT)
    try:
        deadline = time.monotonic() + 180
        while not healthy(api_port):
            if up.poll() is not None or time.monotonic() > deadline:
                print((data_dir / "up.log").read_text()[-3000:], file=sys.stderr)
                return 1
            time.sleep(0.5)
        sys.path.insert(0, str(ROOT))
        from producer import Tracker

        with Tracker(bootstrap_servers=f"127.0.0.1:{kafka_port}") as tracker:
            for i in range(3):
                with tracker.start_run("fuzz", f"r{i}", params={"lr": 0.1 * (i + 1)}, tags={"t": "x"}) as run:
                    for step in range(50):
                        run.log_metrics({"loss": 1 / (step + 1), "acc": step / 50}, step=step)
        time.sleep(2)
        url = f"http://127.0.0.1:{api_port}/openapi.json"
        schema = json.load(urllib.request.urlopen(url, timeout=10))
        operations = sum(len(ops) for ops in schema["paths"].values())
        print(f"fuzzing {operations} operations, up to {args.max_examples} examples each", flush=True)
        command = [str(Path(sys.executable).with_name("schemathesis")), "run", url, "--checks", "not_a_server_error",
                   "--max-examples", str(args.max_examples), "--seed", str(args.seed),
                   "--generation-database", "none", "--workers", "1"]
        schema_rc = subprocess.run(command, cwd=data_dir).returncode
        return max(schema_rc, fuzz_bodies(api_port, args.body_examples, (file_canary, env_canary), str(canary_file)))
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
