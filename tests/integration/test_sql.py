"""Read-only analyst SQL against real Kafka and ClickHouse: answers, refusals that change nothing, limits, the CLI."""

from __future__ import annotations

import math
import re
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from clickhouse_connect.driver.exceptions import DatabaseError
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from consumers.clickhouse import open_client
from query_api.queries.sql import SqlLimits
from runstream import cli
from runstream.stack import build_app
from tests.integration.conftest import Stack, free_port, stack_settings, wait_for

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sql.md"
MAX_ROWS = 50
MEMORY = 256 * 1024**2
# (experiment, name, family, lr, batch_size, optimizer, d): val_loss at step s is 1 / (s + d)
RUNS = [
    ("sql-a", "a-transformer", "transformer", "0.01", 32, "adam", 1),
    ("sql-a", "a-lstm", "lstm", "0.1", 64, "sgd", 2),
    ("sql-b", "b-transformer", "transformer", "0.001", 32, "adam", 3),
    ("sql-b", "b-lstm", "lstm", "0.1", 128, "sgd", 4),
]
STEPS = 10
POINTS = len(RUNS) * STEPS + 2  # and b-transformer's train_loss: 0.5, then NaN
OUTFILE, INSERTED = Path("/tmp/runstream-sql-outfile"), Path("/tmp/runstream-sql-insert.csv")


def val_loss(d: int) -> list[float]:
    return [1.0 / (step + d) for step in range(STEPS)]


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, clickhouse_dsn: str) -> Iterator[Stack]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "sql", sql_max_execution_time_s=1.0,
                              sql_max_result_rows=MAX_ROWS, sql_max_memory_bytes=MEMORY)
    with TestClient(build_app(settings)) as api:
        stack = Stack(settings, api)
        tracker = stack.tracker()
        for experiment, name, family, lr, batch_size, optimizer, d in RUNS:
            params = {"lr": lr, "batch_size": batch_size, "optimizer": optimizer}
            with tracker.start_run(experiment, name, params=params, tags={"family": family}) as run:
                for step, value in enumerate(val_loss(d)):
                    run.log_metric("val_loss", value, step=step)
                if name == "b-transformer":
                    run.log_metric("train_loss", 0.5, step=0)
                    run.log_metric("train_loss", math.nan, step=1)
        tracker.close()
        stack.wait_projected()
        yield stack


def sql(stack: Stack, query: str, **extra: object) -> tuple[int, dict[str, Any]]:
    response = stack.api.post("/api/v1/sql", json={"query": query, **extra})
    return response.status_code, response.json()


def ok(stack: Stack, query: str, **extra: object) -> dict[str, Any]:
    status, body = sql(stack, query, **extra)
    assert status == 200, body
    return body


def counts(stack: Stack) -> list[list[int]]:
    return ok(stack, "SELECT (SELECT count() FROM metrics), (SELECT count() FROM runs), (SELECT count() FROM tags), "
                     "(SELECT count() FROM params), (SELECT count() FROM events)")["rows"]


def tables(stack: Stack) -> list[tuple[str, str]]:
    """The database's tables, read around the API with a client of the test's own."""
    client = open_client(stack.settings.store.clickhouse_url, stack.settings.store.clickhouse_database)
    try:
        rows = client.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()").result_rows
        return sorted(rows)
    finally:
        client.close()


def test_a_select_over_the_run_tables_answers_with_values_and_types(stack: Stack) -> None:
    body = ok(stack, "SELECT name, status, start_time, end_time, deleted FROM runs_current ORDER BY name")
    assert body["columns"] == [
        {"name": "name", "type": "Nullable(String)"},
        {"name": "status", "type": "Nullable(String)"},
        {"name": "start_time", "type": "Nullable(DateTime64(6, 'UTC'))"},
        {"name": "end_time", "type": "Nullable(DateTime64(6, 'UTC'))"},
        {"name": "deleted", "type": "UInt8"},
    ]
    assert [row[0] for row in body["rows"]] == sorted(run[1] for run in RUNS)
    for _, status, start, end, deleted in body["rows"]:
        assert status == "FINISHED" and deleted == 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", start) and end >= start
    assert body["row_count"] == len(RUNS) and body["truncated"] is False and body["elapsed_ms"] >= 0

    body = ok(stack, "SELECT key, count() AS n, min(value) AS lo, max(value) AS hi, max(step) AS last "
                     "FROM metrics GROUP BY key ORDER BY key")
    assert [c["type"] for c in body["columns"]] == ["LowCardinality(String)", "UInt64", "Float64", "Float64", "Int64"]
    assert body["rows"] == [["train_loss", 2, 0.5, 0.5, 1], ["val_loss", len(RUNS) * STEPS, 1.0 / 13, 1.0, 9]]

    body = ok(stack, """
        SELECT r.name, argMaxMerge(s.last_value) AS last, min(s.min_value) AS best, sum(s.point_count) AS points,
               max(s.last_step) AS last_step
        FROM run_metric_summary AS s JOIN runs_current AS r USING run_id
        WHERE s.key = 'val_loss' GROUP BY r.name ORDER BY r.name""")
    assert [c["type"] for c in body["columns"]] == ["Nullable(String)", "Float64", "Nullable(Float64)", "UInt64",
                                                    "SimpleAggregateFunction(max, Int64)"]  # a plain Int64 value
    assert body["rows"] == sorted([run[1], val_loss(run[6])[-1], val_loss(run[6])[-1], STEPS, STEPS - 1]
                                  for run in RUNS)


