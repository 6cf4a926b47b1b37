"""The five questions of benchmarks/sweep.py against two versions of the API on the same data, calls interleaved.

    python benchmarks/query_ab.py --data DIR --base /path/to/other/checkout [--repeat 21]

On a shared machine whose load swings from 3 to 20 within a minute, timings taken one version after the other
say more about the load than about the code. Here both versions serve copies of the same ClickHouse data at the
same time (embedded ClickHouse allows one process per data path), and each call to one is followed by the same
call to the other, so both see the same load. DIR is a runstream data directory (`RUNSTREAM_DATA_DIR` of a
finished `runstream up`, or one loaded by benchmarks/queries.py); `--base` a checkout of the other commit
(`git worktree add` or `git archive | tar -x`). Prints medians per question and their ratio (base / this).
`--door mlflow` asks the same questions of runstream's MLflow REST API (as benchmarks/sweep.py asks MLflow).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import sweep  # noqa: E402
from query_profile import questions  # noqa: E402

SERVE = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import uvicorn
from runstream.settings import ServerSettings
from runstream.stack import build_app
settings = ServerSettings(data_dir=Path(sys.argv[2]), run_projector=False, kafka_bootstrap_servers="127.0.0.1:1",
                          api_port=int(sys.argv[3]))
app = build_app(settings)
if len(sys.argv) > 4 and int(sys.argv[4]):  # the copy of series on, as under an idle hosted projector
    from contextlib import asynccontextmanager
    from query_api.curvecopy import CurveCopy
    copy, started = CurveCopy(int(sys.argv[4]), lambda: 0), app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app):
        async with started(app) as state:
            app.state.runstream.curves = copy
            yield state

    app.router.lifespan_context = lifespan
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
"""


def start(tree: Path, data: Path, port: int, copy_points: int = 0) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(tree), str(data), str(port), str(copy_points)], cwd=tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = sweep.Http(port)
    sweep.wait(lambda: proc.poll() is None and api.call("GET", "/api/v1/experiments"), 240, f"the API of {tree}", 0.3)
    return proc


def paired(times: dict[str, list[float]]) -> dict[str, Any]:
    """Medians of alternated calls (ms) and how many of the pairs (calls of one round) "this" was faster in."""
    base, this = statistics.median(times["base"]), statistics.median(times["this"])
    faster = sum(t < b for t, b in zip(times["this"], times["base"], strict=True))
    return {"base_ms": round(base, 2), "this_ms": round(this, 2), "speedup": round(base / this, 2),
            "this_faster": f"{faster} of {len(times['this'])}"}


def _first_curves(api: sweep.Http, runs: list[str]) -> Callable[[], Any]:
    unasked = iter(runs)
    return lambda: api.call("GET", f"/api/v1/runs/{next(unasked)}/metrics/val_loss", None, sweep.NO_CACHE)


def main() -> None:
    from schemas.ids import experiment_id_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--this", type=Path, default=ROOT, help="the checkout compared (default: this one)")
    parser.add_argument("--steps", type=int, default=1000, help="max_points of the twenty-curves question")
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--only", default="", help="comma-separated questions to time (default: all)")
    parser.add_argument("--door", choices=("api", "mlflow"), default="api",
                        help="ask runstream's own API (default) or its MLflow REST API the same five questions")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="ask every question of both once, then wait this many seconds before timing (what "
                             "a first question starts in the background, such as a run state's load, is done)")
    parser.add_argument("--copy-points", type=int, default=0,
                        help="turn the in-memory copy of series (query_api/curvecopy.py) on in this checkout's "
                             "server, as an idle hosted projector would, holding this many points (base: as is)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="query-ab-"))
    procs = []
    try:
        apis = {}
        for name, tree in (("base", args.base.resolve()), ("this", args.this.resolve())):
            copy = work / name
            shutil.copytree(args.data, copy, symlinks=True,  # ClickHouse links tables to store/ relatively
                            ignore=shutil.ignore_patterns("kafka", "spool", "*.log"))
            port = sweep.free_port()
            procs.append(start(tree, copy, port, args.copy_points if name == "this" else 0))
            apis[name] = sweep.Http(port)
        experiment_id = experiment_id_for(sweep.EXPERIMENT)
        if args.door == "mlflow":
            runs = len(apis["this"].call("GET", f"/api/v1/experiments/{experiment_id}/parallel-coordinates?"
                                                f"params={sweep.PARAM_NAMES[0]}&metric=val_loss")["runs"])
            calls = {name: sweep.mlflow_questions(api, experiment_id, "val_loss", args.steps, runs)
                     for name, api in apis.items()}
        else:
            calls = {name: questions(api, experiment_id, args.steps) for name, api in apis.items()}
            for name, api in apis.items():  # each call a run not asked before (a curve not in any memory)
                runs = [r["run_id"] for r in api.call("POST", "/api/v1/runs/search", {
                    "experiment_ids": [experiment_id], "max_results": args.repeat + 1,
                    "order_by": ["attributes.run_name DESC"]})["runs"]]
                calls[name]["first_curve_cold"] = _first_curves(api, runs)
        if args.settle:
            for api_calls in calls.values():
                for question, call in api_calls.items():
                    if question != "first_curve_cold":  # each of its calls asks a new run
                        call()
            time.sleep(args.settle)
        load = [round(x, 2) for x in os.getloadavg()]
        results = {}
        only = [q for q in args.only.split(",") if q]
        for question in only or calls["this"]:
            times: dict[str, list[float]] = {"base": [], "this": []}
            for i in range(args.repeat + 1):
                for name in ("base", "this") if i % 2 else ("this", "base"):
                    began = time.perf_counter()
                    calls[name][question]()
                    if i:  # the first round warms both up
                        times[name].append((time.perf_counter() - began) * 1000)
            results[question] = paired(times)
            print(json.dumps({"question": question, **results[question]}), flush=True)
        print(json.dumps({"load_average_before": load, "load_average_after": [round(x, 2) for x in os.getloadavg()]}))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
