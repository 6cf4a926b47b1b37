"""The CPU FastAPI spends building route state on first use, in one process per pass (nothing cached from a pass
before): a fresh app (`build_app`, no lifespan) is asked what a sweep asks before its ingest (`/healthz`, the
freshness probe's curve), then the CPU of the sweep's first analyst SQL query's route matching is timed, with and
without `warm_routes` before it (alternated), and the warm-up's own CPU.

    python benchmarks/route_state.py [--rounds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def ask(app: Any, method: str, path: str) -> None:
    from query_api.app import through_router  # imported where `one` put the checkout on the path

    asyncio.run(through_router(app, method, path, b"{}"))


def one(warm: bool) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from query_api.app import warm_routes
    from runstream.settings import ServerSettings
    from runstream.stack import build_app

    app = build_app(ServerSettings())
    began = time.process_time()
    if warm:
        asyncio.run(warm_routes(app))
    warm_s = time.process_time() - began
    ask(app, "GET", "/healthz")
    ask(app, "GET", "/api/v1/runs/" + "0" * 32 + "/metrics/marker")
    began = time.process_time()
    ask(app, "POST", "/api/v1/sql")
    return {"warm_ms": warm_s * 1000, "first_sql_ms": (time.process_time() - began) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--one", choices=("warm", "cold"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one == "warm")))
        return
    per: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    for r in range(args.rounds):
        for variant in (("cold", "warm") if r % 2 == 0 else ("warm", "cold")):
            out = subprocess.run([sys.executable, __file__, "--one", variant], capture_output=True, text=True,
                                 check=True).stdout
            per[variant].append(json.loads(out.splitlines()[-1]))
            print(variant, per[variant][-1], flush=True)
    for variant, rows in per.items():
        print(f"{variant}: first analyst SQL query's route matching median "
              f"{statistics.median(r['first_sql_ms'] for r in rows):.1f} ms; warm-up median "
              f"{statistics.median(r['warm_ms'] for r in rows):.1f} ms")


if __name__ == "__main__":
    main()