def test_nan_last_values_and_non_finite_floats_come_back_as_documented(stack: Stack) -> None:
    body = ok(stack, "SELECT argMaxMerge(last_value), min(min_value), sum(point_count), sum(value_count) "
                     "FROM run_metric_summary WHERE key = 'train_loss'")
    assert body["rows"] == [["NaN", 0.5, 2, 1]]
    body = ok(stack, "SELECT nan, inf, -inf, CAST(NULL AS Nullable(Float64))")
    assert body["rows"] == [["NaN", "Infinity", "-Infinity", None]]


def test_times_uuids_decimals_and_containers_are_json_safe(stack: Stack) -> None:
    body = ok(stack, "SELECT event_id, event_time FROM events ORDER BY kafka_partition, kafka_offset LIMIT 1")
    event_id, event_time = body["rows"][0]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", event_id)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", event_time)
    body = ok(stack, "SELECT toDecimal64(1.25, 2) AS d, toDate('2026-11-22') AS day, toIPv4('10.0.0.1') AS ip, "
                     "[1, 2] AS a, (1, 'x') AS t, map('k', 1.5) AS m, "
                     "toDateTime64('2026-11-22 12:00:00.5', 3, 'UTC') AS ts, "
                     "toDateTime64('2026-11-22 12:00:00', 0, 'Asia/Tokyo') AS tokyo, "
                     "toUUID('00000000-0000-0000-0000-000000000001') AS u")
    assert body["rows"] == [["1.25", "2026-11-22", "10.0.0.1", [1, 2], [1, "x"], {"k": 1.5},
                             "2026-11-22T12:00:00.500000Z", "2026-11-22T12:00:00+09:00",
                             "00000000-0000-0000-0000-000000000001"]]
    assert [c["type"] for c in body["columns"]][:3] == ["Decimal(18, 2)", "Date", "IPv4"]


