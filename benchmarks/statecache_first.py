"""The first cold search of an experiment after the API starts (where this checkout loads its in-memory run state)
against another checkout's, over HTTP on copies of the same data; servers started fresh each round, the order of
the two first questions alternated. Then the second cold question of each, for contrast.

    python benchmarks/statecache_first.py --data DIR --base /path/to/other/checkout [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import query_ab
import sweep


def main() -> None:
    from schemas.ids import experiment_id_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--this", type=Path, default=query_ab.ROOT)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--question", choices=("search", "leaderboard", "parallel"), default="search")
    parser.add_argument("--gap", type=float, default=0.0,
                        help="seconds between the first and the second question (0.4: while a load it started runs)")
    args = parser.parse_args()
    experiment_id = experiment_id_for(sweep.EXPERIMENT)
    body = {"experiment_ids": [experiment_id], "filter": "params.optimizer = 'adam'", "max_results": 100}
    method, path, sent = {
        "search": ("POST", "/api/v1/runs/search", body),
        "leaderboard": ("GET", f"/api/v1/experiments/{experiment_id}/leaderboard?metric=val_loss&order=asc&k=10"
                               "&agg=last", None),
        "parallel": ("GET", f"/api/v1/experiments/{experiment_id}/parallel-coordinates?"
                            f"params={','.join(sweep.PARAM_NAMES)}&metric=val_loss", None),
    }[args.question]
    first: dict[str, list[float]] = {"base": [], "this": []}
    second: dict[str, list[float]] = {"base": [], "this": []}
    load = [round(x, 2) for x in os.getloadavg()]
    for round_ in range(args.rounds):
        work = Path(tempfile.mkdtemp(prefix="statecache-first-"))
        procs = []
        try:
            apis = {}
            for name, tree in (("base", args.base.resolve()), ("this", args.this.resolve())):
                copy = work / name
                shutil.copytree(args.data, copy, symlinks=True)
                port = sweep.free_port()
                procs.append(query_ab.start(tree, copy, port))
                apis[name] = sweep.Http(port)
            for times in (first, second):
                if times is second:
                    time.sleep(args.gap)
                for name in ("base", "this") if round_ % 2 else ("this", "base"):
                    began = time.perf_counter()
                    apis[name].call(method, path, sent, sweep.NO_CACHE)
                    times[name].append((time.perf_counter() - began) * 1000)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(30)
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({
        "first_base_ms": round(statistics.median(first["base"]), 1),
        "first_this_ms": round(statistics.median(first["this"]), 1),
        "second_base_ms": round(statistics.median(second["base"]), 1),
        "second_this_ms": round(statistics.median(second["this"]), 1),
        "first": first, "second": second, "question": args.question, "gap_s": args.gap, "rounds": args.rounds,
        "load_average_before": load,
        "load_average_after": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
