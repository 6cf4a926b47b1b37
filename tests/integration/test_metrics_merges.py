"""Migrations 0023 and 0024, carried into metric_chunks by 0027: merges of the metric points wait for more parts,
run vertically, and keep every row as the horizontal merge does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse import connect
from consumers.migrate import migrate

pytestmark = pytest.mark.integration

ROWS = 150_000  # above vertical_merge_algorithm_min_rows_to_activate (131,072): a merge this size goes vertical
INSERT = ("INSERT INTO {table} SELECT 'exp', lower(hex(MD5(toString(intDiv(number, 300))))), "
          "concat('m', toString(number % 3)), intDiv(number, 3) % 100 * 10, {part}, number, "
          "arrayMap(i -> intDiv(number, 3) % 100 * 10 + i, range(10)), "
          "arrayMap(i -> toDateTime64(1.7e9 + (number * 10 + i) / 1000, 3, 'UTC'), range(10)), "
          "arrayMap(i -> sin(number * 10 + i), range(10)), arrayMap(i -> toUInt32(i), range(10)) "
          "FROM numbers({first}, {rows})")
CHECKSUM = ("SELECT count(), sum(cityHash64(experiment_id, run_id, key, first_step, kafka_partition, kafka_offset, "
            "step, ts, value, point_index)) FROM {table}")


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
    client.command("CREATE TABLE horizontal AS metric_chunks")
    client.command("ALTER TABLE horizontal MODIFY SETTING vertical_merge_algorithm_min_columns_to_activate = 11")
    assert _merged(client, "metric_chunks") == _merged(client, "horizontal")
    # chdb keeps no system.part_log to name the algorithm a merge used: the setting is read from the table, and
    # a rebuild's shadow table (CREATE TABLE ... AS metric_chunks) carries it into the table it swaps in
    client.command("CREATE TABLE metric_chunks__rebuild AS metric_chunks")
    engines = dict(client.query("SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() "
                                "AND name IN ('metric_chunks', 'metric_chunks__rebuild', 'horizontal')").result_rows)
    assert "vertical_merge_algorithm_min_columns_to_activate = 1" in engines["metric_chunks"]
    assert "vertical_merge_algorithm_min_columns_to_activate = 1" in engines["metric_chunks__rebuild"]
    assert "vertical_merge_algorithm_min_columns_to_activate = 11" in engines["horizontal"]


def test_metrics_waits_for_more_parts_before_merging(client: Client) -> None:
    """Migrations 0023 and 0027: the merge selector's base is 10 on metric_chunks (each point rewritten fewer times
    while a sweep is ingested), and a rebuild's shadow table carries it."""
    client.command("CREATE TABLE metric_chunks__rebuild AS metric_chunks")
    engines = dict(client.query("SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() "
                                "AND name IN ('metric_chunks', 'metric_chunks__rebuild')").result_rows)
    assert "merge_selector_base = 10" in engines["metric_chunks"]
    assert "merge_selector_base = 10" in engines["metric_chunks__rebuild"]
