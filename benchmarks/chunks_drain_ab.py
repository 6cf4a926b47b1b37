"""The in-process drain (`benchmarks/projector_drain.py`, the live defaults: side inserts, no overlap) of two
checkouts alternated, one process per pass: points/s of the drain, and the whole process's CPU seconds (the
sweep's encoding included, the same on both sides).

    python benchmarks/chunks_drain_ab.py BASE NEW [--pairs 8] [--runs 200] [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alternate import alternate, table  # noqa: E402


def one(checkout: Path, runs: int) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, str(checkout / "benchmarks/projector_drain.py"), "--runs", str(runs),
                          "--rounds", "1", "--variants", "side"], env={**os.environ, "PYTHONPATH": str(checkout)},
                         capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = next(json.loads(line) for line in out.splitlines() if line.startswith('{"variant"'))
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"load": f"{result['load_before']:.1f}", "points_per_s": result["points_per_s"],
            "seconds": result["seconds"], "process_cpu_s": round(cpu, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = alternate(args.pairs, args.base, args.new, lambda c: one(c, args.runs), args.out)
    print(table(rows, [("drain points/s", "points_per_s", "{:,.0f}", True), ("drain s", "seconds", "{:.3f}", False),
                       ("process CPU s", "process_cpu_s", "{:.2f}", False)]))


if __name__ == "__main__":
    main()
