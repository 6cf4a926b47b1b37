"""ClickHouse's own CPU per metric point for table definitions of `metrics` (codecs, part settings), in one
process, alternated: insert, merge, bytes on disk and reads of the same points.

    PYTHONPATH=<checkout> python benchmarks/insert_codecs.py [--sizes 20000,50000,100000] [--rounds 6]
        [--variants base,value_lz4,...] [--values sweep|noisy] [--paired]

The points are a sweep like `make bench`'s (200 runs x 5 metrics x 1,000 steps, two producers each logging its
runs one after the other in 500-point events, runs keyed to 6 partitions), cut into live insert groups of
`--sizes` points (consecutive events of the log) and projected as the projector sends them (`MetricBlock`,
`to_arrow_in_key_order`). Every table is `CREATE TABLE ... AS metrics` (the migrated definition) plus a variant's
ALTERs. Per round, size and variant (in an order rotated every round; with `--paired` each variant right before or
after a base of its own, the order flipped per pair and round, which is what to count pairs from): a fresh table,
merges stopped, every group inserted with the sink's settings and a token of its own (process CPU: Python and
ClickHouse's threads), reads of the unmerged parts, `OPTIMIZE TABLE ... FINAL` (process CPU), bytes on disk, reads
of the merged part. Reads: one series (experiment, key, run) and 20 runs of one key, as query_api's curve
statements ask, the query condition cache off, median wall ms of 5 calls. Prints per-variant medians per 1M points
and in how many rounds each variant's insert + merge CPU (and insert CPU alone) was lower than `base`'s (its own
base with `--paired`).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consumers.clickhouse import connect  # noqa: E402
from consumers.logged import LoggedEvent  # noqa: E402
from consumers.migrate import migrate  # noqa: E402
from consumers.projections.metrics import MetricBlock  # noqa: E402
from consumers.sink import INSERT_SETTINGS  # noqa: E402
from schemas import Producer, metric_columns  # noqa: E402
from schemas.factory import EventFactory  # noqa: E402
from schemas.ids import new_run_id  # noqa: E402

KEYS = ["val_loss", "train_loss", "accuracy", "lr_actual", "grad_norm"]
PARTITIONS = 6
EVENT_STEPS = 100  # 500 points an event
POINTS_PER_MS = 250  # one producer's per-point log_metrics rate, ~250k points/s

TS = "DateTime64(3, 'UTC')"
VARIANTS: dict[str, list[str]] = {
    "base": [],
    "value_lz4": ["MODIFY COLUMN value Float64 CODEC(LZ4)"],
    "ts_delta": [f"MODIFY COLUMN ts {TS} CODEC(Delta, LZ4)"],
    "coords_lz4": ["MODIFY COLUMN kafka_offset UInt64 CODEC(LZ4)", "MODIFY COLUMN point_index UInt32 CODEC(LZ4)"],
    "coords_t64": ["MODIFY COLUMN kafka_offset UInt64 CODEC(T64, LZ4)",
                   "MODIFY COLUMN point_index UInt32 CODEC(T64, LZ4)"],
    "step_t64": ["MODIFY COLUMN step Int64 CODEC(T64, LZ4)"],
    "partition_none": ["MODIFY COLUMN kafka_partition UInt32 CODEC(NONE)"],
    "all_lz4": ["MODIFY COLUMN step Int64 CODEC(LZ4)", f"MODIFY COLUMN ts {TS} CODEC(LZ4)",
                "MODIFY COLUMN value Float64 CODEC(LZ4)", "MODIFY COLUMN kafka_offset UInt64 CODEC(LZ4)",
                "MODIFY COLUMN point_index UInt32 CODEC(LZ4)"],
    "wide": ["MODIFY SETTING min_bytes_for_wide_part = 0, min_rows_for_wide_part = 0"],
    "compact": ["MODIFY SETTING min_bytes_for_wide_part = 1000000000000"],
    "nosparse": ["MODIFY SETTING ratio_of_defaults_for_sparse_serialization = 1"],
    "nodedup": ["MODIFY SETTING non_replicated_deduplication_window = 0"],
    "nomarkcompress": ["MODIFY SETTING compress_marks = 0, compress_primary_key = 0"],
}
VARIANTS["lean"] = VARIANTS["nosparse"] + VARIANTS["nomarkcompress"]
VARIANTS["lean_lz4"] = VARIANTS["lean"] + VARIANTS["all_lz4"]


def sweep_events(values: str, seed: int = 7) -> list[LoggedEvent]:
    """The sweep's metric events in log order: two producers alternate events, each logging its runs in turn."""
    factory = EventFactory(Producer("host", 1, "user", "0.1"))
    rng = np.random.default_rng(seed)
    runs = [new_run_id() for _ in range(200)]
    streams: list[list[LoggedEvent]] = [[], []]
    offsets = dict.fromkeys(range(PARTITIONS), 0)
    for producer in (0, 1):
        logged = 0
        for r in range(producer, len(runs), 2):
            run_id = runs[r]
            partition = zlib.crc32(run_id.encode()) % PARTITIONS
            base = random.Random(seed * 1_000_003 + r).uniform(0.5, 2.0)
            for seq, first in enumerate(range(0, 1000, EVENT_STEPS), 1):
                step = np.repeat(np.arange(first, first + EVENT_STEPS), len(KEYS))
                key = np.tile(np.arange(len(KEYS)), EVENT_STEPS)
                stamps = 1_764_000_000_000 + (logged + np.arange(len(step))) // POINTS_PER_MS
                logged += len(step)
                value = base / (step + 1) + key + ((r * 31 + step * 17 + key) % 97) / 10_000  # sweep.metric_values
                if values == "noisy":
                    value = value * (1 + 0.05 * rng.standard_normal(len(step)))
                event = factory.event(run_id, "exp", seq, metric_columns.from_columns(KEYS, key, step, stamps, value))
                streams[producer].append(LoggedEvent(event, partition, 0, ""))
    out: list[LoggedEvent] = []
    for a, b in zip(*streams, strict=True):
        for e in (a, b):
            out.append(LoggedEvent(e.event, e.partition, offsets[e.partition], ""))
            offsets[e.partition] += 1
    return out


