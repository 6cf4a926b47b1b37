"""A run's first curve right after the search that found it, two checkouts alternated over copies of one data dir.

    python benchmarks/curve_first_ab.py --data DIR --base /path/to/other/checkout [--rounds 30]

What a user does: search, then open a run's chart. Each round takes a run not asked before, searches it by name
(`attributes.run_name = ...`) and asks its `val_loss` curve with `Cache-Control: no-cache`, on both servers (order
flipped each round). The curve call is timed apart; prints medians in ms, how many rounds this checkout's curve was
faster, and the load. `--no-search`: the curve alone, of a run the server was never asked about (a link straight to
the chart). The servers run as in benchmarks/query_ab.py (no projector: the data version is read from ClickHouse).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import sweep  # noqa: E402
from query_ab import paired, start  # noqa: E402


def main() -> None:
    from schemas.ids import experiment_id_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--this", type=Path, default=ROOT)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--no-search", action="store_true",
                        help="ask each run's curve without searching it first (a link straight to the chart)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="curve-first-ab-"))
    procs = []
    try:
        apis = {}
        for name, tree in (("base", args.base.resolve()), ("this", args.this.resolve())):
            copy = work / name
            shutil.copytree(args.data, copy, symlinks=True, ignore=shutil.ignore_patterns("kafka", "spool", "*.log"))
            port = sweep.free_port()
            procs.append(start(tree, copy, port))
            apis[name] = sweep.Http(port)
        experiment_id = experiment_id_for(sweep.EXPERIMENT)
        # the runs' names, asked of the base only (a search may teach a server its runs' experiments)
        runs = apis["base"].call("POST", "/api/v1/runs/search", {
            "experiment_ids": [experiment_id], "max_results": args.rounds + 1,
            "order_by": ["attributes.run_name DESC"]})["runs"]
        load = [round(x, 2) for x in os.getloadavg()]
        curve: dict[str, list[float]] = {"base": [], "this": []}
        both: dict[str, list[float]] = {"base": [], "this": []}
        answers: dict[str, list[object]] = {"base": [], "this": []}
        for i, run in enumerate(runs):
            for name in ("base", "this") if i % 2 else ("this", "base"):
                api = apis[name]
                began = time.perf_counter()
                if not args.no_search:
                    found = api.call("POST", "/api/v1/runs/search", {
                        "experiment_ids": [experiment_id], "filter": f"attributes.run_name = '{run['name']}'"})
                    assert [r["run_id"] for r in found["runs"]] == [run["run_id"]], found
                asked = time.perf_counter()
                answers[name].append(api.call("GET", f"/api/v1/runs/{run['run_id']}/metrics/val_loss", None,
                                              sweep.NO_CACHE))
                if i:  # the first round warms both up
                    curve[name].append((time.perf_counter() - asked) * 1000)
                    both[name].append((time.perf_counter() - began) * 1000)
        assert answers["base"] == answers["this"], "the two checkouts answered differently"
        result = {}
        for what, times in (("first_curve", curve), ("search_then_curve", both)):
            result[what] = paired(times)
            print(json.dumps({"question": what, **result[what]}), flush=True)
        print(json.dumps({"load_average_before": load, "load_average_after": [round(x, 2) for x in os.getloadavg()]}))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
