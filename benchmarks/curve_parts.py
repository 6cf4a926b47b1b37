"""What one curve reads on a given data directory: metrics' parts, and the curve statement under variants.

    python benchmarks/curve_parts.py --data DIR [--repeat 30] [--variants base,threads1,...] [--optimize]

Opens a copy of DIR's embedded ClickHouse in this process with merges stopped (so the parts stay as they were,
e.g. as benchmarks/fresh10k.py left them), prints metrics' active parts (type, rows, marks, level), then times the
one-curve statement of query_api/queries/curves.py for the first run by name, each variant in turn in every round
(alternated), medians in ms, with the ProfileEvents of one call of each (deltas of system.events, nothing else
running). `--optimize` then merges metrics into one part and times them again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVENTS = ("SelectedParts", "SelectedRanges", "SelectedMarks", "SelectedRows", "SelectedBytes", "ReadCompressedBytes",
          "CompressedReadBufferBlocks", "CompressedReadBufferBytes", "OpenedFileCacheMisses", "OpenedFileCacheHits",
          "MarkCacheHits", "MarkCacheMisses", "UncompressedCacheHits", "UncompressedCacheMisses",
          "FileOpen", "ReadBufferFromFileDescriptorReadBytes", "LoadedPrimaryIndexFiles", "LoadedMarksFiles")

VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "threads1": {"max_threads": 1},
    "pread": {"local_filesystem_read_method": "pread"},
    "mmap": {"local_filesystem_read_method": "mmap", "min_bytes_to_use_mmap_io": 1},
    "uncompressed_cache": {"use_uncompressed_cache": 1},
    "no_prewhere": {"optimize_move_to_prewhere": 0},
    "threads1_pread": {"max_threads": 1, "local_filesystem_read_method": "pread"},
}


def parts(client: Any, table: str) -> list[dict[str, Any]]:
    rows = client.query(
        "SELECT name, part_type, rows, marks, level, bytes_on_disk, data_uncompressed_bytes FROM system.parts "
        "WHERE database = currentDatabase() AND table = {t:String} AND active ORDER BY name",
        parameters={"t": table}).result_rows
    return [dict(zip(("name", "type", "rows", "marks", "level", "bytes", "uncompressed"), r, strict=True))
            for r in rows]


def events(client: Any) -> dict[str, int]:
    rows = client.query("SELECT event, value FROM system.events WHERE event IN {e:Array(String)}",
                        parameters={"e": list(EVENTS)}).result_rows
    return {k: int(v) for k, v in rows}


def profile(client: Any, sql: str, bind: dict[str, Any], settings: dict[str, Any]) -> dict[str, int]:
    """ProfileEvents of one call: the system.events delta around it, less that of an empty pair of reads."""
    empty_a = events(client)
    empty_b = events(client)
    before = events(client)
    client.query(sql, parameters=bind, settings=settings)
    after = events(client)
    return {k: after.get(k, 0) - before.get(k, 0) - (empty_b.get(k, 0) - empty_a.get(k, 0)) for k in EVENTS
            if after.get(k, 0) - before.get(k, 0)}


def timed(client: Any, table: str, variants: list[str], bind: dict[str, Any], repeat: int) -> dict[str, Any]:
    from query_api.queries import curves

    sql = curves.ALL_POINTS.replace("FROM metrics", f"FROM {table}")
    out: dict[str, Any] = {}
    first = {}
    for name in variants:  # the first call of each, before any repeat
        began = time.perf_counter()
        _ = client.query(sql, parameters=bind, settings=VARIANTS[name]).result_rows
        first[name] = round((time.perf_counter() - began) * 1000, 2)
    times: dict[str, list[float]] = {v: [] for v in variants}
    for i in range(repeat):
        order = variants if i % 2 else variants[::-1]
        for name in order:
            began = time.perf_counter()
            rows = client.query(sql, parameters=bind, settings=VARIANTS[name]).result_rows
            times[name].append((time.perf_counter() - began) * 1000)
            assert len(rows) > 0
    for name in variants:
        out[name] = {"first_ms": first[name], "median_ms": round(statistics.median(times[name]), 2),
                     "events": profile(client, sql, bind, VARIANTS[name])}
    base = variants[0]
    for name in variants[1:]:
        out[name]["faster_pairs"] = f"{sum(t < b for t, b in zip(times[name], times[base], strict=True))}/{repeat}"
    return out


def open_copy(data: Path) -> tuple[Any, Path]:
    from consumers.clickhouse import open_client

    work = Path(tempfile.mkdtemp(prefix="curve-parts-"))
    shutil.copytree(data / "clickhouse", work / "clickhouse", symlinks=True)
    client = open_client(f"chdb://{work / 'clickhouse'}", "runstream")
    client.command("SYSTEM STOP MERGES")
    return client, work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--table", default="metrics")
    parser.add_argument("--optimize", action="store_true")
    args = parser.parse_args()
    client, work = open_copy(args.data)
    try:
        run_id, experiment_id = client.query(
            "SELECT run_id, any(experiment_id) FROM runs GROUP BY run_id ORDER BY argMax(name, (event_time, seq)) "
            "LIMIT 1").result_rows[0]
        bind = {"experiment_id": experiment_id, "run_id": run_id, "key": "val_loss",
                "step_min": -(2**63), "step_max": 2**63 - 1}
        variants = [v for v in args.variants.split(",") if v]
        for table in ("metrics", "run_metric_summary", "run_state"):
            found = parts(client, table)
            print(json.dumps({"table": table, "parts": len(found),
                              "types": {t: sum(p["type"] == t for p in found) for t in {p["type"] for p in found}},
                              "rows": [p["rows"] for p in found], "levels": [p["level"] for p in found],
                              "marks": [p["marks"] for p in found]}), flush=True)
        print(json.dumps({"state": "as found", "load": os.getloadavg()[0],
                          **timed(client, args.table, variants, bind, args.repeat)}), flush=True)
        if args.optimize:
            client.command("SYSTEM START MERGES")
            client.command(f"OPTIMIZE TABLE {args.table} FINAL")
            client.command("SYSTEM STOP MERGES")
            print(json.dumps({"state": "optimized", "parts": len(parts(client, args.table)), "load": os.getloadavg()[0],
                              **timed(client, args.table, variants, bind, args.repeat)}), flush=True)
    finally:
        client.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