@pytest.mark.parametrize(("query", "named"), [
    # writes and DDL
    ("INSERT INTO runs (run_id) VALUES ('x')", "only SELECT"),
    (f"INSERT INTO FUNCTION file('{INSERTED}', 'CSV') SELECT 1", "only SELECT"),
    ("DROP TABLE metrics", "only SELECT"),
    ("DROP DATABASE {db}", "only SELECT"),
    ("CREATE TABLE x (a UInt8) ENGINE = Memory", "only SELECT"),
    ("CREATE TEMPORARY TABLE x (a UInt8)", "only SELECT"),
    ("ALTER TABLE metrics DELETE WHERE 1", "only SELECT"),
    ("TRUNCATE TABLE metrics", "only SELECT"),
    ("OPTIMIZE TABLE metrics FINAL", "only SELECT"),
    ("SYSTEM STOP MERGES", "only SELECT"),
    ("KILL QUERY WHERE 1", "only SELECT"),
    ("SET readonly = 0", "only SELECT"),
    ("USE system", "only SELECT"),
    ("SHOW TABLES", "only SELECT"),
    ("EXPLAIN SELECT 1", "only SELECT"),
    # other databases and system tables, wherever they hide
    ("SELECT * FROM system.tables", "system.tables"),
    ("SELECT count() FROM runs JOIN system.one ON 1", "system.one"),
    ("SELECT count() FROM (SELECT * FROM runs) AS r LEFT JOIN (SELECT dummy FROM system.one) AS o ON 1", "system.one"),
    ("SELECT * FROM runs WHERE run_id IN (SELECT name FROM system.databases)", "system.databases"),
    ("SELECT 0 IN system.one", "system.one"),
    ("SELECT count() FROM runs WHERE seq GLOBAL NOT IN (system.numbers)", "system.numbers"),
    ("WITH x AS (SELECT * FROM system.one) SELECT * FROM x", "system.one"),
    ("SELECT (SELECT count() FROM system.tables) AS n", "system.tables"),
    ("SELECT 1 UNION ALL SELECT dummy FROM system.one", "system.one"),
    ("SELECT 1 INTERSECT SELECT dummy FROM `system`.`one`", "system.one"),
    ("SELECT * FROM INFORMATION_SCHEMA.TABLES", "INFORMATION_SCHEMA.TABLES"),
    ("SELECT * FROM information_schema.tables", "information_schema.tables"),
    ("SELECT * FROM default.t", "default.t"),
    ("SELECT * FROM `{db}.x`.metrics", "not a plain name"),
    ("SELECT * FROM `sys tem`.one", "not a plain name"),
    # table functions and functions that reach outside
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "file"),
    ("SELECT file('/etc/passwd')", "file"),
    ("SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')", "url"),
    ("SELECT * FROM s3('http://127.0.0.1:1/bucket/k.csv', 'CSV', 'a String')", "s3"),
    ("SELECT * FROM remote('127.0.0.1', system.one)", "remote"),
    ("SELECT * FROM merge('system', '^one$')", "merge"),
    ("SELECT * FROM view(SELECT * FROM system.one)", "view()"),
    ("SELECT * FROM (EXPLAIN SYNTAX SELECT 1)", "viewExplain"),
    ("SELECT * FROM generateRandom('a UInt8') LIMIT 1", "generateRandom"),
    ("SELECT hasColumnInTable('system', 'one', 'dummy')", "hasColumnInTable"),
    ("SELECT dictGet('d', 'v', 1)", "dictGet"),
    ("SELECT joinGet('system.one', 'dummy', 0)", "joinGet"),
    ("SELECT getServerSetting('path')", "getServerSetting"),
    ("SELECT logTrace('x')", "logTrace"),
    # column transformers hide their functions from EXPLAIN AST: refused whatever they hold
    ("SELECT * APPLY(x -> file('/proc/self/environ')) FROM (SELECT 1 AS x)", "column transformers"),
    ("SELECT * APPLY(x -> getServerSetting('path')) FROM (SELECT 1 AS x)", "column transformers"),
    ("SELECT * REPLACE(file('/etc/hostname') AS x) FROM (SELECT 1 AS x)", "column transformers"),
    ("SELECT COLUMNS('x') APPLY(x -> file('/etc/hostname')) FROM (SELECT 1 AS x)", "column transformers"),
    ("SELECT t.* APPLY(toString) FROM (SELECT 1 AS x) AS t", "column transformers"),
    ("SELECT * EXCEPT(y) FROM (SELECT 1 AS x, 2 AS y)", "column transformers"),
    # the server fixes the limits and the output
    ("SELECT 1 SETTINGS max_execution_time = 1000", "SETTINGS"),
    ("SELECT count() FROM (SELECT 1 SETTINGS readonly = 0)", "SETTINGS"),
    (f"SELECT 1 INTO OUTFILE '{OUTFILE}'", "OUTFILE"),
    ("SELECT 1 FORMAT CSV", "FORMAT"),
    ("SELECT 1 FORMAT Native", "FORMAT"),
    # one statement only: ClickHouse's own parser says so
    ("SELECT 1; DROP TABLE metrics", "Multi-statements"),
    ("DROP TABLE runs; SELECT 1", "Multi-statements"),
    ("SELECT 1; SELECT 2", "Multi-statements"),
])
def test_refusals_are_400_and_change_nothing(stack: Stack, query: str, named: str) -> None:
    db = stack.settings.store.clickhouse_database
    before, tables_before = counts(stack), tables(stack)
    status, body = sql(stack, query.replace("{db}", db))
    assert status == 400, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert named.replace("{db}", db) in body["message"], body
    assert counts(stack) == before and tables(stack) == tables_before, "nothing was written, dropped or created"
    assert not OUTFILE.exists() and not INSERTED.exists()


