"""The server's CPU per `/api/v1/sql` call, two checkouts alternated: `runstream up` from each (own data directory,
broker and ports, each checkout's own code), then rounds of calls to one and the other (the order flipped every
round), the server process's CPU (with its children, without its broker) read before and after each block.

    python benchmarks/sql_ab.py --base /work/wt/x-base --new /work/wt/x [--rounds 8] [--calls 25]

The query is `sweep.py`'s end-of-ingest ask (the summaries' point count of one experiment). An idle server still
polls Kafka, so its CPU in a block is the calls' plus a little idling, alike on both sides. Prints one JSON line per
block, then the median CPU ms per call on each side and in how many rounds the new side used less."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sweep import Http, cpu_seconds, free_port, wait  # noqa: E402

QUERY = "SELECT sum(point_count) FROM run_metric_summary WHERE experiment_id = '0'"


class Server:
    def __init__(self, checkout: Path) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="sql-ab-"))
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTREAM_")}
        env.update({"PYTHONPATH": str(checkout), "RUNSTREAM_DATA_DIR": str(self.home),
                    "RUNSTREAM_API_PORT": str(self.port), "RUNSTREAM_KAFKA_PORT": str(free_port()),
                    "RUNSTREAM_KAFKA_CONTROLLER_PORT": str(free_port())})
        with open(self.home / "up.log", "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "runstream", "up"], env=env, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=checkout)
        self.api = Http(self.port)
        wait(lambda: self.proc.poll() is None and self.api.call("GET", "/healthz"), 240, "runstream up", 0.5)
        self.broker = int((self.home / "kafka" / "broker.pid").read_text())

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid, without=(self.broker,))

    def block(self, calls: int) -> float:
        """CPU ms per call over `calls` calls."""
        before = self.cpu()
        for _ in range(calls):
            self.api.call("POST", "/api/v1/sql", {"query": QUERY})
        return (self.cpu() - before) * 1000 / calls

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.broker, signal.SIGKILL)
        shutil.rmtree(self.home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--calls", type=int, default=25)
    args = parser.parse_args()
    servers = {"base": Server(args.base.resolve()), "new": Server(args.new.resolve())}
    try:
        for server in servers.values():  # warm: first calls import and plan
            server.block(5)
        results: dict[str, list[float]] = {"base": [], "new": []}
        for r in range(args.rounds):
            for name in ("base", "new") if r % 2 == 0 else ("new", "base"):
                load = os.getloadavg()[0]
                ms = servers[name].block(args.calls)
                results[name].append(ms)
                print(json.dumps({"round": r + 1, "variant": name, "cpu_ms_per_call": round(ms, 2),
                                  "load": round(load, 2), "at": time.strftime("%H:%M:%S")}), flush=True)
        fewer = sum(n < b for n, b in zip(results["new"], results["base"], strict=True))
        print(json.dumps({"median_cpu_ms_per_call": {k: round(statistics.median(v), 2) for k, v in results.items()},
                          "new_lower_in": f"{fewer} of {args.rounds}"}))
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main()
