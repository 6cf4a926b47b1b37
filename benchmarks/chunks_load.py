"""benchmarks/queries.py's 10,000-run sweep loaded by a checkout (its migrations), with the points spread over
Kafka offsets as the SDK sends them: one MetricsLogged event per 200 steps of a run and key (`--per-event`), so a
checkout with metric_chunks (migration 0027) stores chunks of the live size when it migrates a copy of this data.

    python benchmarks/chunks_load.py CHECKOUT DATA_DIR [--runs 10000] [--steps 1000] [--per-event 200]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--per-event", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, str(args.checkout / "benchmarks"))
    sys.path.insert(0, str(args.checkout))
    import queries

    old = ("intDiv(number, {per_run:UInt64}) % 6, 0,\n              toUInt32(number % {steps:UInt64})")
    new = (f"intDiv(number, {{per_run:UInt64}}) % 6, intDiv(number % {{steps:UInt64}}, {args.per_event}),\n"
           f"              toUInt32(number % {{steps:UInt64}} % {args.per_event})")
    (index,) = [i for i, sql in enumerate(queries.LOAD_SQL) if old in sql]
    queries.LOAD_SQL[index] = queries.LOAD_SQL[index].replace(old, new)
    args.data.mkdir(parents=True, exist_ok=True)
    queries.load(str(args.data), args.runs, args.steps)


if __name__ == "__main__":
    main()
