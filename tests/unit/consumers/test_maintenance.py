"""The pure parts of rebuild and verify: which tables, the checksum query, the comparison."""

from __future__ import annotations

import math
import time

import pytest

from consumers.maintenance import Difference, checksum_sql, compare, select_tables


def test_every_table_by_default_and_derived_tables_follow_their_source() -> None:
    assert select_tables(None).names == [
        "experiments", "experiment_changes", "experiment_tags",
        "runs", "params", "tags", "run_state", "artifacts", "inputs", "run_model_inputs", "metric_chunks",
        "logged_models",
        "logged_model_kv",
        "logged_model_metrics", "run_outputs", "logged_model_artifacts", "registry_changes", "alert_rules",
        "alert_firings", "alert_deliveries", "gateway_changes", "events", "run_metric_summary",
        "event_offsets",
    ]
    assert select_tables(["metrics"]).names == ["metric_chunks", "run_metric_summary"]  # the view names its table
    assert select_tables(["run_metric_summary"]).names == ["run_metric_summary"]
    assert select_tables(["tags", "events"]).names == ["tags", "events", "event_offsets"]


def test_unknown_tables_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown table\(s\) 'nope', 'x; DROP': choose among experiments, exp"):
        select_tables(["nope", "x; DROP"])


def test_shadow_tables_are_suffixed_and_a_derived_table_alone_reads_the_live_source() -> None:
    from consumers.writer import Tables

    base = select_tables(["run_metric_summary"])
    tables = Tables(base.projections, base.derived, "__rebuild")
    assert tables.physical("run_metric_summary") == "run_metric_summary__rebuild"
    assert tables.physical("metric_chunks") == "metric_chunks"
    sql = base.derived[0].sql(tables.physical("run_metric_summary"), tables.physical("metric_chunks"))
    assert "INSERT INTO run_metric_summary__rebuild" in sql and "FROM metric_chunks ARRAY JOIN" in sql


def test_checksum_hashes_rows_without_volatile_columns() -> None:
    sql = checksum_sql("events", [("event_id", "UUID"), ("run_id", "String"), ("projected_at", "DateTime64(3)")],
                       final=False)
    assert sql == ("SELECT run_id AS run, count() AS rows, sum(cityHash64(tuple(`event_id`, `run_id`))) AS hash, "
                   "toFloat64(0) AS total FROM `events` GROUP BY run")


def test_checksum_finalizes_aggregates_and_totals_float_sums_apart() -> None:
    columns = [("run_id", "String"), ("last_value", "AggregateFunction(argMax, Float64, Tuple(Int64))"),
               ("sum_value", "SimpleAggregateFunction(sum, Float64)"),
               ("point_count", "SimpleAggregateFunction(sum, UInt64)")]
    sql = checksum_sql("run_metric_summary__verify", columns, final=True)
    assert "tuple(`run_id`, finalizeAggregation(`last_value`), `point_count`)" in sql
    assert "toFloat64(sum(`sum_value`)) AS total" in sql
    assert sql.endswith("FROM `run_metric_summary__verify` FINAL GROUP BY run")


def test_a_table_without_runs_is_compared_as_a_whole() -> None:
    assert "SELECT '' AS run" in checksum_sql("event_offsets", [("kafka_partition", "UInt32")], final=True)


def test_compare_names_each_differing_run_and_tolerates_float_summation_order() -> None:
    live = {"a": (3, 11, 0.1 + 0.2 + 0.3), "b": (2, 5, 0.0), "c": (1, 7, 0.0), "e": (1, 1, math.nan)}
    replayed = {"a": (3, 11, 0.3 + 0.2 + 0.1), "b": (2, 6, 0.0), "d": (4, 1, 0.0), "e": (1, 1, math.nan)}
    assert compare("metrics", live, replayed) == [
        Difference("metrics", "b", 2, 2), Difference("metrics", "c", 1, 0), Difference("metrics", "d", 0, 4),
    ]
    assert compare("metrics", {"a": (1, 1, 1.0)}, {"a": (1, 1, 1.001)}) == [Difference("metrics", "a", 1, 1)]
    assert Difference("metrics", "b", 2, 2).what == "same row count, different contents"
    assert Difference("metrics", "c", 1, 0).what == "1 live row(s), 0 replayed"