@pytest.mark.parametrize("query", [
    "SELECT " + "abs(" * 495 + "1" + ")" * 495,
    "SELECT " + "[" * 495 + "1" + "]" * 495,
    "SELECT " + "(1," * 495 + "1" + ")" * 495,
    "SELECT " + "(" * 495 + "1" + ")" * 495,
])
def test_a_deeply_nested_expression_is_answered_not_a_500(stack: Stack, query: str) -> None:
    status, body = sql(stack, query)
    assert status in (200, 400), body
    assert status == 200 or body["error_code"] == "INVALID_PARAMETER_VALUE"


def test_one_long_block_is_answered_at_the_time_limit(stack: Stack) -> None:
    """ClickHouse checks max_execution_time between blocks; a single 60M-element array expression overran the 1 s
    limit several times over before the answer came. Now the client is answered at the limit (plus a grace)."""
    started = time.monotonic()
    status, body = sql(stack, "SELECT length(arrayMap(x -> x * 2, arrayMap(x -> x + 1, range(60000000))))")
    elapsed = time.monotonic() - started
    assert status == 400 and body["error_code"] == "QUERY_LIMIT_EXCEEDED", body
    assert elapsed < stack.settings.api.sql_max_execution_time_s + 3.0, elapsed
    assert ok(stack, "SELECT 1")["rows"] == [[1]], "the next query runs"


def test_the_data_is_what_was_logged(stack: Stack) -> None:
    """test_refusals compares counts of real data, not of an empty database."""
    events = ok(stack, "SELECT count() FROM events")["rows"][0][0]
    assert counts(stack) == [[POINTS, 2 * len(RUNS), len(RUNS), 3 * len(RUNS), events]] and events > 0


@pytest.mark.parametrize(("query", "error_name"), [
    ("SELEKT 1", "SYNTAX_ERROR"),
    ("SELECT FROM WHERE", "SYNTAX_ERROR"),
    ("SELECT no_such_column FROM runs", "UNKNOWN_IDENTIFIER"),
    ("SELECT * FROM no_such_table", "UNKNOWN_TABLE"),
    ("SELECT {p:String}", "UNKNOWN_QUERY_PARAMETER"),
    ("SELECT throwIf(number = 2, 'stop here') FROM numbers(5)", "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO"),
])
def test_bad_sql_is_a_400_with_clickhouses_message(stack: Stack, query: str, error_name: str) -> None:
    status, body = sql(stack, query)
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert error_name in body["message"] and re.search(r"Code: \d+\.", body["message"]), body


def test_an_aggregate_state_asks_to_be_finalized(stack: Stack) -> None:
    status, body = sql(stack, "SELECT last_value FROM run_metric_summary LIMIT 1")
    assert status == 400 and "argMaxMerge(last_value)" in body["message"], body


def test_comments_a_trailing_semicolon_and_odd_column_aliases_are_fine(stack: Stack) -> None:
    body = ok(stack, "-- how many runs?\nSELECT count() /* all of them */ AS `runs.count (all)` FROM runs_current;")
    assert body["rows"] == [[len(RUNS)]] and body["columns"][0]["name"] == "runs.count (all)"


def test_the_limits_are_the_ones_clickhouse_runs_with(stack: Stack) -> None:
    body = ok(stack, "SELECT getSetting('readonly'), getSetting('max_execution_time'), getSetting('max_result_rows'),"
                     " getSetting('result_overflow_mode'), getSetting('max_memory_usage')", max_rows=7)
    assert body["rows"] == [[1, 1.0, 8, "break", MEMORY]]


def test_clickhouse_itself_refuses_writes_and_outside_reads_under_these_settings(stack: Stack) -> None:
    """Below the AST check: with the route's settings, ClickHouse's own readonly=1 refuses (chdb 26.9)."""
    settings = SqlLimits(5.0, 10, MEMORY).settings(10)
    client = open_client(stack.settings.store.clickhouse_url, stack.settings.store.clickhouse_database)
    try:
        for query in ["SELECT * FROM file('/etc/hostname', 'LineAsString')",
                      "SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')",
                      "SELECT * FROM remote('127.0.0.1:1', system.one)",
                      "SELECT 1 SETTINGS max_execution_time = 1000"]:
            with pytest.raises(DatabaseError) as raised:
                client.query(query, settings=settings)
            assert raised.value.name == "READONLY", (query, raised.value)
    finally:
        client.close()
    before = tables(stack)
    for statement in ["INSERT INTO tags (run_id, key, value) VALUES ('x', 'k', 'v')", "DROP TABLE tags",
                      "CREATE TABLE x (a UInt8) ENGINE = Memory", "ALTER TABLE tags DELETE WHERE 1",
                      "TRUNCATE TABLE tags", "OPTIMIZE TABLE tags FINAL"]:
        # A throwaway client each: command() applies settings with SET, and readonly=1 cannot be undone.
        client = open_client(stack.settings.store.clickhouse_url, stack.settings.store.clickhouse_database)
        try:
            with pytest.raises(DatabaseError) as raised:
                client.command(statement, settings={"readonly": 1})
            assert raised.value.name == "READONLY", (statement, raised.value)
        finally:
            client.close()
    assert tables(stack) == before and counts(stack)[0][2] == len(RUNS)


