"""The projector's drain with parts in packed storage (one `data.packed` file a part) against full storage (~11
files a part), alternated in one process, and what creating a file costs on the data directory's file system.

    python benchmarks/packed_parts.py [--rounds 12] [--packed-bytes 16777216] [--data-dir /tmp]

Each round builds a fresh embedded ClickHouse under `--data-dir`, applies the migrations, and for the packed rounds
sets `min_bytes_for_full_part_storage` on every MergeTree table (what migration 0029 does; the base rounds put
it back to 0, full storage). It then feeds a 1M-point sweep's consumed batches through `Projector.process` (as
`projector_drain.py` does: no broker) and reports the process's user and system CPU for the drain alone, its wall
time and the load. Rounds alternate base, packed, base, ... so a drifting load or file system favours neither.

`--files` first times creating empty files in a fresh directory under `--data-dir`: fresh, right after 20,000
files were deleted there, and on /dev/shm. On ext4 without a journal the kernel skips every recently freed inode
(`recently_deleted` in `find_inode_bit`), one by one, each time it allocates one, so the cost of a new file grows
with what was deleted in the last minutes.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import projector_drain  # noqa: E402

from consumers.clickhouse import connect  # noqa: E402
from consumers.migrate import migrate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def create_files(directory: Path, count: int = 1000) -> tuple[float, float]:
    """CPU and wall microseconds per empty file created in `directory` (made and removed here)."""
    directory.mkdir(parents=True, exist_ok=True)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(count):
        (directory / f"f{i}").touch()
    out = ((time.process_time() - cpu) * 1e6 / count, (time.perf_counter() - wall) * 1e6 / count)
    shutil.rmtree(directory)
    return round(out[0], 1), round(out[1], 1)


def file_costs(data_dir: Path) -> dict[str, tuple[float, float]]:
    out = {"fresh": create_files(Path(tempfile.mkdtemp(dir=data_dir)) / "a")}
    doomed = Path(tempfile.mkdtemp(dir=data_dir))
    for i in range(20_000):
        (doomed / f"g{i}").touch()
    shutil.rmtree(doomed)
    out["after 20,000 deleted"] = create_files(Path(tempfile.mkdtemp(dir=data_dir)) / "b")
    if Path("/dev/shm").is_dir():
        out["tmpfs (/dev/shm)"] = create_files(Path(tempfile.mkdtemp(dir="/dev/shm")) / "c")
    return out


def one_round(batches: list, packed_bytes: int, data_dir: Path) -> dict[str, float]:
    path = tempfile.mkdtemp(prefix="packed-parts-", dir=data_dir)
    try:
        dsn = f"chdb://{path}"
        client = connect(dsn, "bench")
        migrate(client)
        tables = client.query("SELECT name FROM system.tables WHERE database = 'bench' "
                              "AND engine LIKE '%MergeTree'").result_rows
        for (table,) in tables:
            client.command(f"ALTER TABLE bench.`{table}` MODIFY SETTING min_bytes_for_full_part_storage = "
                           f"{packed_bytes}")
        projector, side = projector_drain.side_projector(dsn, client)
        load = os.getloadavg()[0]
        before, wall = os.times(), time.perf_counter()
        for batch in batches:
            projector.process(batch)
        projector.drain()
        after, wall = os.times(), time.perf_counter() - wall
        kinds = dict(client.query("SELECT part_storage_type, count() FROM system.parts WHERE database = 'bench' "
                                  "AND active GROUP BY 1").result_rows)
        side.close()
        client.close()
        return {"user_s": round(after.user - before.user, 3), "sys_s": round(after.system - before.system, 3),
                "cpu_s": round(after.user - before.user + after.system - before.system, 3),
                "wall_s": round(wall, 3), "load": round(load, 2), "packed_parts": kinds.get("Packed", 0),
                "full_parts": kinds.get("Full", 0)}
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--packed-bytes", type=int, default=16 * 1024 * 1024)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--files", action="store_true", help="also time creating files on the data directory")
    parser.add_argument("--save", type=Path, help="write the markdown table here (under benchmarks/results)")
    args = parser.parse_args()
    lines = [f"# Packed against full part storage in the projector's drain, {time.strftime('%Y-%m-%d %H:%M')} UTC",
             "", f"Data directory {args.data_dir}; 1M points (200 runs x 5 metrics x 1000 steps), 6 partitions; "
             f"packed below {args.packed_bytes:,} bytes; load before {os.getloadavg()[0]:.2f}.", ""]
    if args.files:
        lines += ["| creating an empty file | CPU us | wall us |", "|---|---:|---:|"]
        lines += [f"| {k} | {cpu} | {wall} |" for k, (cpu, wall) in file_costs(args.data_dir).items()] + [""]
    batches, _ = projector_drain.sweep(200, 5, 1000)
    rows: dict[str, list[dict[str, float]]] = {"full": [], "packed": []}
    lines += ["| round | storage | load | user s | sys s | CPU s | wall s | packed / full parts |",
              "|---:|---|---:|---:|---:|---:|---:|---|"]
    for i in range(args.rounds):
        kind = "packed" if i % 2 else "full"
        result = one_round(batches, args.packed_bytes if kind == "packed" else 0, args.data_dir)
        rows[kind].append(result)
        print(json.dumps({"round": i + 1, "storage": kind, **result}), flush=True)
        lines.append(f"| {i + 1} | {kind} | {result['load']} | {result['user_s']} | {result['sys_s']} | "
                     f"{result['cpu_s']} | {result['wall_s']} | {result['packed_parts']} / {result['full_parts']} |")
    pairs = list(zip(rows["full"], rows["packed"], strict=False))
    lines.append("")
    for key in ("sys_s", "cpu_s", "wall_s"):
        better = sum(p[key] < f[key] for f, p in pairs)
        lines.append(f"- {key}: median full {statistics.median(r[key] for r in rows['full']):.3f}, packed "
                     f"{statistics.median(r[key] for r in rows['packed']):.3f}; packed lower in {better} of "
                     f"{len(pairs)} pairs")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.save:
        args.save.write_text(text)


if __name__ == "__main__":
    main()
