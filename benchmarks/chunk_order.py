"""A metric_chunks block's order by chunks (`_chunk_ordered`) against by points (`_key_ordered`), in one process.

    python benchmarks/chunk_order.py [--rounds 9]

Two 1M-point blocks of 200 runs x 5 keys x 1,000 steps: one event per run holding all five keys grouped (series sent
together by the SDK) and one event per key (1,000-point events). Each round times, alternately, the thread CPU of
ordering the block both ways, and of what the live projector does with it (the chunk rows and the summary rows),
with each way. Prints one JSON line per round and the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consumers.logged import LoggedEvent  # noqa: E402
from consumers.projections import metrics  # noqa: E402
from consumers.projections.metrics import MetricBlock  # noqa: E402
from consumers.projections.summary import summary_block  # noqa: E402
from schemas import MetricsLogged, Producer, RunEvent  # noqa: E402

RUNS, KEYS, STEPS = 200, 5, 1000


def block(grouped: bool, seed: int = 1) -> MetricBlock:
    rng = np.random.default_rng(seed)
    out = MetricBlock("metric_chunks")
    names = [f"m{k}" for k in range(KEYS)]
    stamps = np.full(STEPS * KEYS, 1_700_000_000_000, dtype=np.int64)
    offset = 0
    for r in range(RUNS):
        run = uuid.UUID(int=r + 1).hex
        if grouped:
            batches = [MetricsLogged(names, np.repeat(np.arange(KEYS, dtype="<i4"), STEPS),
                                     np.tile(np.arange(STEPS), KEYS), stamps, rng.random(KEYS * STEPS))]
        else:
            batches = [MetricsLogged([name], np.zeros(STEPS, dtype="<i4"), np.arange(STEPS), stamps[:STEPS],
                                     rng.random(STEPS)) for name in names]
        for batch in batches:
            event = RunEvent(str(uuid.uuid4()), run, "exp", 1, datetime.now(UTC), Producer("h", 1, "u", "v"), batch)
            out.add(LoggedEvent(event, r % 6, offset, "fp"))
            offset += 1
    return out


def cpu_ms(work: Callable[[], object]) -> float:
    began = time.thread_time()
    work()
    return (time.thread_time() - began) * 1000


def projected(parts: list[object], by_chunks: bool) -> None:
    """The chunk rows and summary rows of a fresh block of these events, its order made either way."""
    fresh = MetricBlock("metric_chunks")
    fresh.parts = list(parts)  # type: ignore[arg-type]
    fresh._ordered = metrics._chunk_ordered(fresh.parts) if by_chunks \
        else metrics._key_ordered(metrics._point_columns(fresh.parts), by_step=False)
    fresh.to_chunk_arrow()
    summary_block(fresh)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    for grouped in (True, False):
        parts: list[object] = block(grouped).parts  # type: ignore[assignment]
        shape = "one event a run" if grouped else "one event a key"
        for r in range(args.rounds):
            ways = [("points", False), ("chunks", True)]
            row: dict[str, object] = {"round": r + 1, "events": shape}
            for name, by_chunks in ways if r % 2 == 0 else ways[::-1]:
                order = cpu_ms(lambda by_chunks=by_chunks, parts=parts: metrics._chunk_ordered(parts) if by_chunks
                               else metrics._key_ordered(metrics._point_columns(parts), by_step=False))
                whole = cpu_ms(lambda by_chunks=by_chunks, parts=parts: projected(parts, by_chunks))
                row[f"order_ms_{name}"], row[f"chunks_and_summary_ms_{name}"] = round(order, 1), round(whole, 1)
                results.setdefault(f"{shape}: order by {name}", []).append(order)
                results.setdefault(f"{shape}: chunks and summary by {name}", []).append(whole)
            print(json.dumps(row), flush=True)
    print(json.dumps({k: round(statistics.median(v), 1) for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
