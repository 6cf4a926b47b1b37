"""A 10,000-run data directory as `make bench` leaves it when it asks its cold questions, kept for study.

    python benchmarks/fresh10k.py --home DIR [--runs 10000 --metrics 5 --steps 50 --producers 2]

The runstream side of benchmarks/scale10k.py (SDK producers through Kafka into `runstream up`, then the warm and
the cold questions), after which the stack is stopped at once: DIR keeps the tables' parts as they stood when the
cold questions were asked (merges stop with the server), for benchmarks/curve_parts.py and benchmarks/query_ab.py.
Prints the load, the questions' medians and the seconds from the last point visible to each phase as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import scale10k  # noqa: E402
import sweep  # noqa: E402


def main() -> None:
    from schemas.ids import experiment_id_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warm", action=argparse.BooleanOptionalAction, default=True,
                        help="ask the warm questions before the cold ones, as scale10k.py does")
    args = parser.parse_args()
    args.home.mkdir(parents=True, exist_ok=True)
    load = [round(x, 2) for x in os.getloadavg()]
    sampler = sweep.Sampler()
    stack = sweep.Runstream(args.home)
    stack.start()
    out: dict[str, object] = {"load_average_before": load}
    try:
        api = sweep.Http(stack.api_port)
        experiment_id = experiment_id_for(sweep.EXPERIMENT)
        expected = args.runs * args.metrics * args.steps
        procs, queue = sweep.start_producers(scale10k.runstream_producer, (stack.bootstrap,), args.runs, args,
                                             sampler, "runstream producers")
        reports = [queue.get(timeout=3600) for _ in range(args.producers)]
        sweep.wait(lambda: sweep.visible_points(api, experiment_id) >= expected, 3600, "every point visible", 0.2)
        visible = time.time()
        out["load_s"] = round(visible - min(r["first"] for r in reports), 1)
        for proc in procs:
            proc.join(30)
        if args.warm:
            out["queries"] = sweep.runstream_queries(api, experiment_id, args)
            out["warm_done_after_visible_s"] = round(time.time() - visible, 1)
        out["queries_cold"] = sweep.runstream_queries(api, experiment_id, args, cold=True)
        out["cold_done_after_visible_s"] = round(time.time() - visible, 1)
    finally:
        stack.stop()
        sampler.stop()
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
