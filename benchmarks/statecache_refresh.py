"""What the search's in-memory run state costs to keep: a full load of an experiment, and an incremental refresh
after 1, 10 and 100 of its runs changed (a tag set on each, written to run_state past the old log positions), with
the SQL path's cold search statement alternated beside each for scale. In one process over a copy of the data.

    python benchmarks/statecache_refresh.py --data DIR [--repeat 7]

DIR: a data directory loaded by benchmarks/queries.py (`--load DIR --runs 10000 --steps 50`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    from consumers.clickhouse import connect
    from consumers.migrate import migrate
    from query_api import run_search
    from query_api.filters import parse_filter
    from query_api.queries.log import positions
    from query_api.run_search import RunQuery
    from query_api.statecache.cache import RunStates

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="statecache-refresh-"))
    try:
        shutil.copytree(args.data / "clickhouse", work / "clickhouse", symlinks=True)
        client = connect(f"chdb://{work / 'clickhouse'}", "runstream")
        migrate(client)
        experiment = client.query("SELECT experiment_id FROM run_state GROUP BY experiment_id "
                                  "ORDER BY count() DESC LIMIT 1").result_rows[0][0]
        at = positions(client)
        query = RunQuery.of([experiment], "params.optimizer = 'adam'", parse_filter("params.optimizer = 'adam'"), [],
                            "active")
        load = [round(x, 2) for x in os.getloadavg()]

        def sql_ms() -> float:
            began = time.perf_counter()
            run_search.search_runs(client, query, limit=100, at=at, with_state=True)
            return (time.perf_counter() - began) * 1000

        loads, sql = [], []
        for _ in range(args.repeat):
            states = RunStates(50_000)
            began = time.perf_counter()
            held = states.states(client, [experiment], 0, at)
            loads.append((time.perf_counter() - began) * 1000)
            sql.append(sql_ms())
        assert held is not None
        result: dict[str, object] = {"runs": len(held[0].rows), "full_load_ms": round(statistics.median(loads), 1),
                                     "sql_search_ms": round(statistics.median(sql), 1)}
        run_ids = [row.run_id for row in held[0].rows]
        offset = max(at.values()) + 1
        for changed in (1, 10, 100):
            times = []
            for i in range(args.repeat):
                picked = run_ids[i * changed:(i + 1) * changed]
                client.command(
                    "INSERT INTO run_state (experiment_id, run_id, kafka_partition, tags, kafka_offset) "
                    "SELECT experiment_id, run_id, kafka_partition, map('late', concat(repeat('F', 32), '0', 'x')), "
                    "{o:UInt64} FROM run_state FINAL WHERE run_id IN {ids:Array(String)}",
                    parameters={"o": offset, "ids": picked})
                at = {partition: offset for partition in at}  # every partition past the rows just written
                offset += 1
                began = time.perf_counter()
                held = states.states(client, [experiment], 0, at)
                times.append((time.perf_counter() - began) * 1000)
                assert held is not None and states.stats.last_refresh_runs == changed
            result[f"refresh_{changed}_ms"] = round(statistics.median(times), 1)
        result["load_average_before"] = load
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
