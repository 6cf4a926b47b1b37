"""The live projector's CPU per 1M points under ClickHouse settings, variants alternated in one process.

    python benchmarks/projector_settings_ab.py \
        '{"base": {}, "msb10": {"tables": {"metric_chunks": "merge_selector_base = 10"}}}' 4

`projector_drain.py`'s sweep (200 runs x 5 metrics x 1,000 steps, 6 partitions) in consumed batches of ~1.4 MB (what
the live projector's `consume(5000, 0.1 s)` takes under a sweep's burst: ~22 groups per 1M points), through
`Projector.process` with side inserts (as `runstream up` runs it), into a fresh embedded ClickHouse per pass. A variant
names insert settings (`insert`: added to `consumers.sink.INSERT_SETTINGS`; `small_block`: replaces
`consumers.sink.SMALL_BLOCK_SETTINGS`, e.g. `{}` for ClickHouse's threads) and table settings (`tables`: `ALTER TABLE
t MODIFY SETTING ...` after the migrations). Each pass reports the process's CPU while feeding (inserts, their
pipelines and the merges running meanwhile) and over `SETTLE_S` after (the merges left behind), and the metrics
parts left. The order of the variants flips every round; medians and pair counts against the first variant.
"""

from __future__ import annotations

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
from consumers.clickhouse import connect  # noqa: E402
from consumers.migrate import migrate  # noqa: E402

LIVE_BATCH_BYTES = 1_400_000
SETTLE_S = 4.0
BASE_INSERT_SETTINGS = dict(sink_module.INSERT_SETTINGS)
BASE_SMALL_BLOCK_SETTINGS = dict(sink_module.SMALL_BLOCK_SETTINGS)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_pass(name: str, variant: dict[str, Any], batches: list[list[Any]], points: int) -> dict[str, Any]:
    sink_module.INSERT_SETTINGS.clear()
    sink_module.INSERT_SETTINGS.update({**BASE_INSERT_SETTINGS, **variant.get("insert", {})})
    sink_module.SMALL_BLOCK_SETTINGS.clear()
    sink_module.SMALL_BLOCK_SETTINGS.update(variant.get("small_block", BASE_SMALL_BLOCK_SETTINGS))
    path = tempfile.mkdtemp(prefix="projector-settings-")
    try:
        dsn = f"chdb://{path}"
        client = connect(dsn, "bench")
        migrate(client)
        for table, setting in variant.get("tables", {}).items():
            client.command(f"ALTER TABLE {table} MODIFY SETTING {setting}")  # from the command line, not a request
        projector, side = projector_drain.side_projector(dsn, client)
        load = os.getloadavg()[0]
        began, cpu_began = time.perf_counter(), cpu()
        for batch in batches:
            projector.process(batch)  # type: ignore[arg-type]
        wall, cpu_fed = time.perf_counter() - began, cpu()
        time.sleep(SETTLE_S)
        cpu_settled = cpu()
        counted = client.query("SELECT sum(point_count) FROM run_metric_summary").result_rows[0][0]
        assert counted == points, f"{counted} of {points} points in the summary"
        parts = client.query("SELECT count() FROM system.parts WHERE database = 'bench' AND table = 'metric_chunks' "
                             "AND active").result_rows[0][0]
        projector.writer.close_side()
        side.close()
        client.close()
        projector.dlq.close()
        return {"variant": name, "wall_s": round(wall, 3), "cpu_feed_s": round(cpu_fed - cpu_began, 3),
                "cpu_settle_s": round(cpu_settled - cpu_fed, 3), "cpu_total_s": round(cpu_settled - cpu_began, 3),
                "metrics_parts": parts, "load": round(load, 2)}
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    variants: dict[str, dict[str, Any]] = json.loads(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    projector_drain.BATCH_BYTES = LIVE_BATCH_BYTES
    batches, points = projector_drain.sweep(200, 5, 1000)
    print(json.dumps({"batches": len(batches), "points": points}), flush=True)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for r in range(rounds):
        for name in list(variants) if r % 2 == 0 else list(variants)[::-1]:
            result = one_pass(name, variants[name], batches, points)
            results[name].append(result)
            print(json.dumps(result), flush=True)
    base = next(iter(variants))
    for name, passes in results.items():
        medians = {k: round(statistics.median(p[k] for p in passes), 3)
                   for k in ("wall_s", "cpu_feed_s", "cpu_settle_s", "cpu_total_s")}
        lower = sum(p["cpu_total_s"] < b["cpu_total_s"] for p, b in zip(passes, results[base], strict=True))
        print(json.dumps({"variant": name, "median": medians, "cpu_total_lower_than_base": f"{lower} of {rounds}"}))


if __name__ == "__main__":
    main()
