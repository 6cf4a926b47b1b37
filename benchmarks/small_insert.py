"""What one small-table insert costs, and where: variants alternated in one process over one embedded ClickHouse.

    python benchmarks/small_insert.py [--rounds 6] [--inserts 40]

The blocks are the live projector's own (a sweep's group of 1/8 of 1M points, `projector_drain.sweep`, prepared
with `prepare_chunk`): events (~200 rows), runs, params, run_state, event_offsets. Every variant inserts the same
blocks `--inserts` times per round into the real tables (merges stopped, so only the statements count, not the
merges of their parts). Variants:
- threads: `ClickHouseSink.insert` as the projector called it before `SMALL_BLOCK_SETTINGS` (clickhouse-connect
  builds Native, writes a temp file, chdb runs `INSERT ... FROM INFILE` on ClickHouse's pipeline threads);
- sink: the same as the projector calls it now (`max_threads = 1, max_insert_threads = 1` on the statement);
- shm: sink with Python's temp files in /dev/shm (tmpfs);
- native_only: clickhouse-connect building the Native bytes alone (no statement);
- select1: one `SELECT 1` statement (the round trip alone);
- null: sink's inserts into Null-engine copies of the tables (parse + format + pipeline, no part).
Reports process CPU (all threads: ClickHouse's pools included), the calling thread's CPU and wall per insert.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import projector_drain  # noqa: E402

import consumers.sink as sink_module  # noqa: E402
from consumers.chunks import prepare_chunk, raw_of  # noqa: E402
from consumers.clickhouse import connect  # noqa: E402
from consumers.derived import offsets_block  # noqa: E402
from consumers.migrate import migrate  # noqa: E402
from consumers.projections import PROJECTIONS, Block  # noqa: E402
from consumers.sink import ClickHouseSink  # noqa: E402

TABLES = ("events", "runs", "params", "run_state")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def blocks() -> dict[str, Block]:
    """One live-sized group's blocks of the small tables (the first partition's chunk of a 1/8 slice)."""
    batches, _ = projector_drain.sweep(200, 5, 1000)
    msgs = [m for batch in batches for m in batch]
    by_partition: dict[int, list[Any]] = {}
    for m in msgs[: len(msgs) // 8]:
        by_partition.setdefault(m.partition(), []).append(m)
    out: dict[str, Block] = {}
    for partition, part in sorted(by_partition.items()):
        chunk = prepare_chunk(partition, [raw_of(m) for m in part], PROJECTIONS)  # type: ignore[arg-type]
        for block in chunk.blocks:
            if block.table in TABLES and len(block):
                if block.table in out:
                    for column, more in zip(out[block.table].data, block.data, strict=True):
                        column.extend(more)
                else:
                    out[block.table] = block
    out["event_offsets"] = offsets_block(out["events"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--inserts", type=int, default=40)
    args = parser.parse_args()
    made = blocks()
    print(json.dumps({t: len(b) for t, b in made.items()}))
    path = tempfile.mkdtemp(prefix="small-insert-")
    try:
        client = connect(f"chdb://{path}", "bench")
        migrate(client)
        for table in made:
            client.command(f"SYSTEM STOP MERGES `{table}`")
            client.command(f"CREATE TABLE `{table}_null` AS `{table}` ENGINE = Null")
        sink = ClickHouseSink(client)
        token = [0]

        def insert_all(suffix: str = "") -> None:
            for table, block in made.items():
                token[0] += 1
                block.table = table + suffix
                sink.insert(block, token=f"bench:{token[0]}")

        def native_only() -> None:
            for table, block in made.items():
                context = client.create_insert_context(table, column_names=list(block.columns),
                                                       column_types=sink.column_types(table, block.columns),
                                                       data=block.data, column_oriented=True)
                for _ in client._transform.build_insert(context):  # type: ignore[attr-defined]
                    pass

        def select1() -> None:
            for _ in made:
                client.command("SELECT 1")

        def shm() -> None:
            tempfile.tempdir = "/dev/shm"
            try:
                insert_all()
            finally:
                tempfile.tempdir = None

        def threads() -> None:  # as before SMALL_BLOCK_SETTINGS: ClickHouse's pipeline threads
            kept = dict(sink_module.SMALL_BLOCK_SETTINGS)
            sink_module.SMALL_BLOCK_SETTINGS.clear()
            try:
                insert_all()
            finally:
                sink_module.SMALL_BLOCK_SETTINGS.update(kept)

        variants = {"threads": threads, "sink": insert_all, "shm": shm, "native_only": native_only,
                    "select1": select1,
                    "null": lambda: insert_all("_null")}
        results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        names = list(variants)
        for r in range(args.rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                c0, t0, w0 = cpu(), time.thread_time(), time.perf_counter()
                for _ in range(args.inserts):
                    variants[name]()
                n = args.inserts * len(made)
                results[name].append({"cpu_ms": (cpu() - c0) / n * 1e3,
                                      "thread_ms": (time.thread_time() - t0) / n * 1e3,
                                      "wall_ms": (time.perf_counter() - w0) / n * 1e3})
        print(f"load {os.getloadavg()}")
        print("| variant | process CPU ms / statement | calling thread CPU ms | wall ms | CPU lower than threads |")
        print("|---|---:|---:|---:|---:|")
        for name in names:
            rows = results[name]
            med = {k: statistics.median(x[k] for x in rows) for k in ("cpu_ms", "thread_ms", "wall_ms")}
            lower = sum(x["cpu_ms"] < b["cpu_ms"] for x, b in zip(rows, results["threads"], strict=True))
            print(f"| {name} | {med['cpu_ms']:.2f} | {med['thread_ms']:.2f} | {med['wall_ms']:.2f} | "
                  f"{lower} of {len(rows)} |")
        # Per table, through the sink.
        print("| table | rows | process CPU ms / insert | wall ms |")
        print("|---|---:|---:|---:|")
        for table, block in made.items():
            samples = []
            for _ in range(args.inserts):
                token[0] += 1
                block.table = table
                c0, w0 = cpu(), time.perf_counter()
                sink.insert(block, token=f"bench:{token[0]}")
                samples.append(((cpu() - c0) * 1e3, (time.perf_counter() - w0) * 1e3))
            print(f"| {table} | {len(block)} | {statistics.median(s[0] for s in samples):.2f} | "
                  f"{statistics.median(s[1] for s in samples):.2f} |")
        client.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