def groups(events: list[LoggedEvent], size: int) -> list[pa.Table]:
    """Consecutive events of `size` points or more, each as the projector's sorted Arrow block."""
    out, block = [], MetricBlock("metrics")
    for e in events:
        block.add(e)
        if len(block) >= size:
            out.append(block.to_arrow_in_key_order())
            block = MetricBlock("metrics")
    if len(block):
        out.append(block.to_arrow_in_key_order())
    return out


def read_ms(client: object, table: str, runs: list[str]) -> tuple[float, float]:
    """Median wall ms of one series and of 20 runs' series of one key (5 calls each)."""
    settings = {"use_query_condition_cache": 0}
    one, twenty = [], []
    for i in range(5):
        began = time.perf_counter()
        client.query(f"SELECT step, value, toUnixTimestamp64Milli(ts) FROM {table} "  # type: ignore[attr-defined]
                     "WHERE experiment_id = 'exp' AND key = {k:String} AND run_id = {r:String}",
                     parameters={"k": KEYS[i % 5], "r": runs[i * 7 % len(runs)]}, settings=settings)
        one.append(time.perf_counter() - began)
        began = time.perf_counter()
        client.query(f"SELECT run_id, step, value FROM {table} "  # type: ignore[attr-defined]
                     "WHERE experiment_id = 'exp' AND key = {k:String} AND run_id IN {r:Array(String)}",
                     parameters={"k": KEYS[i % 5], "r": runs[i * 20:(i + 1) * 20]}, settings=settings)
        twenty.append(time.perf_counter() - began)
    return statistics.median(one) * 1e3, statistics.median(twenty) * 1e3


def schedule(variants: list[str], r: int, *, paired: bool) -> list[tuple[str, str]]:
    """(result name, variant) in the order to measure them in round r: every variant once in an order rotated
    each round, or (paired) each variant right after or before a base of its own (`base|variant`)."""
    if not paired:
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        return [(v, v) for v in (order if r % 2 else order[::-1])]
    out = []
    for i, v in enumerate(v for v in variants if v != "base"):
        pair = [(f"base|{v}", "base"), (v, v)]
        out.extend(pair if (i + r) % 2 else pair[::-1])
    return out


