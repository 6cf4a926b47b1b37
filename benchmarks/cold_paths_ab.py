"""`cold_paths.py` (sweep.py's runstream side, every question's calls timed) from two checkouts alternated in one
session (the order flipped every pair): the cold questions' medians, which path answered the cold calls (from the
server's debug lines), ingest and freshness of the same sweeps, medians and pair counts.

    python benchmarks/cold_paths_ab.py --base /work/wt/x-base --new /work/wt/x --pairs 6 [-- extra sweep.py args]

Both checkouts need benchmarks/cold_paths.py and the statecache's debug lines (`answered by the ... path`)."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from alternate import alternate, table

COLUMNS = [("cold top10 median ms", "cold_top10", "{:.2f}", False),
           ("cold top10 max ms", "cold_top10_max", "{:.1f}", False),
           ("cold top10 calls by SQL", "cold_top10_sql", "{:.0f}", False),
           ("cold search median ms", "cold_search", "{:.2f}", False),
           ("cold search calls by SQL", "cold_search_sql", "{:.0f}", False),
           ("cold parallel median ms", "cold_parallel", "{:.2f}", False),
           ("cold parallel calls by SQL", "cold_parallel_sql", "{:.0f}", False),
           ("points/s", "points_per_s", "{:,.0f}", True),
           ("server CPU s to visible", "cpu_server", "{:.2f}", False),
           ("freshness p99 s", "fresh_p99", "{:.3f}", False)]
FRESHNESS = re.compile(r"Freshness while ingesting .*?: p50 ([\d.na]+) s, p99 ([\d.na]+) s")


def one(checkout: Path, extra: list[str], hold: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    load = os.getloadavg()[0]
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        proc = subprocess.run([sys.executable, "benchmarks/cold_paths.py", "--debug-states", "--log-out", log.name,
                               *(["--hold-during-ingest"] if hold else []),
                               "--", "--skip-mlflow", "--skip-10k", "--no-save", *extra],
                              cwd=checkout, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"cold_paths.py failed in {checkout}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    found = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("COLD_PATHS "))[11:])
    ingest = next(json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"points"'))
    fresh = FRESHNESS.search(proc.stdout)
    calls, cold = found["calls"], found["cold_paths"]

    def median(name: str) -> float:
        return statistics.median(calls[f"cold {name}"][1:])  # as sweep.median_ms_of: the first call warms up

    return {"load": f"{load:.2f}-{os.getloadavg()[0]:.2f}", "cold_top10": median("top10_by_final_metric"),
            "cold_top10_max": max(calls["cold top10_by_final_metric"]),
            "cold_top10_sql": cold.get("leaderboard sql", 0), "cold_search": median("param_filtered_search"),
            "cold_search_sql": cold.get("search sql", 0), "cold_parallel": median("all_runs_params_final_metrics"),
            "cold_parallel_sql": cold.get("parallel_coordinates sql", 0),
            "points_per_s": ingest["points_per_s"], "cpu_server": ingest["cpu_s"]["server to visible"],
            "fresh_p99": float(fresh.group(2)) if fresh else float("nan"), "cold_paths": cold,
            "calls": {k: v for k, v in calls.items() if k.startswith("cold ")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--hold-during-ingest", action="store_true", help="see cold_paths.py")
    parser.add_argument("--out", type=Path, help="append every run's JSON line here")
    parser.add_argument("extra", nargs="*", help="more sweep.py arguments (after --)")
    args = parser.parse_args()
    rows = alternate(args.pairs, args.base, args.new,
                     lambda checkout: one(checkout, args.extra, args.hold_during_ingest), args.out)
    print(table(rows, COLUMNS))


if __name__ == "__main__":
    main()
