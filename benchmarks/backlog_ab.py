"""The 10M-point backlog of two checkouts alternated in one session: `sweep.py --backlog N --backlog-only` from each
in turn (the order flipped every pair, so a drifting load favours neither), each checkout's own code on its
PYTHONPATH; a markdown table of the catch-up rate and the server's peak RSS (in all, the server process alone, the
alert worker), then medians and pair counts.

    python benchmarks/backlog_ab.py --base /tmp/main-copy --new . --pairs 4 [--backlog 10000000] [-- extra sweep args]

Both checkouts should hold the same benchmarks/sweep.py, so that only the code under test differs."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from alternate import alternate, table

COLUMNS = [("catch-up points/s", "points_per_s", "{:,.0f}", True), ("peak MB in all", "total", "{:.1f}", False),
           ("server process MB", "server", "{:.1f}", False), ("alert worker MB", "alerts", "{:.1f}", False),
           ("RSS when healthy MB", "healthy", "{:.1f}", False),
           ("server process CPU s", "cpu_server", "{:.1f}", False),
           ("alert worker CPU s", "cpu_alerts", "{:.1f}", False),
           ("curve p50 ms while draining (--backlog-reads)", "curve_p50", "{:.1f}", False),
           ("search p50 ms while draining", "search_p50", "{:.1f}", False),
           ("metrics parts after (--parts-after)", "parts_metrics", "{:.0f}", False)]


def one(checkout: Path, backlog: int, extra: list[str]) -> dict[str, Any]:
    """One backlog run from a checkout: its catch-up rate, peaks and the load around it."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    load = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, "benchmarks/sweep.py", "--backlog", str(backlog), "--backlog-only",
                           *extra], cwd=checkout, env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"sweep.py failed in {checkout}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    result = next(json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"points"'))
    children = result["children_peak_rss_mb"].values()
    return {"load": f"{load:.2f}-{os.getloadavg()[0]:.2f}", "points_per_s": result["points_per_s"],
            "total": result["server_peak_rss_mb"], "server": result["server_process_peak_rss_mb"],
            "alerts": max(children, default=0.0), "healthy": result["server_rss_when_healthy_mb"],
            "cpu_server": result.get("server_process_cpu_s", float("nan")),
            "cpu_alerts": result.get("children_cpu_s", float("nan")),
            "curve_p50": result.get("reads_while_draining", {}).get("one_curve", {}).get("p50_ms", float("nan")),
            "search_p50": result.get("reads_while_draining", {}).get("param_filtered_search", {}).get(
                "p50_ms", float("nan")),
            "reads": result.get("reads_while_draining"),
            "parts_metrics": result.get("parts_after", {}).get("metrics", float("nan")),
            "parts_after": result.get("parts_after")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--backlog", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, help="append each run as a JSON line here")
    parser.add_argument("--new-server-env", action="append", default=[], metavar="RUNSTREAM_NAME=VALUE",
                        help="a server setting for the new side only (two checkouts of the same code "
                        "then compare a setting)")
    parser.add_argument("extra", nargs="*", help="more sweep.py arguments (after --)")
    args = parser.parse_args()
    new = args.new.resolve()

    def new_env(checkout: Path) -> list[str]:  # alternate() runs the new side from args.new, resolved
        return [f"--server-env={pair}" for pair in args.new_server_env] if checkout == new else []

    rows = alternate(args.pairs, args.base, args.new,
                     lambda checkout: one(checkout, args.backlog, args.extra + new_env(checkout)), args.out)
    print(table(rows, COLUMNS))


if __name__ == "__main__":
    main()
