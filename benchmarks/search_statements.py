"""Per-statement cost of a run search, as the API runs it today against one SQL statement that answers it whole.

    python benchmarks/search_statements.py [--runs 10000 --steps 100 --repeat 15] [--data DIR]

Today a search page is the log position, the page of run ids (`search.build_search`), then four hydration
queries (`runs.fetch_runs`: attributes, params, tags, summaries). The alternative measured here is one statement:
the page as a materialized CTE, with params, tags and summaries of its runs aggregated into arrays beside it
(`build_search_page`). Both give the same runs (checked). In-process over embedded ClickHouse loaded by
benchmarks/queries.py's loader; medians, interleaved so a busy machine weighs on both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clickhouse_connect.driver.client import Client  # noqa: E402

from query_api.filters.ast import Node, OrderKey  # noqa: E402
from query_api.queries.filters import Binder, compile_filter, compile_order  # noqa: E402
from query_api.queries.fold import CURRENT  # noqa: E402
from query_api.queries.run_search import VIEWS, BuiltQuery, RunView  # noqa: E402
from query_api.queries.runs import EXPERIMENT_NAMES, shape  # noqa: E402

ATTRIBUTES = ("r.run_id, r.experiment_id, r.name, r.status, toUnixTimestamp64Micro(r.start_time), "
              "toUnixTimestamp64Micro(r.end_time), r.parent_run_id, r.user, r.source, r.description, r.deleted")


def build_search_page(
    experiment_ids: list[str], node: Node | None, order: list[OrderKey], *, run_view: RunView,
    snapshot: dict[int, int], offset: int, limit: int,
) -> BuiltQuery:
    """One statement: a row per run of the page, in order, with the run's attributes, experiment name and
    arrays of (key, value) params, tags and (key, last, min, max, count, last_step) summaries. Pure."""
    b = Binder()
    b.experiments = b.bind(experiment_ids, "Array(String)")
    partitions = b.bind(list(snapshot), "Array(UInt32)")
    offsets = b.bind(list(snapshot.values()), "Array(UInt64)")
    where = compile_filter(node, b)
    order_by = compile_order(order, b)
    scope = f"experiment_id IN {b.experiments} AND run_id IN (SELECT run_id FROM page)"
    sql = (
        f"WITH page AS MATERIALIZED (SELECT {ATTRIBUTES}, row_number() OVER (ORDER BY {order_by}) AS ord "
        f"FROM {CURRENT} AS r " + " ".join(b.join_sql)
        + f" WHERE r.experiment_id IN {b.experiments} AND {VIEWS[run_view]}"
        + f" AND has({partitions}, r.kafka_partition)"
        + f" AND r.first_offset <= arrayElement({offsets}, indexOf({partitions}, r.kafka_partition))"
        + f" AND {where}"
        + f" ORDER BY {order_by}"
        + f" LIMIT {b.bind(limit, 'UInt32')} OFFSET {b.bind(offset, 'UInt64')}"
        + " SETTINGS join_use_nulls = 1)"
        + " SELECT page.* EXCEPT (ord), e.name, p.kv, t.kv, s.kv FROM page"
        + f" LEFT JOIN ({EXPERIMENT_NAMES}) AS e ON e.experiment_id = page.experiment_id"
        + " LEFT JOIN (SELECT run_id, groupArray((key, value)) AS kv FROM (SELECT run_id, key,"
        + f" argMax(value, (event_time, seq)) AS value FROM params WHERE {scope} GROUP BY run_id, key)"
        + " GROUP BY run_id) AS p ON p.run_id = page.run_id"
        + " LEFT JOIN (SELECT run_id, groupArray((key, value)) AS kv FROM (SELECT run_id, key,"
        + " argMax(value, (event_time, seq)) AS value, argMax(deleted, (event_time, seq)) AS gone FROM tags"
        + f" WHERE {scope} GROUP BY run_id, key HAVING gone = 0) GROUP BY run_id) AS t ON t.run_id = page.run_id"
        + " LEFT JOIN (SELECT run_id, groupArray((key, last, lo, hi, n, last_step)) AS kv FROM (SELECT run_id, key,"
        + " argMaxMerge(last_value) AS last, min(min_value) AS lo, max(max_value) AS hi, sum(point_count) AS n,"
        + f" max(last_step) AS last_step FROM run_metric_summary WHERE {scope} GROUP BY run_id, key)"
        + " GROUP BY run_id) AS s ON s.run_id = page.run_id"
        + " ORDER BY page.ord"
    )
    return BuiltQuery(sql, b.parameters)


def shape_page(rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The runs of a page in the shape `runs.fetch_runs` gives, in the statement's order."""
    attributes, params, tags, summaries, order = [], [], [], [], []
    for row in rows:
        *attrs, experiment_name, kv_params, kv_tags, kv_summaries = row
        run_id, experiment_id, *rest = attrs
        attributes.append((run_id, experiment_id, experiment_name, *rest))
        params.extend((run_id, k, v) for k, v in kv_params or ())
        tags.extend((run_id, k, v, 0) for k, v in kv_tags or ())
        summaries.extend((run_id, *s) for s in kv_summaries or ())
        order.append(run_id)
    return shape(order, attributes, params, tags, summaries)


