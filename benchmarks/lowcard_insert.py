"""CPU of inserting metric points into `metrics` with String against LowCardinality(String) ids, in one process.

    PYTHONPATH=<checkout> python benchmarks/lowcard_insert.py [--runs 100] [--repeat 5]

The points are `replay_prepare.py`'s messages (runs x 5 metrics x 2,000 steps, 6 partitions, ~500 events a chunk),
projected and sorted as the projector sends them (`to_arrow_in_key_order`). Two tables shaped like the migrated
`metrics` (merges stopped) are written in turn, pass after pass, in the forms the ids can travel in: Arrow
dictionary columns (what the projector sends), plain Arrow strings, and dictionaries with int16 indexes. Reported:
median CPU (`time.process_time`: Python and the embedded ClickHouse's threads) per 1M points for each (table, form),
the part of it in ClickHouse's insert pipelines (threads named ThreadPool), and the CPU of merging each table's
parts into one (OPTIMIZE FINAL) after the last pass.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

import clickhouse_connect
import pyarrow as pa
from replay_ab import thread_cpu
from replay_prepare import CHUNK_EVENTS, KEYS, messages

from consumers.chunks import prepare_chunk
from consumers.migrate import migrate
from consumers.projections import PROJECTIONS
from consumers.projections.metrics import MetricBlock
from consumers.sink import INSERT_SETTINGS

IDS = ("experiment_id", "run_id")


def _plain(table: pa.Table) -> pa.Table:
    for name in IDS:
        decoded = table.column(name).combine_chunks().dictionary_decode()
        table = table.set_column(table.schema.get_field_index(name), name, decoded)
    return table


def _int16(table: pa.Table) -> pa.Table:
    for name in (*IDS, "key"):
        column = table.column(name).combine_chunks()
        table = table.set_column(table.schema.get_field_index(name), name, pa.DictionaryArray.from_arrays(
            column.indices.cast(pa.int16()), column.dictionary))
    return table


FORMS: dict[str, Callable[[pa.Table], pa.Table]] = {"dictionary": lambda t: t, "plain": _plain, "int16": _int16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--forms", default="dictionary,plain,int16")
    parser.add_argument("--unsorted", action="store_true", help="send the points in event order (ClickHouse sorts)")
    parser.add_argument("--block", type=int, default=0, help="insert slices of this many points (the live drain's "
                        "inserts are ~10-60k points); default: one insert per chunk")
    args = parser.parse_args()
    client = clickhouse_connect.get_client(dsn=f"chdb://{tempfile.mkdtemp(prefix='lowcard-')}")
    migrate(client)
    lowcard = client.query("SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'metrics' "
                           "AND name = 'run_id'").result_rows[0][0].startswith("LowCardinality")
    tables = {"string": "m_string", "lowcard": "m_lowcard"}
    for table in tables.values():
        client.command(f"CREATE TABLE {table} AS metrics")
    for kind, ids in (("string", "String"), ("lowcard", "LowCardinality(String)")):
        for name in IDS:
            client.command(f"ALTER TABLE {tables[kind]} MODIFY COLUMN {name} {ids}")
    for table in tables.values():
        client.command(f"SYSTEM STOP MERGES {table}")
    print(f"metrics' run_id in this checkout's migrated table: {'LowCardinality' if lowcard else 'String'}")

    blocks = []
    for partition, raws in messages(args.runs, args.steps, 7).items():
        for i in range(0, len(raws), CHUNK_EVENTS):
            chunk = prepare_chunk(partition, raws[i:i + CHUNK_EVENTS], PROJECTIONS)
            points = next(b for b in chunk.blocks if isinstance(b, MetricBlock))
            table = points.to_arrow() if args.unsorted else points.to_arrow_in_key_order()
            step = args.block or table.num_rows
            blocks.extend(table.slice(at, step) for at in range(0, table.num_rows, step))
    points = sum(b.num_rows for b in blocks)
    forms = [f for f in args.forms.split(",") if f]
    made = {form: [FORMS[form](b) for b in blocks] for form in forms}
    spent: dict[tuple[str, str], list[float]] = {}
    pipelines: dict[tuple[str, str], list[float]] = {}  # ClickHouse's insert pipeline threads (ThreadPool) alone
    convert: dict[str, list[float]] = {form: [] for form in forms}
    for n in range(args.repeat + 1):
        for form in forms:
            began = time.process_time()
            [FORMS[form](b) for b in blocks]
            convert[form].append(time.process_time() - began)
        order = list(tables.items()) if n % 2 else list(reversed(tables.items()))
        for form in forms if n % 2 else list(reversed(forms)):
            for kind, table in order:
                began, threads = time.process_time(), thread_cpu()
                for b in made[form]:
                    client.insert_arrow(table, b, settings={**INSERT_SETTINGS, "insert_deduplicate": 0})
                if n:  # the first pass warms up
                    spent.setdefault((kind, form), []).append(time.process_time() - began)
                    pipelines.setdefault((kind, form), []).append(
                        thread_cpu().get("ThreadPool", 0.0) - threads.get("ThreadPool", 0.0))
    scale = 1e6 / points
    print(f"{points:,} points a pass in {len(blocks)} blocks, {args.repeat} passes (+1 warm-up), {len(KEYS)} keys")
    for (kind, form), seconds in sorted(spent.items()):
        print(f"insert {kind:8} {form:10}: median {statistics.median(seconds) * scale:.3f} s CPU per 1M points "
              f"(min {min(seconds) * scale:.3f}, max {max(seconds) * scale:.3f}), of which insert pipelines "
              f"(ThreadPool) {statistics.median(pipelines[kind, form]) * scale:.3f}")
    for form in forms:
        print(f"making the {form:10} form: {statistics.median(convert[form]) * scale:.3f} s CPU per 1M points")
    for kind, table in tables.items():
        client.command(f"SYSTEM START MERGES {table}")
        began = time.process_time()
        client.command(f"OPTIMIZE TABLE {table} FINAL")
        rows = client.query(f"SELECT count() FROM {table}").result_rows[0][0]
        print(f"merge {kind:8}: {time.process_time() - began:.2f} s CPU, {rows:,} rows")


if __name__ == "__main__":
    main()
