"""User and system CPU of one metrics insert by its size, with ClickHouse's insert threads or one thread, in one
process, alternated: how much of a live insert group's cost is per statement and part, not per point.

    PYTHONPATH=<checkout> python benchmarks/insert_sizes.py [--sizes 500,2000,20000,100000] [--rounds 5]

The points are `insert_codecs.py`'s sweep, cut into groups of each size and sent as the projector sends them
(sorted Arrow blocks, the sink's settings, a token each) into a fresh copy of the migrated `metrics`, merges
stopped; `one` adds `max_threads = 1, max_insert_threads = 1` (what the sink uses for small non-metrics blocks).
`--null` also sends them to a Null copy of metrics (the statement without a part). Prints medians per insert
(getrusage of the whole process: Python and ClickHouse's threads) and per point.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from insert_codecs import groups, sweep_events  # noqa: E402

from consumers.clickhouse import connect  # noqa: E402
from consumers.migrate import migrate  # noqa: E402
from consumers.sink import INSERT_SETTINGS  # noqa: E402

MODES: dict[str, tuple[str, dict[str, int]]] = {"pool": ("", {}),
                                                "one": ("", {"max_threads": 1, "max_insert_threads": 1})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="500,2000,20000,100000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--null", action="store_true", help="also insert into a Null copy (no part written)")
    args = parser.parse_args()
    modes = {**MODES, "null": (" ENGINE = Null", {})} if args.null else MODES
    sizes = [int(s) for s in args.sizes.split(",")]
    path = tempfile.mkdtemp(prefix="insert-sizes-")
    try:
        client = connect(f"chdb://{path}", "bench")
        migrate(client)
        events = sweep_events("sweep")
        blocks = {s: groups(events, s)[:max(4, 200_000 // s)] for s in sizes}
        got: dict[tuple[int, str], list[tuple[float, float]]] = {}
        loads = []
        for r in range(args.rounds + 1):  # round 0 warms up
            loads.append(os.getloadavg()[0])
            for mode in list(modes) if r % 2 else list(modes)[::-1]:
                for size in sizes if r % 2 else sizes[::-1]:
                    client.command("DROP TABLE IF EXISTS sized SYNC")
                    engine, settings = modes[mode]
                    client.command(f"CREATE TABLE sized AS metrics{engine}")
                    if not engine:
                        client.command("SYSTEM STOP MERGES sized")
                    before = resource.getrusage(resource.RUSAGE_SELF)
                    for i, block in enumerate(blocks[size]):
                        client.insert_arrow("sized", block, settings={
                            **INSERT_SETTINGS, **settings, "insert_deduplication_token": f"{r}:{mode}:{i}"})
                    after = resource.getrusage(resource.RUSAGE_SELF)
                    n = len(blocks[size])
                    if r:
                        got.setdefault((size, mode), []).append(
                            ((after.ru_utime - before.ru_utime) / n, (after.ru_stime - before.ru_stime) / n))
        client.command("DROP TABLE IF EXISTS sized SYNC")
        print(f"load (1 min) at each round's start: {', '.join(f'{x:.1f}' for x in loads)}")
        print("| points per insert | threads | user ms per insert | system ms per insert | µs per point |")
        print("|---:|---|---:|---:|---:|")
        for (size, mode), values in sorted(got.items()):
            user = statistics.median(u for u, _ in values) * 1e3
            system = statistics.median(s for _, s in values) * 1e3
            print(f"| {size:,} | {mode} | {user:.2f} | {system:.2f} | {(user + system) / size * 1e3:.3f} |")
        client.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
