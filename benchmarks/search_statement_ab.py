"""A run search's page statement as this checkout builds it against another checkout's, alternated in one process.

    python benchmarks/search_statement_ab.py --data DIR --base /path/to/other/checkout [--repeat 41]

Both `build_search`es (query_api/queries/run_search.py of each tree) build the same five searches (a cold page with
the log positions given or read in the statement, a later page of ids only, a metric filter ordered by the metric,
all runs by name); their rows are checked equal, then each statement is run after the other on one embedded client,
medians in ms. Without HTTP, JSON or the other reads of a request: on a shared machine whose load swings, this is
where a change to the statement shows. DIR is a data directory of benchmarks/queries.py's loader (use a copy: the
client opens it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = {  # name: (filter, order_by, positions given, offset, with the page's state)
    "cold page, positions given, state": ("params.optimizer = 'adam'", [], True, 0, True),
    "cold page, positions in the statement, state": ("params.optimizer = 'adam'", [], False, 0, True),
    "later page, ids only": ("params.optimizer = 'adam'", [], True, 100, False),
    "metric filter ordered by the metric, state": ("params.optimizer = 'adam' and metrics.val_loss < 0.5",
                                                   ["metrics.val_loss ASC"], True, 0, True),
    "all runs by name, state": ("", ["attributes.run_name ASC"], True, 0, True),
}


def main() -> None:
    import clickhouse_connect

    from benchmarks import queries as loader
    from query_api.filters import parse_filter, parse_order_by
    from query_api.queries.run_search import build_search
    from schemas.ids import experiment_id_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=41)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("base_run_search",
                                                  args.base / "query_api" / "queries" / "run_search.py")
    assert spec is not None and spec.loader is not None
    base = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = base  # dataclasses look their module up
    spec.loader.exec_module(base)
    client = clickhouse_connect.get_client(dsn=f"chdb://{args.data.resolve()}/clickhouse", database="runstream")
    experiment = experiment_id_for(loader.EXPERIMENT)
    positions = dict(client.query("SELECT kafka_partition, max(kafka_offset) FROM event_offsets "
                                  "GROUP BY kafka_partition").result_rows)
    load = os.getloadavg()[0]
    for name, (text, order, given, offset, state) in CASES.items():
        built = {}
        for side, build in (("base", base.build_search), ("this", build_search)):
            built[side] = build([experiment], parse_filter(text) if text else None, parse_order_by(order),
                                run_view="active", snapshot=positions if given else None, offset=offset, limit=101,
                                with_state=state)
        rows = {side: client.query(b.sql, parameters=b.parameters).result_rows for side, b in built.items()}
        assert rows["base"] == rows["this"], f"{name}: the two statements answer differently"
        times: dict[str, list[float]] = {"base": [], "this": []}
        for i in range(args.repeat + 1):
            for side in ("base", "this") if i % 2 else ("this", "base"):
                began = time.perf_counter()
                client.query(built[side].sql, parameters=built[side].parameters).result_rows  # noqa: B018
                if i:  # the first round warms both up
                    times[side].append((time.perf_counter() - began) * 1000)
        before, after = statistics.median(times["base"]), statistics.median(times["this"])
        print(json.dumps({"case": name, "base_ms": round(before, 2), "this_ms": round(after, 2),
                          "speedup": round(before / after, 2)}), flush=True)
    print(json.dumps({"load_average_before": round(load, 2), "load_average_after": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
