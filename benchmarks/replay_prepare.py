"""CPU of a replay's main-thread work per chunk, offline (no Kafka, no ClickHouse): decoding and projecting the
messages (`prepare_chunk`), the run_metric_summary rows (sorting the points), and the sorted Arrow table the
insert thread sends, on messages shaped like `make bench-replay`'s (runs x 5 metrics x 2,000 steps in 1,000-point
batches, plus each run's start, params, tags and status), in 6 partitions, ~500 events a chunk.

    PYTHONPATH=<checkout> python benchmarks/replay_prepare.py [--runs 200] [--repeat 3] [--verify-order key]

`--verify-order`: how verify's summed metric blocks are summarized and checksummed: `key` (sorted by chunk as a
rebuild's are, the point sums reading those sorted columns; since verify8) or `event` (grouped by event, the point
sums from the event-order columns; before).

Run it from two checkouts in turn (alternated, on the same machine) to compare them: it prints the median CPU
seconds (process time) of each part over `--repeat` passes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import zlib
from datetime import UTC, datetime

import numpy as np

from consumers.chunks import RawMessage, prepare_chunk
from consumers.pointsums import PointSums, StringHashes
from consumers.projections import PROJECTIONS
from consumers.projections.metrics import MetricBlock
from consumers.projections.summary import summary_block
from schemas import ParamsLogged, Producer, RunStarted, RunStatus, RunStatusChanged, TagsSet, encode, metric_columns
from schemas.factory import EventFactory
from schemas.ids import new_run_id

SUMS = PointSums(StringHashes(lambda values: [zlib.crc32(v.encode()) for v in values]))  # no ClickHouse here
KEYS = ["train_loss", "val_loss", "accuracy", "lr_actual", "grad_norm"]
PARTITIONS = 6
CHUNK_EVENTS = 500  # ~8 MiB of Avro, the replay's group size


def messages(runs: int, steps: int, seed: int) -> dict[int, list[RawMessage]]:
    factory = EventFactory(Producer("host", 1, "user", "0.1"))
    rng = random.Random(seed)
    out: dict[int, list[RawMessage]] = {p: [] for p in range(PARTITIONS)}
    for r in range(runs):
        run_id = new_run_id()
        partition = out[zlib.crc32(run_id.encode()) % PARTITIONS]
        payloads: list[object] = [RunStarted(f"trial-{r}", "user"), ParamsLogged({"lr": "0.1", "seed": str(r)}),
                                  TagsSet({"sweep": "replay"})]
        base = rng.random()
        for first in range(0, steps, 200):
            step = np.repeat(np.arange(first, first + 200), len(KEYS))
            key = np.tile(np.arange(len(KEYS)), 200)
            stamps = 1_764_000_000_000 + step
            payloads.append(metric_columns.from_columns(KEYS, key, step, stamps, base / (step + 1) + key))
        payloads.append(RunStatusChanged(RunStatus.FINISHED, datetime.now(UTC)))
        for seq, payload in enumerate(payloads, 1):
            event = factory.event(run_id, "exp", seq, payload)  # type: ignore[arg-type]
            partition.append((encode(event), run_id.encode(), len(partition), 0))
    return out


def one_pass(parts: dict[int, list[RawMessage]], verify_order: str = "key") -> dict[str, float]:
    spent = {"prepare_chunk": 0.0, "summary": 0.0, "sorted Arrow table (insert thread)": 0.0,
             f"verify: summary ({verify_order} order)": 0.0, "verify: point sums (insert thread)": 0.0}
    for partition, raws in parts.items():
        for i in range(0, len(raws), CHUNK_EVENTS):
            began = time.process_time()
            chunk = prepare_chunk(partition, raws[i:i + CHUNK_EVENTS], PROJECTIONS)
            prepared = time.process_time()
            points = next(b for b in chunk.blocks if isinstance(b, MetricBlock))
            summary_block(points)  # sorts the points: the insert's table reuses them
            summarized = time.process_time()
            points.to_chunk_arrow() if points.chunked else points.to_arrow_in_key_order()
            spent["prepare_chunk"] += prepared - began
            spent["summary"] += summarized - prepared
            spent["sorted Arrow table (insert thread)"] += time.process_time() - summarized
            # verify's path: the same chunk, its points summed with numpy instead of sorted and inserted
            chunk = prepare_chunk(partition, raws[i:i + CHUNK_EVENTS], PROJECTIONS)
            points = next(b for b in chunk.blocks if isinstance(b, MetricBlock))
            points.sorted_insert = verify_order == "key"
            began = time.process_time()
            summary_block(points)
            summarized = time.process_time()
            SUMS.add(points)
            spent[f"verify: summary ({verify_order} order)"] += summarized - began
            spent["verify: point sums (insert thread)"] += time.process_time() - summarized
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verify-order", choices=("key", "event"), default="key")
    args = parser.parse_args()
    parts = messages(args.runs, args.steps, args.seed)
    points = args.runs * args.steps * len(KEYS)
    one_pass(parts, args.verify_order)  # warm-up
    passes = [one_pass(parts, args.verify_order) for _ in range(args.repeat)]
    for name in passes[0]:
        seconds = statistics.median(p[name] for p in passes)
        print(f"{name:36} {seconds:6.3f} s CPU = {seconds / points * 1e6:.3f} us/point "
              f"({sum(len(r) for r in parts.values()):,} events, {points:,} points)")


if __name__ == "__main__":
    main()