def test_verify_streams_large_tables_read_without_final_but_events() -> None:
    from consumers.maintenance import streamed_tables
    from consumers.writer import Tables

    base = select_tables(None)
    tables = Tables(base.projections, base.derived, "__verify")
    counts = dict.fromkeys(tables.names, 5) | {"metric_chunks": 200_000, "events": 300_000, "run_state": 400_000}
    assert streamed_tables(tables, counts) == ["metric_chunks"]  # events is read back, run_state is read FINAL
    assert streamed_tables(tables, counts, min_rows=5) == [
        t for t in tables.names if t not in {"events", "run_state", "run_metric_summary", "event_offsets"}]
    assert streamed_tables(tables, {}) == []


def test_a_source_whose_derived_table_reads_it_back_is_stored() -> None:
    from consumers.derived import SUMMARY, Derived
    from consumers.maintenance import streamed_tables
    from consumers.writer import Tables

    base = select_tables(["metrics"])
    by_sql = Derived(SUMMARY.table, SUMMARY.source, SUMMARY.template)  # no from_block: its SQL reads metrics
    assert streamed_tables(Tables(base.projections, base.derived, "__verify"), {"metric_chunks": 10**6}) \
        == ["metric_chunks"]
    assert streamed_tables(Tables(base.projections, (by_sql,), "__verify"), {"metric_chunks": 10**6}) == []


def test_a_streamed_table_sums_each_inserted_block_as_checksum_sql_would() -> None:
    from consumers.maintenance import compare_sql, streamed_sql, sums_sql

    columns = [("run_id", "String"), ("value", "Float64"), ("projected_at", "DateTime64(3)")]
    create, sums, view = streamed_sql("metrics", "metrics__verify", columns)
    assert create == "CREATE TABLE `metrics__verify` AS `metrics` ENGINE = Null"
    assert sums.startswith("CREATE TABLE `metrics__verify__sums` (run String, rows UInt64, hash UInt64, total Float64)")
    assert "non_replicated_deduplication_window" in sums
    assert view == ("CREATE MATERIALIZED VIEW `metrics__verify__sums_mv` TO `metrics__verify__sums` AS "
                    + checksum_sql("metrics__verify", columns, final=False))
    assert sums_sql("metrics__verify") == ("SELECT run, sum(rows) AS rows, sum(hash) AS hash, sum(total) AS total "
                                           "FROM `metrics__verify__sums` GROUP BY run")
    assert compare_sql("A", "B") == "SELECT 0 AS side, * FROM (A) UNION ALL SELECT 1 AS side, * FROM (B)"



class _Client:
    """Stands for a ClickHouse client: records what it ran and whether it was closed."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.closed = False

    def command(self, sql: str) -> None:
        time.sleep(0.01)  # long enough for the other clients to take tasks too (if they did not, fewer are opened)
        self.ran.append(sql)

    def close(self) -> None:
        self.closed = True


def test_a_jobs_other_ddl_clients_are_opened_once_and_closed_at_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    from consumers import maintenance
    from consumers.settings import ProjectorSettings

    opened: list[_Client] = []

    def open_client(*_: object) -> _Client:
        opened.append(_Client())
        return opened[-1]

    monkeypatch.setattr(maintenance, "open_client", open_client)
    own = _Client()
    job = maintenance.MaintenanceJob("verify", ProjectorSettings(), own)  # type: ignore[arg-type]
    for round_ in range(3):  # creating, comparing, dropping: three calls of a job
        job._side_by_side([[f"SELECT {round_}, {i}"] for i in range(7)])
    assert 1 <= len(opened) <= maintenance.DDL_WORKERS - 1
    assert sorted(sql for c in [own, *opened] for sql in c.ran) == sorted(
        f"SELECT {r}, {i}" for r in range(3) for i in range(7))
    assert not any(c.closed for c in opened)
    job._close_clients()
    assert all(c.closed for c in opened) and not own.closed


def test_a_writer_told_its_tables_are_empty_asks_nothing_of_them() -> None:
    from consumers.writer import BatchWriter

    class NoReads:
        def positions_of(self, *_: object) -> None:
            raise AssertionError("a fresh replay's tables were asked their positions")

    writer = BatchWriter(NoReads())  # type: ignore[arg-type]
    assert writer.load_positions([0, 1], empty=True) == {}
    assert writer.whole == {0, 1} and all(writer.positions[t] == {} for t in writer.tables.names)
    with pytest.raises(AssertionError):
        writer.load_positions([0, 1])