def test_a_query_over_the_time_limit_is_stopped_and_the_api_still_answers(stack: Stack) -> None:
    for query in ["SELECT sum(sipHash64(number)) FROM numbers(100000000000)",
                  # the first branch's block goes out before the second times out: on a shared chdb handle the
                  # next query would read garbage
                  "SELECT toUInt64(1) AS x UNION ALL SELECT sum(sipHash64(number)) FROM numbers(100000000000)",
                  "SELECT sleepEachRow(0.5) FROM numbers(5)"]:
        started = time.monotonic()
        status, body = sql(stack, query)
        assert status == 400 and body["error_code"] == "QUERY_LIMIT_EXCEEDED", body
        assert "TIMEOUT_EXCEEDED" in body["message"], body
        assert time.monotonic() - started < 10
        assert stack.api.get("/api/v1/experiments").status_code == 200
        assert ok(stack, "SELECT count() FROM runs_current")["rows"] == [[len(RUNS)]]


def test_a_query_over_the_memory_limit_is_stopped(stack: Stack) -> None:
    status, body = sql(stack, "SELECT groupArray(number) FROM numbers(200000000)")
    assert status == 400 and body["error_code"] == "QUERY_LIMIT_EXCEEDED", body
    assert "MEMORY_LIMIT_EXCEEDED" in body["message"], body


def test_rows_are_capped_and_truncation_reported(stack: Stack) -> None:
    body = ok(stack, "SELECT number FROM numbers(1000)")
    assert body["row_count"] == MAX_ROWS and body["truncated"] is True and body["rows"][-1] == [MAX_ROWS - 1]
    body = ok(stack, "SELECT number FROM numbers(1000)", max_rows=5)
    assert body["rows"] == [[0], [1], [2], [3], [4]] and body["truncated"] is True
    body = ok(stack, "SELECT number FROM numbers(5)", max_rows=5)
    assert body["row_count"] == 5 and body["truncated"] is False
    body = ok(stack, "SELECT number FROM numbers(1000)", max_rows=10_000)  # never above the server's limit
    assert body["row_count"] == MAX_ROWS and body["truncated"] is True
    body = ok(stack, "SELECT * FROM metrics", max_rows=3)
    assert body["row_count"] == 3 and body["truncated"] is True


def test_the_row_limit_cuts_the_answer_not_the_subqueries(stack: Stack) -> None:
    body = ok(stack, "SELECT count() FROM (SELECT number FROM numbers(100000))", max_rows=1)
    assert body["rows"] == [[100000]] and body["truncated"] is False
    body = ok(stack, "SELECT count() FROM numbers(100000) WHERE number IN (SELECT number FROM numbers(1000))",
              max_rows=1)
    assert body["rows"] == [[1000]]
    body = ok(stack, "SELECT count() FROM metrics AS m JOIN (SELECT run_id FROM runs) AS r USING run_id", max_rows=1)
    assert body["rows"] == [[2 * POINTS]]  # every run has two rows in runs


def test_a_parameterized_view_of_the_database_is_a_table(stack: Stack) -> None:
    client = open_client(stack.settings.store.clickhouse_url, stack.settings.store.clickhouse_database)
    try:
        client.command("CREATE VIEW IF NOT EXISTS sql_test_points AS SELECT run_id, step, value FROM metrics "
                       "WHERE key = 'val_loss' AND step <= {upto:Int64}")
    finally:
        client.close()
    db = stack.settings.store.clickhouse_database
    assert ok(stack, "SELECT count() FROM sql_test_points(upto = 1)")["rows"] == [[2 * len(RUNS)]]
    assert ok(stack, f"SELECT count() FROM {db}.sql_test_points(upto = 0)")["rows"] == [[len(RUNS)]]
    status, body = sql(stack, "SELECT count() FROM system.sql_test_points(upto = 0)")
    assert status == 400 and "system.sql_test_points" in body["message"], body


