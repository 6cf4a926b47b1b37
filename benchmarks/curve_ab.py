"""One curve as the API reads it (query_api/queries/curves.py `curve`), this checkout against another, in one process.

    python benchmarks/curve_ab.py --data DIR --base /path/to/other/checkout [--repeat 60] [--mode same|first]

Opens a copy of DIR's embedded ClickHouse with merges stopped (parts as found, e.g. as benchmarks/fresh10k.py left
them) and calls both versions' `curve` alternately for the first run by name (`same`: what make bench asks, the
same curve again and again, which ClickHouse's query condition cache remembers) or for a random run each round
with the condition cache off (`first`: a run's curve read for the first time). Checks both give the same points;
prints medians in ms, how many rounds this checkout was faster, and the load.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from curve_parts import open_copy  # noqa: E402


def _module(tree: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"curves_{abs(hash(tree))}", tree / "query_api/queries/curves.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--mode", choices=("same", "first"), default="same")
    parser.add_argument("--key", default="val_loss")
    args = parser.parse_args()
    versions = {"base": _module(args.base.resolve()), "this": _module(ROOT)}
    client, work = open_copy(args.data)
    try:
        runs = client.query("SELECT run_id, any(experiment_id) FROM runs GROUP BY run_id "
                            "ORDER BY argMax(name, (event_time, seq))").result_rows
        if args.mode == "first":
            client.command("SET use_query_condition_cache = 0")
        load = round(os.getloadavg()[0], 2)
        rng = random.Random(1)
        times: dict[str, list[float]] = {"base": [], "this": []}
        points = 0
        for i in range(args.repeat + 1):
            run_id, experiment_id = runs[0] if args.mode == "same" else rng.choice(runs)
            answers = {}
            for name in ("base", "this") if i % 2 else ("this", "base"):
                began = time.perf_counter()
                answers[name] = versions[name].curve(client, experiment_id, run_id, args.key)
                if i:  # the first round warms both up
                    times[name].append((time.perf_counter() - began) * 1000)
            if answers["base"] != answers["this"]:
                raise SystemExit(f"different points for run {run_id}")
            points = len(answers["this"])
        base, this = statistics.median(times["base"]), statistics.median(times["this"])
        faster = sum(t < b for t, b in zip(times["this"], times["base"], strict=True))
        print(json.dumps({"mode": args.mode, "points": points, "base_ms": round(base, 2), "this_ms": round(this, 2),
                          "speedup": round(base / this, 2), "this_faster": f"{faster} of {args.repeat}",
                          "load_before": load, "load_after": round(os.getloadavg()[0], 2)}))
    finally:
        client.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