def measure(client: Any, variant: str, blocks: list[pa.Table], token: str, runs: list[str],
            points: int) -> dict[str, float]:
    """A fresh table of the variant: insert CPU s (merges stopped), reads of the parts, OPTIMIZE FINAL CPU s,
    MB on disk, reads of the merged part."""
    table = f"m_{variant}"
    client.command(f"DROP TABLE IF EXISTS {table} SYNC")
    client.command(f"CREATE TABLE {table} AS metrics")
    for alter in VARIANTS[variant]:
        client.command(f"ALTER TABLE {table} {alter}")
    client.command(f"SYSTEM STOP MERGES {table}")
    began = time.process_time()
    for i, block in enumerate(blocks):
        client.insert_arrow(table, block, settings={**INSERT_SETTINGS, "insert_deduplication_token": f"{token}:{i}"})
    insert = time.process_time() - began
    parts_read = read_ms(client, table, runs)
    client.command(f"SYSTEM START MERGES {table}")
    began = time.process_time()
    client.command(f"OPTIMIZE TABLE {table} FINAL")
    merge = time.process_time() - began
    size_bytes, rows = client.query(
        "SELECT sum(bytes_on_disk), sum(rows) FROM system.parts WHERE database = currentDatabase() "
        "AND table = {t:String} AND active", parameters={"t": table}).result_rows[0]
    assert rows == points, (variant, rows, points)
    merged_read = read_ms(client, table, runs)
    client.command(f"DROP TABLE {table} SYNC")
    return {"insert": insert, "merge": merge, "total": insert + merge, "mb": size_bytes / 1e6,
            "one_parts": parts_read[0], "twenty_parts": parts_read[1], "one": merged_read[0],
            "twenty": merged_read[1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20000,50000,100000")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--values", choices=("sweep", "noisy"), default="sweep")
    parser.add_argument("--paired", action="store_true", help="each variant next to a base of its own")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    if "base" not in variants:
        variants.insert(0, "base")
    path = tempfile.mkdtemp(prefix="insert-codecs-")
    try:
        client = connect(f"chdb://{path}", "bench")
        migrate(client)
        events = sweep_events(args.values)
        runs = sorted({e.event.run_id for e in events})
        sizes = [int(s) for s in args.sizes.split(",")]
        blocks = {size: groups(events, size) for size in sizes}
        points = sum(b.num_rows for b in blocks[sizes[0]])
        scale = 1e6 / points
        print(f"{points:,} points, values {args.values}; groups: "
              + ", ".join(f"{s}: {len(b)}" for s, b in blocks.items()), flush=True)
        got: dict[tuple[int, str], dict[str, list[float]]] = {}
        loads = []
        for r in range(args.rounds + 1):  # round 0 warms up
            loads.append(os.getloadavg()[0])
            for size in sizes:
                for name, variant in schedule(variants, r, paired=args.paired):
                    measured = measure(client, variant, blocks[size], f"{r}:{size}:{name}", runs, points)
                    if r:
                        row = got.setdefault((size, name), {k: [] for k in measured})
                        for k, v in measured.items():
                            row[k].append(v * scale if k in ("insert", "merge", "total") else v)
            print(f"round {r} done, load {os.getloadavg()}", flush=True)
        print(f"\nload (1 min) at each round's start: {', '.join(f'{x:.1f}' for x in loads)}")
        print(f"{'paired: each variant against a base measured next to it' if args.paired else 'rotated order'}")
        print("| size | variant | insert CPU s /1M | merge CPU s /1M | insert+merge | vs base | lower in "
              "| insert lower in | MB merged | 1 series ms (parts / merged) | 20 series ms (parts / merged) |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in sizes:
            for variant in variants:
                if args.paired and variant == "base":
                    continue
                row = got[size, variant]
                base = got[size, f"base|{variant}" if args.paired and variant != "base" else "base"]
                med = {k: statistics.median(v) for k, v in row.items()}
                lower = sum(a < b for a, b in zip(row["total"], base["total"], strict=True))
                lower_insert = sum(a < b for a, b in zip(row["insert"], base["insert"], strict=True))
                base_total = statistics.median(base["total"])
                change = med["total"] / base_total - 1
                print(f"| {size:,} | {variant} | {med['insert']:.3f} | {med['merge']:.3f} | {med['total']:.3f} "
                      f"| {change:+.1%} (base {base_total:.3f}) | {lower} of {len(row['total'])} "
                      f"| {lower_insert} of {len(row['total'])} "
                      f"| {med['mb']:.2f} | {med['one_parts']:.2f} / {med['one']:.2f} "
                      f"| {med['twenty_parts']:.2f} / {med['twenty']:.2f} |")
                if args.paired:
                    b = {k: statistics.median(v) for k, v in base.items()}
                    print(f"| | (its base) | {b['insert']:.3f} | {b['merge']:.3f} | {b['total']:.3f} | | | "
                          f"| {b['mb']:.2f} | {b['one_parts']:.2f} / {b['one']:.2f} "
                          f"| {b['twenty_parts']:.2f} / {b['twenty']:.2f} |")
        client.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
