"""run_metric_summary's by-run projection (migration 0022): a page of runs reads its summaries through it, the
answers are those of the table itself, and a rebuild from the log keeps the layout and the rows."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from query_api.queries.analytics import leaderboard_sql
from query_api.queries.runs import metric_summaries_sql
from tests.integration.conftest import Stack, wait_for

pytestmark = pytest.mark.integration

EXPERIMENT = "summary-by-run-it"
SYNTHETIC = "synthetic-summaries"
WITHOUT_PROJECTIONS = " SETTINGS optimize_use_projections = 0"
# 3,000 runs x 3 keys of summary rows, one block (one part) per call, `shift` moving every value
ROWS = """
INSERT INTO run_metric_summary (experiment_id, key, run_id, last_value, min_value, max_value, sum_value,
                                value_count, point_count, last_step, last_ts, kafka_partition, kafka_offset)
SELECT {experiment:String}, ['loss', 'acc', 'lr'][number % 3 + 1], lower(hex(MD5(toString(intDiv(number, 3))))),
       argMaxState(toFloat64(number % 97) + {shift:Float64},
                   (toInt64(number % 50) + {steps:Int64}, toDateTime64('2026-12-01 00:00:00', 3, 'UTC'),
                    toUInt64(number), toUInt32(0))),
       min(toFloat64(number % 89)), max(toFloat64(number % 83) + {shift:Float64}), sum(toFloat64(number)),
       count(), count(), max(toInt64(number % 50) + {steps:Int64}),
       max(toDateTime64('2026-12-01 00:00:00', 3, 'UTC')), toUInt32(number % 3), max(toUInt64(number))
FROM numbers(9000)
GROUP BY number
"""


def _client(stack: Stack) -> Client:
    return stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined,no-any-return]


def _rows(client: Client, sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in row)
                  for row in client.query(sql, parameters=parameters).result_rows)


def _plan(client: Client, sql: str, parameters: dict[str, Any]) -> str:
    return "\n".join(row[0] for row in client.query(f"EXPLAIN projections = 1 {sql}",
                                                    parameters=parameters).result_rows)


@pytest.fixture(scope="module")
def runs(stack: Stack) -> list[str]:
    """Run ids of a few runs with metrics, sent through Kafka and projected."""
    tracker = stack.tracker()
    ids = []
    for i in range(4):
        with tracker.start_run(EXPERIMENT, f"r{i}", params={"i": i}) as run:
            for step in range(5):
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
                if i % 2:
                    run.log_metric("acc", step * 0.1 + i, step=step)
        ids.append(run.run_id)
    assert tracker.flush(30) == 0
    tracker.close()
    stack.wait_projected()
    return ids


def test_the_table_keeps_its_rows_by_key_and_by_run(stack: Stack) -> None:
    create = _client(stack).command("SHOW CREATE TABLE run_metric_summary")
    assert "ORDER BY (experiment_id, key, run_id, kafka_partition)" in create
    assert "PROJECTION by_run" in create and "index_granularity = 128" in create
    assert "deduplicate_merge_projection_mode = " in create and "rebuild" in create


def test_a_rebuild_from_the_log_keeps_the_layout_and_the_summaries(stack: Stack, runs: list[str]) -> None:
    client = _client(stack)
    create = client.command("SHOW CREATE TABLE run_metric_summary")
    scope = {"experiment_ids": sorted({r[0] for r in client.query(
        "SELECT experiment_id FROM runs WHERE run_id IN {ids:Array(String)}", parameters={"ids": runs}).result_rows}),
        "run_ids": runs}
    before = _rows(client, metric_summaries_sql(False), scope)
    assert len(before) == 6  # 4 runs' loss, 2 runs' acc
    started = stack.api.post("/api/v1/admin/rebuild", json={"only": ["run_metric_summary"]})
    assert started.status_code == 202, started.text
    status = wait_for(functools.partial(_finished, stack), 120, 0.2, "the rebuild to finish")
    assert status["state"] == "done" and "run_metric_summary" in status["tables"], status
    assert client.command("SHOW CREATE TABLE run_metric_summary") == create
    assert _rows(client, metric_summaries_sql(False), scope) == before


def _finished(stack: Stack) -> dict[str, Any] | None:
    status: dict[str, Any] = stack.api.get("/api/v1/admin/rebuild").json()
    return status if status["state"] != "running" else None


def test_a_page_of_runs_reads_its_summaries_by_run_and_answers_as_the_table_does(stack: Stack) -> None:
    client = _client(stack)
    client.command(ROWS, parameters={"experiment": SYNTHETIC, "shift": 0.0, "steps": 0})
    run_ids = sorted(r[0] for r in client.query(
        "SELECT DISTINCT run_id FROM run_metric_summary WHERE experiment_id = {e:String}",
        parameters={"e": SYNTHETIC}).result_rows)
    assert len(run_ids) == 3000
    # 30 runs spread over the experiment: ~40 marks of by_run against the table's ~70 (ClickHouse chooses by marks)
    page = {"experiment_ids": [SYNTHETIC], "run_ids": run_ids[::100]}
    sql = metric_summaries_sql(False)
    assert "ReadFromMergeTree (by_run)" in _plan(client, sql, page)
    expected = _rows(client, sql + WITHOUT_PROJECTIONS, page)
    assert len(expected) == 90 and _rows(client, sql, page) == expected

    # a second block, apart from the first until merged: later steps win the last value, sums add up
    client.command(ROWS, parameters={"experiment": SYNTHETIC, "shift": 1000.0, "steps": 100})
    expected = _rows(client, sql + WITHOUT_PROJECTIONS, page)
    assert all(last >= 1000 for _, _, last, *_ in expected)
    assert _rows(client, sql, page) == expected
    client.command("OPTIMIZE TABLE run_metric_summary FINAL")
    assert "ReadFromMergeTree (by_run)" in _plan(client, sql, page)
    assert _rows(client, sql, page) == expected

    # reads by key still read the table's own order, with the same answer
    ranking = leaderboard_sql("last", descending=False)
    ranked = {"experiment_id": SYNTHETIC, "metric": "loss", "k": 10}
    assert "ReadFromMergeTree (by_run)" not in _plan(client, ranking, ranked)
    assert _rows(client, ranking, ranked) == _rows(client, ranking + WITHOUT_PROJECTIONS, ranked)
