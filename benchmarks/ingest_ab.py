"""Ingest of two checkouts alternated in one session: `sweep.py --skip-mlflow --skip-10k --repeat 1 --no-save` from
each in turn (the order flipped every pair, so a drifting load favours neither), each checkout's own code on its
PYTHONPATH; a markdown table of points/s, CPU per side, freshness and load, then medians and pair counts.

    python benchmarks/ingest_ab.py --base /work/wt/x-base --new /work/wt/x --pairs 3 [-- extra sweep.py args]

Both checkouts should hold the same benchmarks/sweep.py, so that only the code under test differs (each runs its own,
so two versions of the method itself can be compared too). `--mlflow` keeps MLflow in each sweep: its ingest and
the ratio are seen."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from alternate import alternate, table

FRESHNESS = re.compile(r"Freshness while ingesting .*?: p50 ([\d.na]+) s, p99 ([\d.na]+) s; "
                       r"before .*?: p50 ([\d.na]+) s")
COLUMNS = [("points/s", "points_per_s", "{:,.0f}", True), ("published_s", "published_s", "{:.2f}", False),
           ("visible_s", "visible_s", "{:.2f}", False), ("producers CPU s", "cpu_producers", "{:.2f}", False),
           ("broker CPU s to published", "cpu_broker_published", "{:.2f}", False),
           ("broker CPU s to visible", "cpu_broker", "{:.2f}", False),
           ("server CPU s to visible", "cpu_server", "{:.2f}", False),
           ("freshness p50 s", "fresh_p50", "{:.3f}", False), ("freshness p99 s", "fresh_p99", "{:.3f}", False),
           ("server CPU s settled (--settle-s)", "cpu_server_settled", "{:.2f}", False),
           ("metrics parts after (--parts-after)", "parts_metrics", "{:.0f}", False)]


WALL = ("wall s", "wall_s", "{:.0f}", False)
MLFLOW_COLUMNS = [("MLflow points/s", "mlflow_points_per_s", "{:,.0f}", True), ("ratio", "ratio", "{:.1f}", True)]


def one(checkout: Path, extra: list[str], *, mlflow: bool = False) -> dict[str, Any]:
    """One sweep from a checkout: its ingest figures, freshness and the load around it (and MLflow's ingest)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    load, began = os.getloadavg()[0], time.monotonic()
    proc = subprocess.run([sys.executable, "benchmarks/sweep.py", *([] if mlflow else ["--skip-mlflow"]),
                           "--skip-10k", "--repeat", "1", "--no-save", *extra], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"sweep.py failed in {checkout}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    ingests = [line for line in lines if "points" in line]  # runstream's, then MLflow's
    ingest = ingests[0]
    fresh = FRESHNESS.search(proc.stdout)
    cpu = ingest["cpu_s"]
    sides: dict[str, Any] = {}
    if mlflow:
        theirs = ingests[1]["points_per_s"]
        sides.update(mlflow_points_per_s=theirs, ratio=ingest["points_per_s"] / theirs)
    return {"load": f"{load:.2f}-{os.getloadavg()[0]:.2f}", "wall_s": time.monotonic() - began, **sides,
            "points_per_s": ingest["points_per_s"],
            "published_s": ingest["published_s"], "visible_s": ingest["visible_s"],
            "cpu_producers": cpu["producers"], "cpu_broker": cpu["broker to visible"],
            "cpu_broker_published": cpu["broker to published"],
            "cpu_server": cpu["server to visible"],
            "fresh_p50": float(fresh.group(1)) if fresh else float("nan"),
            "fresh_p99": float(fresh.group(2)) if fresh else float("nan"),
            "fresh_idle_p50": float(fresh.group(3)) if fresh else float("nan"),
            "cpu_server_settled": next((v for k, v in cpu.items() if k.startswith("server to visible+")),
                                       float("nan")),
            "parts_metrics": ingest.get("parts_after", {}).get("metrics", float("nan")),
            "parts_after": ingest.get("parts_after"),
            "per_point": ingest.get("per_point_log_metrics_points_per_s", float("nan")),
            "asks": ingest.get("visibility_asks")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", type=Path, help="append each run as a JSON line here")
    parser.add_argument("--mlflow", action="store_true", help="keep MLflow in each sweep (its ingest and the ratio)")
    parser.add_argument("--new-server-env", action="append", default=[], metavar="RUNSTREAM_NAME=VALUE",
                        help="a server setting for the new side only (two checkouts of the same code "
                        "then compare a setting)")
    parser.add_argument("--new-sdk-env", action="append", default=[], metavar="RUNSTREAM_NAME=VALUE",
                        help="an SDK setting for the new side only (its producers, the freshness probe and the "
                        "per-point rate: sweep.py --sdk-env)")
    parser.add_argument("extra", nargs="*", help="more sweep.py arguments (after --)")
    args = parser.parse_args()
    new = args.new.resolve()

    def new_env(checkout: Path) -> list[str]:  # alternate() runs the new side from args.new, resolved
        return ([f"--server-env={pair}" for pair in args.new_server_env]
                + [f"--sdk-env={pair}" for pair in args.new_sdk_env]) if checkout == new else []

    rows = alternate(args.pairs, args.base, args.new,
                     lambda checkout: one(checkout, args.extra + new_env(checkout), mlflow=args.mlflow), args.out)
    print(table(rows, [*COLUMNS, WALL, *(MLFLOW_COLUMNS if args.mlflow else [])]))


if __name__ == "__main__":
    main()
