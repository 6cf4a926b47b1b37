"""What ClickHouse's automatic column statistics cost a merge: the same parts merged with and without them,
alternated in one process over one embedded ClickHouse.

    python benchmarks/merge_statistics.py [--rounds 6]

Per round and variant, fresh copies of `metrics` and `events` (`CREATE TABLE ... AS`, so after migration 0026 they
carry `auto_statistics_types = ''`; the `statistics` variant sets ClickHouse's default `basic, uniq_v2` back)
receive 8 parts with merges stopped (metrics: 8 x 125,000 points in key order; events: 8 x 200 rows, a live
group's size), then `OPTIMIZE TABLE ... FINAL` merges each into one part; the process CPU of each OPTIMIZE is
reported (ClickHouse merges on its own threads: all threads counted).
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

from consumers.clickhouse import connect  # noqa: E402
from consumers.migrate import migrate  # noqa: E402

VARIANTS = {"statistics": "basic, uniq_v2", "none": ""}
METRICS = ("INSERT INTO {t} (experiment_id, run_id, key, step, ts, value, kafka_partition, kafka_offset, point_index) "
           "SELECT 'e', toString(cityHash64(number % 200)), concat('k', toString(number % 5)), "
           "intDiv(number, 1000) + {i} * 125, toDateTime64(1700000000 + number / 1000, 3), (number % 997) / 997, "
           "number % 6, {i} * 1000 + intDiv(number, 1000), number % 1000 FROM numbers(125000) ORDER BY 1, 3, 2, 4")
EVENTS = ("INSERT INTO {t} (event_id, run_id, experiment_id, seq, event_type, event_time, producer_host, producer_pid, "
          "producer_user, sdk_version, schema_fingerprint, payload, kafka_partition, kafka_offset) "
          "SELECT generateUUIDv4(), toString(cityHash64(number % 200)), 'exp', number, 'MetricsLogged', now64(6), "
          "'h', 1, 'u', 'v', 'abcdef', repeat('x', 200), number % 6, {i} * 1000 + number FROM numbers(200)")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    path = tempfile.mkdtemp(prefix="merge-statistics-")
    try:
        client = connect(f"chdb://{path}", "bench")
        migrate(client)
        results: dict[str, dict[str, list[float]]] = {v: {"metrics": [], "events": []} for v in VARIANTS}
        for r in range(args.rounds):
            for variant in list(VARIANTS) if r % 2 == 0 else list(VARIANTS)[::-1]:
                for source, sql in (("metrics", METRICS), ("events", EVENTS)):
                    table = f"{source}_{variant}"
                    client.command(f"DROP TABLE IF EXISTS {table}")
                    client.command(f"CREATE TABLE {table} AS {source}")
                    client.command(f"ALTER TABLE {table} MODIFY SETTING auto_statistics_types = '{VARIANTS[variant]}'")
                    client.command(f"SYSTEM STOP MERGES {table}")
                    for i in range(8):
                        client.command(sql.format(t=table, i=i))
                    client.command(f"SYSTEM START MERGES {table}")
                    began = cpu()
                    client.command(f"OPTIMIZE TABLE {table} FINAL")
                    results[variant][source].append(cpu() - began)
        print(f"load {os.getloadavg()}")
        print("| variant | metrics: 1M points, 8 parts -> 1, CPU s | events: 1,600 rows, 8 parts -> 1, CPU ms |")
        print("|---|---:|---:|")
        for variant, got in results.items():
            print(f"| {variant} | {statistics.median(got['metrics']):.3f} "
                  f"({', '.join(f'{x:.3f}' for x in got['metrics'])}) | "
                  f"{statistics.median(got['events']) * 1e3:.1f} "
                  f"({', '.join(f'{x * 1e3:.1f}' for x in got['events'])}) |")
        for source in ("metrics", "events"):
            lower = sum(a < b for a, b in zip(results["none"][source], results["statistics"][source], strict=True))
            print(f"{source}: lower without statistics in {lower} of {args.rounds} rounds")
        client.close()
    finally:
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
