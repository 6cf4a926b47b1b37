"""What a training loop pays per `log_metrics` call, two checkouts alternated: 40,000 calls of 5 keys (200,000
points) in a fresh process per pass, the SDK's own work only (its broker address refuses connections, so the
points go to the spool and stay there; nothing waits for Kafka).

    python benchmarks/per_point_ab.py --base /path/to/other/checkout [--this .] [--pairs 5]

Prints each pass's points/s and CPU us per point, then the medians and in how many pairs "this" was faster.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASS = r"""
import json, os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from producer import Tracker, TrackerSettings
keys = ["val_loss", "train_loss", "accuracy", "lr_actual", "grad_norm"]
tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers="127.0.0.1:1", spool_dir=Path(tempfile.mkdtemp())))
with tracker.start_run("bench-per-point", "per-point") as run:
    def loop(first, n):
        for step in range(first, first + n):
            run.log_metrics({k: step * 0.5 + i for i, k in enumerate(keys)}, step=step)
    loop(0, 1000)
    wall, cpu = time.perf_counter(), time.process_time()
    loop(1000, 40000)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"points_per_s": 200000 / wall, "cpu_us_per_point": cpu / 200000 * 1e6}), flush=True)
os._exit(0)  # the spool and the refused broker: nothing to wait for
"""


def one(tree: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", PASS, str(tree)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--this", type=Path, default=ROOT)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    faster = 0
    for i in range(args.pairs):
        pair = {}
        for name in ("base", "this") if i % 2 else ("this", "base"):
            pair[name] = one(getattr(args, name).resolve())
            runs[name].append(pair[name])
            print(f"pair {i + 1} {name}: {pair[name]['points_per_s']:,.0f} points/s, "
                  f"{pair[name]['cpu_us_per_point']:.2f} us CPU a point (load {os.getloadavg()[0]:.1f})", flush=True)
        faster += pair["this"]["points_per_s"] > pair["base"]["points_per_s"]
    for name, passes in runs.items():
        print(f"{name}: median {statistics.median(p['points_per_s'] for p in passes):,.0f} points/s, "
              f"{statistics.median(p['cpu_us_per_point'] for p in passes):.2f} us CPU a point")
    print(f"this faster in {faster} of {args.pairs} pairs")


if __name__ == "__main__":
    main()
