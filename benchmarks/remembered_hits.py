"""How long a remembered answer takes while the server's GIL is busy, from two checkouts alternated in one session.

Each run starts a fresh stack of its checkout, logs a 10,000-run sweep (10 steps per series), asks the five questions
once each so every answer is remembered, then times 200 remembered param-filtered searches: quiet, and again while
another connection asks the cold (`Cache-Control: no-cache`) parallel coordinates of all 10,000 runs in a loop (a
question that shapes 10,000 rows in Python on the server's threads: the same GIL contention as a run state loading
right after an ingest). The client never parses the busy connection's answers, so its own GIL stays free.

    python benchmarks/remembered_hits.py --base /work/wt/x-base --new /work/wt/x --pairs 3 [--env-new K=V ...]

`--env-base`/`--env-new` set environment variables for one side only (e.g. RUNSTREAM_GIL_SWITCH_INTERVAL_MS=5), so
one checkout can be compared with itself under two settings."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from alternate import alternate, table

COLUMNS = [("quiet median ms", "quiet", "{:.2f}", False), ("quiet p90 ms", "quiet_p90", "{:.2f}", False),
           ("busy median ms", "busy", "{:.2f}", False), ("busy p90 ms", "busy_p90", "{:.2f}", False),
           ("from memory", "remembered", "{:.0f}", True)]


def timed(api: Any, calls: int, method: str, path: str, body: dict[str, Any] | None) -> tuple[list[float], int]:
    times, remembered = [], 0
    for _ in range(calls):
        began = time.perf_counter()
        api.call(method, path, body)
        times.append((time.perf_counter() - began) * 1000)
        remembered += api.last_answer == "remembered"
    return times, remembered


def one_side(calls: int) -> dict[str, Any]:
    """In a child process whose PYTHONPATH is the checkout: the quiet and busy figures of one fresh stack."""
    import scale10k
    import sweep

    from schemas.ids import experiment_id_for

    args = argparse.Namespace(runs=10_000, steps=10, metrics=5, producers=2, seed=7, repeat=1)
    load = os.getloadavg()[0]
    sampler = sweep.Sampler()
    stack = sweep.Runstream(Path(tempfile.mkdtemp(prefix="remembered-hits-")))
    stack.start()
    try:
        api = sweep.Http(stack.api_port)
        experiment_id = experiment_id_for(sweep.EXPERIMENT)
        procs, out = sweep.start_producers(scale10k.runstream_producer, (stack.bootstrap,), args.runs, args, sampler,
                                           "runstream producers")
        for _ in range(args.producers):
            out.get(timeout=3600)
        expected = args.runs * args.metrics * args.steps
        sweep.wait(lambda: sweep.visible_points(api, experiment_id) >= expected, 3600, "every point visible", 0.2)
        for proc in procs:
            proc.join(30)
        questions = sweep.runstream_questions(api, experiment_id, args)
        time.sleep(5)  # the run state's load and the ingest's merges are over
        for method, path, body in questions.values():
            for _ in range(2):
                api.call(method, path, body)
        time.sleep(2)
        method, path, body = questions["param_filtered_search"]
        quiet, remembered_quiet = timed(api, calls, method, path, body)
        stop = threading.Event()

        def busy_asker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", stack.api_port, timeout=120)
            b_method, b_path, _ = questions["all_runs_params_final_metrics"]
            while not stop.is_set():
                conn.request(b_method, b_path, None, sweep.NO_CACHE)
                conn.getresponse().read()

        thread = threading.Thread(target=busy_asker)
        thread.start()
        time.sleep(0.5)
        busy, remembered_busy = timed(api, calls, method, path, body)
        stop.set()
        thread.join()
        decile = max(0, int(calls * 0.9) - 1)
        return {"load": f"{load:.2f}-{os.getloadavg()[0]:.2f}", "quiet": statistics.median(quiet),
                "quiet_p90": sorted(quiet)[decile], "busy": statistics.median(busy), "busy_p90": sorted(busy)[decile],
                "remembered": remembered_quiet + remembered_busy}
    finally:
        stack.stop()
        sampler.stop()


def run(checkout: Path, calls: int, env: dict[str, str]) -> dict[str, Any]:
    # this script (and its sweep.py beside it) for both sides; the server runs the checkout's code (its PYTHONPATH)
    proc = subprocess.run([sys.executable, __file__, "--one-side",
                           "--calls", str(calls)], cwd=checkout, capture_output=True, text=True, timeout=3600,
                          env={**os.environ, "PYTHONPATH": str(checkout), **env})
    found = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not found:
        raise RuntimeError(f"{checkout} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(found[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path)
    parser.add_argument("--new", type=Path)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--env-base", nargs="*", default=[], metavar="K=V")
    parser.add_argument("--env-new", nargs="*", default=[], metavar="K=V")
    parser.add_argument("--one-side", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_side:
        print(json.dumps(one_side(args.calls)), flush=True)
        return
    if args.base is None or args.new is None:
        parser.error("--base and --new are required")
    envs = {"base": dict(kv.split("=", 1) for kv in args.env_base),
            "new": dict(kv.split("=", 1) for kv in args.env_new)}
    sides = {args.base.resolve(): "base", args.new.resolve(): "new"}
    if len(sides) == 1:  # one checkout under two settings: the sides told apart by `alternate`'s order
        order = iter(["base", "new", "new", "base"] * args.pairs)  # base first in odd pairs
        rows = alternate(args.pairs, args.base, args.new, lambda c: run(c, args.calls, envs[next(order)]))
    else:
        rows = alternate(args.pairs, args.base, args.new, lambda c: run(c, args.calls, envs[sides[c]]))
    print(table(rows, COLUMNS))


if __name__ == "__main__":
    main()
