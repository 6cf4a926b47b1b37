"""Every ClickHouse statement of the five benchmark questions, before and after, timed one by one in one process.

    python benchmarks/query_statements.py --data DIR --base /path/to/other/checkout [--repeat 15]

The statements of each question as the API sends them (the other checkout's query modules give "before", this
one's "after"), run one after another on one client, interleaved, medians in ms: where each question's time
goes inside ClickHouse, without HTTP, JSON or the side-by-side reads (which overlap on an idle machine and
queue on a busy one). DIR is a runstream data directory of benchmarks/sweep.py's sweep (or a copy of one).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _module(base: Path, name: str) -> ModuleType:
    """A query module of the other checkout (its own imports resolve to this checkout's unchanged helpers)."""
    spec = importlib.util.spec_from_file_location(f"base_{name}", base / "query_api" / "queries" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def statements(client: Any, base: Path, experiment_id: str, metric: str) -> dict[str, dict[str, list[tuple]]]:
    """question -> {"before": [(label, sql, parameters)], "after": [...]}."""
    from query_api.filters import parse_filter
    from query_api.queries import analytics, curves, log, runs
    from query_api.queries import run_search as search

    old = {name: _module(base, name) for name in ("analytics", "runs", "run_search", "curves")}
    exp = [experiment_id]
    node = parse_filter("params.optimizer = 'adam'")
    snapshot = log.positions(client)
    old_ids = old["run_search"].build_search(exp, node, [], run_view="active", snapshot=snapshot, offset=0, limit=101)
    new_ids = search.build_search(exp, node, [], run_view="active", snapshot=None, offset=0, limit=101)
    old_first = old["run_search"].build_search(exp, node, [], run_view="active", snapshot=None, offset=0, limit=101)
    page = old["run_search"].run_search(client, old_ids)[:100]
    some = [r[0] for r in client.query("SELECT run_id FROM runs WHERE experiment_id = {e:String} GROUP BY run_id "
                                       "ORDER BY argMax(name, (event_time, seq)) LIMIT 20",
                                       parameters={"e": experiment_id}).result_rows]
    ranked = [r[0] for r in client.query(analytics.leaderboard_sql("last", False), parameters={
        "experiment_id": experiment_id, "metric": metric, "k": 10}).result_rows]
    lb = {"experiment_id": experiment_id, "metric": metric, "k": 10}
    cards = {"experiment_id": experiment_id, "run_ids": ranked}
    hydrate = {"experiment_ids": exp, "run_ids": page, "as_of": runs.END_OF_TIME}
    twenty = {"experiment_ids": exp, "run_ids": some, "as_of": runs.END_OF_TIME}
    lttb = {"experiment_ids": exp, "run_ids": some, "keys": [metric], "max_points": 1000}
    curve = {"experiment_id": experiment_id, "run_id": some[0], "key": metric, "step_min": curves.INT64_MIN,
             "step_max": curves.INT64_MAX}
    par = {"experiment_id": experiment_id, "metric": metric,
           "params": ["lr", "optimizer", "batch_size", "dropout", "layers", "width", "warmup", "weight_decay", "seed",
                      "scheduler"]}
    summaries = runs.metric_summaries_sql(False)
    return {
        "top10_by_final_metric": {
            "before": [("ranking", old["analytics"].leaderboard_sql("last", False), lb),
                       ("run cards", old["analytics"].RUN_CARDS, cards)],
            "after": [("ranking", analytics.leaderboard_sql("last", False), lb),
                      ("run cards", analytics.RUN_CARDS, cards)]},
        "param_filtered_search": {
            "before": [("ids + log positions", old_first.sql, old_first.parameters),
                       ("attributes", old["runs"].RUN_ATTRIBUTES, hydrate), ("names", runs.NAMES_OF, hydrate),
                       ("params", runs.PARAMS, hydrate), ("tags", runs.TAGS, hydrate),
                       ("summaries", summaries, hydrate)],
            "after": [("ids + log positions", new_ids.sql, new_ids.parameters),
                      ("state", runs.RUN_STATE, hydrate), ("names", runs.NAMES_OF, hydrate),
                      ("summaries", summaries, hydrate)]},
        "one_curve": {
            "before": [("points", old["curves"].ALL_POINTS, curve)],
            "after": [("points", curves.POINTS, curve)]},  # sorted in Python after (curves.in_order)
        "twenty_curves": {
            "before": [("attributes", old["runs"].RUN_ATTRIBUTES, twenty), ("names", runs.NAMES_OF, twenty),
                       ("params", runs.PARAMS, twenty), ("tags", runs.TAGS, twenty), ("summaries", summaries, twenty),
                       ("bulk lttb", curves.BULK_LTTB, lttb)],
            "after": [("state", runs.RUN_STATE, twenty), ("names", runs.NAMES_OF, twenty),
                      ("summaries", summaries, twenty), ("bulk lttb", curves.BULK_LTTB, lttb)]},
        "all_runs_params_final_metrics": {
            "before": [("rows", old["analytics"].PARALLEL.replace(
                "{agg_placeholder}", "argMaxMerge(last_value)"), par)],
            "after": [("rows", analytics.PARALLEL.replace("{agg_placeholder}", "argMaxMerge(last_value)"), par)]},
    }


def main() -> None:
    from consumers.clickhouse import connect
    from schemas.ids import experiment_id_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    client = connect(f"chdb://{args.data.resolve()}/clickhouse", "runstream")
    plan = statements(client, args.base.resolve(), experiment_id_for("bench-sweep"), "val_loss")
    calls: dict[tuple[str, str, str], Callable[[], Any]] = {}
    for question, sides in plan.items():
        for side, listed in sides.items():
            for label, sql, parameters in listed:
                calls[(question, side, label)] = (
                    lambda sql=sql, p=parameters: client.query(sql, parameters=p).result_rows)
    times: dict[tuple[str, str, str], list[float]] = {key: [] for key in calls}
    load = os.getloadavg()[0]
    for i in range(args.repeat + 1):
        for key, call in calls.items():
            began = time.perf_counter()
            call()
            if i:
                times[key].append((time.perf_counter() - began) * 1000)
    for question, sides in plan.items():
        out: dict[str, Any] = {"question": question}
        for side in sides:
            parts = {label: round(statistics.median(times[(question, side, label)]), 2)
                     for label, _, _ in sides[side]}
            out[side] = {"statements": parts, "sum_ms": round(sum(parts.values()), 2)}
        print(json.dumps(out))
    print(json.dumps({"load_average": [round(load, 2), round(os.getloadavg()[0], 2)]}))


if __name__ == "__main__":
    main()
