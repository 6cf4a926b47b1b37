"""Read-only analyst SQL: answers over the run tables, refusals for everything else, limits enforced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from query_api.app import create_app
from tests.integration.conftest import Stack, stack_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, clickhouse_dsn: str) -> Iterator[Stack]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "sql", sql_max_execution_time_s=1.0,
                              sql_max_result_rows=50)
    with TestClient(create_app(settings)) as api:
        stack = Stack(settings, api)
        tracker = stack.tracker()
        for i, family in enumerate(["transformer", "lstm", "transformer"]):
            with tracker.start_run("sql-it", f"r{i}", params={"batch_size": 32 * (i + 1)},
                                   tags={"family": family}) as run:
                for step in range(10):
                    run.log_metric("val_loss", 1.0 / (step + 1 + i), step=step)
        tracker.close()
        stack.wait_projected()
        yield stack


def sql(stack: Stack, query: str, **extra: object) -> tuple[int, dict]:
    response = stack.api.post("/api/v1/sql", json={"query": query, **extra})
    return response.status_code, response.json()


def test_a_select_answers_with_columns_types_and_rows(stack: Stack) -> None:
    status, body = sql(stack, """
        SELECT t.value AS family, count() AS runs, min(s.v) AS best
        FROM (SELECT run_id, argMaxMerge(last_value) AS v FROM run_metric_summary WHERE key = 'val_loss'
              GROUP BY run_id) AS s
        JOIN tags AS t ON t.run_id = s.run_id AND t.key = 'family'
        GROUP BY family ORDER BY family""")
    assert status == 200, body
    assert [c["name"] for c in body["columns"]] == ["family", "runs", "best"]
    assert body["columns"][1]["type"] == "UInt64"
    assert body["rows"] == [["lstm", 1, 1.0 / 11], ["transformer", 2, 1.0 / 12]]
    assert body["row_count"] == 2 and body["truncated"] is False


def test_times_and_uuids_come_back_as_text(stack: Stack) -> None:
    status, body = sql(stack, "SELECT event_id, event_time FROM runstream_placeholder.events LIMIT 1".replace(
        "runstream_placeholder", stack.settings.clickhouse_database))
    assert status == 200, body
    event_id, event_time = body["rows"][0]
    assert len(event_id) == 36 and "T" in event_time


@pytest.mark.parametrize(("query", "named"), [
    ("INSERT INTO runs (run_id) VALUES ('x')", "only SELECT"),
    ("DROP TABLE metrics", "only SELECT"),
    ("CREATE TABLE x (a UInt8) ENGINE = Memory", "only SELECT"),
    ("ALTER TABLE metrics DELETE WHERE 1", "only SELECT"),
    ("TRUNCATE TABLE metrics", "only SELECT|bad SQL"),
    ("SYSTEM STOP MERGES", "only SELECT|bad SQL"),
    ("SET readonly = 0", "only SELECT|bad SQL"),
    ("SELECT * FROM system.tables", "system.tables"),
    ("SELECT count() FROM runs JOIN system.one ON 1", "system.one"),
    ("SELECT * FROM runs WHERE run_id IN (SELECT name FROM system.databases)", "system.databases"),
    ("SELECT * FROM default.t", "default.t"),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "file"),
    ("SELECT file('/etc/passwd')", "file"),
    ("SELECT * FROM url('http://127.0.0.1:1/', 'CSV')", "url"),
    ("SELECT * FROM remote('127.0.0.1', system.one)", "remote"),
    ("SELECT 1 SETTINGS max_execution_time = 1000", "SETTINGS"),
    ("SELECT 1 INTO OUTFILE '/tmp/runstream-sql-test'", "OUTFILE"),
    ("SELECT 1 FORMAT CSV", "FORMAT"),
    ("SELECT 1; DROP TABLE metrics", "Multi-statements"),
    ("DROP TABLE runs; SELECT 1", "Multi-statements"),
    ("EXPLAIN AST SELECT 1; DROP TABLE runs", "Multi-statements"),
    ("SELEKT 1", "bad SQL"),
    ("SELECT no_such_column FROM runs", "failed"),
])
def test_refusals_are_400_and_change_nothing(stack: Stack, query: str, named: str) -> None:
    status, body = sql(stack, query)
    assert status == 400, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert any(n in body["message"] for n in named.split("|")), body
    status, body = sql(stack, "SELECT count() FROM metrics")
    assert body["rows"] == [[30]], "nothing was dropped or changed"
    status, body = sql(stack, "SELECT count() FROM runs")
    assert body["rows"] == [[6]]


def test_a_query_over_the_time_limit_is_stopped(stack: Stack) -> None:
    status, body = sql(stack, "SELECT sum(sipHash64(number)) FROM numbers(100000000000)")
    assert status == 400 and body["error_code"] == "QUERY_LIMIT_EXCEEDED", body
    assert "TIMEOUT_EXCEEDED" in body["message"] or "Timeout" in body["message"]


def test_rows_are_capped_and_truncation_reported(stack: Stack) -> None:
    status, body = sql(stack, "SELECT number FROM numbers(1000)")
    assert status == 200 and body["row_count"] == 50 and body["truncated"] is True
    status, body = sql(stack, "SELECT number FROM numbers(1000)", max_rows=5)
    assert body["rows"] == [[0], [1], [2], [3], [4]] and body["truncated"] is True
    status, body = sql(stack, "SELECT number FROM numbers(3)", max_rows=5)
    assert body["row_count"] == 3 and body["truncated"] is False