def doc_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)


def test_every_query_of_the_docs_runs(stack: Stack) -> None:
    queries = doc_queries()
    assert len(queries) == 7
    for query in queries:
        assert ok(stack, query)["row_count"] > 0, query


def test_the_worked_questions_answer_them(stack: Stack) -> None:
    best, batch, families = (ok(stack, q)["rows"] for q in doc_queries()[:3])
    # the best final val_loss is b-lstm's 1/13, with lr 0.1 and sgd like a-lstm (1/11)
    assert best[0][:4] == ["0.1", "sgd", 2, 1.0 / 13]
    assert [row[:2] for row in best] == [["0.1", "sgd"], ["0.001", "adam"], ["0.01", "adam"]]
    assert [row[:3] for row in batch] == [["sql-a", 32, 1], ["sql-a", 64, 1], ["sql-b", 32, 1], ["sql-b", 128, 1]]
    assert all(row[3] >= 0 for row in batch)
    lstm, transformer = (val_loss(2)[-1], val_loss(4)[-1]), (val_loss(1)[-1], val_loss(3)[-1])
    assert families == [
        ["lstm", 2, pytest.approx(sum(lstm) / 2), 1.0 / 13, 2 * STEPS],
        ["transformer", 2, pytest.approx(sum(transformer) / 2), 1.0 / 12, 2 * STEPS],
    ]


def test_the_grouped_examples_aggregate_across_seeds(stack: Stack) -> None:
    configs, curves = (ok(stack, q)["rows"] for q in doc_queries()[4:6])
    sgd = [val_loss(2)[-1], val_loss(4)[-1]]  # lr 0.1 with sgd: two runs, the "seeds" of one configuration
    # ranked by the mean final val_loss: 1/12 (one run), (1/11 + 1/13) / 2, 1/10 (one run)
    assert [row[:3] for row in configs] == [["0.001", "adam", 1], ["0.1", "sgd", 2], ["0.01", "adam", 1]]
    assert configs[1][3:6] == [pytest.approx(sum(sgd) / 2), pytest.approx(statistics.stdev(sgd)),
                               pytest.approx(sum(sgd) / 2)]
    assert configs[0][4] is None and configs[2][4] is None, "one run has no sample std"
    # 10 steps, fewer than 100 buckets: one bucket per step, and lr 0.1's runs meet in each
    lr01 = [row for row in curves if row[0] == "0.1"]
    assert [row[2] for row in lr01] == list(range(STEPS)) and {row[3] for row in lr01} == {2}
    assert lr01[0][4:] == [pytest.approx((0.5 + 0.25) / 2), pytest.approx(statistics.stdev([0.5, 0.25]))]


@pytest.fixture(scope="module")
def server(stack: Stack) -> Iterator[int]:
    """The same database behind a real port, for the `runstream sql` command (no second projector)."""
    port = free_port()
    settings = stack.settings.updated(run_projector=False, api_port=port)
    server = uvicorn.Server(uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, what="the API to listen")
    yield port
    server.should_exit = True
    thread.join(15)


def run_cli(port: int, *args: str) -> Any:
    env = {"RUNSTREAM_API_HOST": "127.0.0.1", "RUNSTREAM_API_PORT": str(port)}
    return CliRunner().invoke(cli.app, ["sql", *args], env=env)


def test_the_sql_command_prints_an_aligned_table(server: int) -> None:
    result = run_cli(server, "SELECT name, status FROM runs_current ORDER BY name")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "status"] and set(lines[1]) <= {"-", " "}
    assert [line.split() for line in lines[2:-1]] == [[name, "FINISHED"] for name in sorted(r[1] for r in RUNS)]
    assert lines[2].index("FINISHED") == lines[0].index("status"), "columns are aligned"
    assert lines[-1].startswith(f"{len(RUNS)} row(s) in ")
    result = run_cli(server, "--json", "--max-rows", "2", "SELECT number FROM numbers(10)")
    assert result.exit_code == 0, result.output
    assert '"truncated": true' in result.stdout and '"row_count": 2' in result.stdout


def test_the_sql_command_fails_with_the_servers_message(server: int) -> None:
    result = run_cli(server, "DROP TABLE metrics")
    assert result.exit_code == 1
    assert "INVALID_PARAMETER_VALUE" in result.stderr and "only SELECT" in result.stderr
    result = run_cli(free_port(), "SELECT 1")
    assert result.exit_code != 0 and "no runstream server answers" in result.stderr