def search_page(client: Client, query: BuiltQuery) -> list[dict[str, Any]]:
    """Run a built page query: the page's runs, fully shaped, in one round trip."""
    return shape_page(client.query(query.sql, parameters=query.parameters).result_rows)


def _median_ms(calls: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat + 1):
        for name, call in calls.items():
            began = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - began) * 1000)
    return {name: round(statistics.median(t[1:]), 2) for name, t in times.items()}


def main() -> None:
    from benchmarks import queries as loader
    from consumers.clickhouse import connect
    from query_api.filters import parse_filter, parse_order_by
    from query_api.queries import log, runs
    from query_api.queries import run_search as search
    from schemas.ids import experiment_id_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--data", default="", help="a directory loaded before (else a fresh temporary one)")
    args = parser.parse_args()
    data = args.data or tempfile.mkdtemp(prefix="search-statements-")
    if not (Path(data) / "clickhouse").exists():
        loader.load(data, args.runs, args.steps)
    client = connect(f"chdb://{data}/clickhouse", "runstream")
    exp = [experiment_id_for(loader.EXPERIMENT)]
    for name, text, order, limit in (("param_filtered_search", "params.optimizer = 'adam'", [], 100),
                                     ("top10_by_final_metric", None, ["metrics.train_loss ASC"], 10),
                                     ("all_runs", None, [], 50_000)):
        node, keys = (parse_filter(text) if text else None), parse_order_by(order)
        snapshot = log.positions(client) or {p: 2**62 for p in range(6)}
        ids_query = search.build_search(exp, node, keys, run_view="active", snapshot=snapshot, offset=0, limit=limit)
        one = build_search_page(exp, node, keys, run_view="active", snapshot=snapshot, offset=0, limit=limit)
        ids = search.run_search(client, ids_query)
        assert runs.fetch_runs(client, ids, experiment_ids=exp) == search_page(client, one), name
        bind = {"experiment_ids": exp, "run_ids": ids, "as_of": runs.END_OF_TIME}
        calls: dict[str, Callable[[], Any]] = {
            "SELECT 1": lambda: client.query("SELECT 1").result_rows,
            "log position": lambda: log.positions(client),
            "ids": lambda q=ids_query: search.run_search(client, q),  # type: ignore[misc]
        }
        for part, sql in (("attributes", runs.RUNS_BY_ID), ("params", runs.PARAMS), ("tags", runs.TAGS),
                          ("summaries", runs.metric_summaries_sql(False))):
            calls[part] = lambda sql=sql, bind=bind: client.query(sql, parameters=bind).result_rows  # type: ignore[misc]
        calls["one statement"] = lambda q=one: search_page(client, q)  # type: ignore[misc]
        ms = _median_ms(calls, args.repeat)
        before = sum(v for k, v in ms.items() if k not in ("SELECT 1", "one statement"))
        print(json.dumps({"question": name, "runs_returned": len(ids), "ms": ms,
                          "before_sequential_ms": round(before, 2),
                          "one_statement_ms": ms["one statement"], "load_average": os.getloadavg()[0]}), flush=True)


if __name__ == "__main__":
    main()
