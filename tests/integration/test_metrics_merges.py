"""Migrations 0023 and 0024: merges of metrics wait for more parts, run vertically, and keep every row as the
horizontal merge does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse import connect
from consumers.migrate import migrate

pytestmark = pytest.mark.integration

ROWS = 300_000  # above vertical_merge_algorithm_min_rows_to_activate (131,072): a merge this size goes vertical
INSERT = ("INSERT INTO {table} SELECT 'exp', lower(hex(MD5(toString(intDiv(number, 3000))))), "
          "concat('m', toString(number % 3)), intDiv(number, 3) % 1000, toDateTime64(1.7e9 + number / 1000, 3, 'UTC'), "
          "sin(number), {part}, number, 0 FROM numbers({first}, {rows})")
CHECKSUM = ("SELECT count(), sum(cityHash64(experiment_id, run_id, key, step, ts, value, kafka_partition, "
            "kafka_offset, point_index)) FROM {table}")


@pytest.fixture
def client(clickhouse_dsn: str) -> Iterator[Client]:
    database = f"it_merges_{uuid.uuid4().hex[:8]}"
    client = connect(clickhouse_dsn, database)
    migrate(client)
    yield client
    client.command(f"DROP DATABASE `{database}` SYNC")
    client.close()


def _merged(client: Client, table: str) -> tuple[int, int]:
    client.command(f"SYSTEM STOP MERGES {table}")
    for part in range(3):
        client.command(INSERT.format(table=table, part=part, first=part * ROWS, rows=ROWS),
                       settings={"optimize_on_insert": 0})
    client.command(f"SYSTEM START MERGES {table}")
    client.command(f"OPTIMIZE TABLE {table} FINAL")
    assert client.query("SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = {t:String} "
                        "AND active", parameters={"t": table}).result_rows[0][0] == 1
    count, hash_ = client.query(CHECKSUM.format(table=table)).result_rows[0]
    return int(count), int(hash_)


def test_metrics_merge_vertically_with_the_rows_a_horizontal_merge_keeps(client: Client) -> None:
    client.command("CREATE TABLE horizontal AS metrics")
    client.command("ALTER TABLE horizontal MODIFY SETTING vertical_merge_algorithm_min_columns_to_activate = 11")
    assert _merged(client, "metrics") == _merged(client, "horizontal")
    # chdb keeps no system.part_log to name the algorithm a merge used: the setting is read from the table, and
    # a rebuild's shadow table (CREATE TABLE ... AS metrics) carries it into the table it swaps in
    client.command("CREATE TABLE metrics__rebuild AS metrics")
    engines = dict(client.query("SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() "
                                "AND name IN ('metrics', 'metrics__rebuild', 'horizontal')").result_rows)
    assert "vertical_merge_algorithm_min_columns_to_activate = 1" in engines["metrics"]
    assert "vertical_merge_algorithm_min_columns_to_activate = 1" in engines["metrics__rebuild"]
    assert "vertical_merge_algorithm_min_columns_to_activate = 11" in engines["horizontal"]


def test_metrics_waits_for_more_parts_before_merging(client: Client) -> None:
    """Migration 0023: the merge selector's base is 10 on metrics (each point rewritten fewer times while a sweep
    is ingested), and a rebuild's shadow table carries it."""
    client.command("CREATE TABLE metrics__rebuild AS metrics")
    engines = dict(client.query("SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() "
                                "AND name IN ('metrics', 'metrics__rebuild')").result_rows)
    assert "merge_selector_base = 10" in engines["metrics"]
    assert "merge_selector_base = 10" in engines["metrics__rebuild"]
