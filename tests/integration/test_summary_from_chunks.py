"""run_metric_summary built from each chunk in memory equals the one SQL definition over the metrics rows, when a
run's points arrive over many chunks, with duplicates, after a crash that left the summary behind, and merged."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from consumers.chunks import RawMessage, prepare_chunk
from consumers.clickhouse import connect
from consumers.derived import OFFSETS, SUMMARY, summary_select
from consumers.migrate import migrate, migrations
from consumers.sink import ClickHouseSink
from consumers.writer import BatchWriter, Tables
from schemas import MetricsLogged, Producer, RunEvent, encode

pytestmark = pytest.mark.integration

PARTITION = 3
AGGREGATES = ("experiment_id, key, run_id, finalizeAggregation(last_value) AS last, last_point.1, last_point.2, "
              "last_point.3, last_point.4, last_point.5, min_value, max_value, "
              "round(sum_value, 6), value_count, point_count, last_step, last_ts, kafka_offset")
FROM_TABLE = f"SELECT {AGGREGATES} FROM run_metric_summary FINAL ORDER BY ALL"
LAST_POINT_DIFFERS = ("SELECT countIf(NOT (last = last_point.5 OR isNaN(last) AND isNaN(last_point.5))) FROM "
                      "(SELECT finalizeAggregation(last_value) AS last, last_point FROM run_metric_summary FINAL)")
# the one SQL definition (what derives the table after a crash), over every metrics row
FROM_POINTS = f"SELECT {AGGREGATES.replace('kafka_offset', 'max_offset')} FROM ({summary_select('1')}) ORDER BY ALL"


def _log(seed: int = 11) -> list[RawMessage]:
    """Metric batches of 6 runs x 3 keys spread over 120 messages (ties, NaN, infinities, repeated steps), with
    some messages sent twice (same event id: a re-sent spool)."""
    rng = random.Random(seed)
    producer = Producer("h", 1, "u", "t")
    raws: list[RawMessage] = []
    sent: list[tuple[bytes, bytes]] = []
    for offset in range(120):
        if sent and rng.random() < 0.1:
            value, key = rng.choice(sent)
        else:
            run = f"{rng.randrange(6):032x}"
            n = rng.randint(1, 300)
            keys = ["loss", "acc", "lr"]
            batch = MetricsLogged(keys, [rng.randrange(3) for _ in range(n)],  # type: ignore[arg-type]
                                  [rng.randint(0, 50) for _ in range(n)], [rng.randint(0, 5) for _ in range(n)],
                                  [rng.choice([math.nan, math.inf, rng.random(), -rng.random()]) for _ in range(n)])
            event = RunEvent(str(uuid.uuid4()), run, "exp", offset + 1, datetime(2026, 1, 1, tzinfo=UTC), producer,
                             batch)
            value, key = encode(event), run.encode()
            sent.append((value, key))
        raws.append((value, key, offset, 1_700_000_000_000))
    return raws


def _database(dsn: str, name: str) -> Client:
    client = connect(dsn, name)
    migrate(client)
    return client


def _rows(client: Client, sql: str) -> list[tuple[Any, ...]]:
    return [tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in client.query(sql).result_rows]


def _apply(writer: BatchWriter, raws: list[RawMessage], chunk: int) -> None:
    for start in range(0, len(raws), chunk):
        writer.apply(writer.screen(prepare_chunk(PARTITION, raws[start:start + chunk], writer.tables.projections)))


def test_summary_rows_from_chunks_equal_the_sql_over_the_points(clickhouse_dsn: str) -> None:
    raws = _log()
    client = _database(clickhouse_dsn, "summary_chunks")
    writer = BatchWriter(ClickHouseSink(client))
    writer.load_positions([PARTITION])
    _apply(writer, raws, chunk=7)  # 18 chunks: every run's points arrive over many of them
    parts = client.query("SELECT count() FROM run_metric_summary").result_rows[0][0]
    groups = client.query("SELECT count() FROM run_metric_summary FINAL").result_rows[0][0]
    assert parts > groups == 18, "one row per (run, key) per chunk, merged by the engine"
    assert _rows(client, FROM_TABLE) == _rows(client, FROM_POINTS)
    assert _rows(client, LAST_POINT_DIFFERS) == [(0,)], "last_point holds the argMax state's point"
    offsets = client.query("SELECT max(kafka_offset), sum(events) FROM event_offsets FINAL").result_rows[0]
    assert offsets == (119, 120), "every message of the log counted once, duplicates included"

    # the same log in one chunk, in another database: the same table
    whole = _database(clickhouse_dsn, "summary_whole")
    other = BatchWriter(ClickHouseSink(whole))
    other.load_positions([PARTITION])
    _apply(other, raws, chunk=len(raws))
    assert _rows(whole, FROM_TABLE) == _rows(client, FROM_TABLE)

    # merged into fewer parts, the states still say the same
    client.command("OPTIMIZE TABLE run_metric_summary FINAL")
    assert _rows(client, FROM_TABLE) == _rows(whole, FROM_TABLE)


def test_a_summary_left_behind_by_a_crash_is_repaired_by_sql_then_follows_the_blocks(clickhouse_dsn: str) -> None:
    raws = _log(seed=5)
    client = _database(clickhouse_dsn, "summary_crash")
    # chunks 1-4 with the summary as usual; chunks 5-7 as if killed after their metrics insert each time
    writer = BatchWriter(ClickHouseSink(client))
    writer.load_positions([PARTITION])
    _apply(writer, raws[:40], chunk=10)
    crashed = BatchWriter(ClickHouseSink(client), Tables(derived=(OFFSETS,)))
    crashed.load_positions([PARTITION])
    _apply(crashed, raws[40:70], chunk=10)
    behind = client.query("SELECT max(kafka_offset) FROM run_metric_summary").result_rows[0][0]
    assert behind < 60, "the summary stands before the crashed chunks"

    restarted = BatchWriter(ClickHouseSink(client))
    assert restarted.load_positions([PARTITION]) == {PARTITION: 69}
    assert restarted.positions[SUMMARY.table][PARTITION] >= 60, "repaired from the points on start"
    _apply(restarted, raws[70:], chunk=10)

    clean = _database(clickhouse_dsn, "summary_clean")
    reference = BatchWriter(ClickHouseSink(clean))
    reference.load_positions([PARTITION])
    _apply(reference, raws, chunk=10)
    assert _rows(client, FROM_TABLE) == _rows(clean, FROM_TABLE) == _rows(client, FROM_POINTS)


def test_migration_0022_rebuilds_the_summary_from_the_points_with_the_same_rows(clickhouse_dsn: str) -> None:
    """0022 refills run_metric_summary from metrics and swaps it in; run again (as after a crash mid-way) over a
    projected table, it leaves the same rows, the argMax states and last_point agreeing."""
    client = _database(clickhouse_dsn, "summary_0022")
    writer = BatchWriter(ClickHouseSink(client))
    writer.load_positions([PARTITION])
    _apply(writer, _log(seed=3), chunk=9)
    before = _rows(client, FROM_TABLE)
    (_, _, statements), = [m for m in migrations() if m[0] == 22]
    for statement in statements:
        client.command(statement)
    assert _rows(client, FROM_TABLE) == before == _rows(client, FROM_POINTS)
    assert _rows(client, LAST_POINT_DIFFERS) == [(0,)]
    tables = client.query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                          "AND name LIKE 'run_metric_summary%'").result_rows
    assert tables == [("run_metric_summary",)]
