"""Migration 0029: a small part is one `data.packed` file, a large one keeps a file per stream, and both read, merge
and carry into a rebuild's shadow table like the full storage they replace."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse import connect
from consumers.migrate import migrate

pytestmark = pytest.mark.integration

INSERT = ("INSERT INTO {table} SELECT 'exp', lower(hex(MD5(toString(intDiv(number, 300))))), "
          "concat('m', toString(number % 3)), intDiv(number, 3) % 100 * 10, 0, {first} + number, "
          "arrayMap(i -> intDiv(number, 3) % 100 * 10 + i, range(10)), "
          "arrayMap(i -> toDateTime64(1.7e9 + (number * 10 + i) / 1000, 3, 'UTC'), range(10)), "
          "arrayMap(i -> sin(number * 10 + i), range(10)), arrayMap(i -> toUInt32(i), range(10)) "
          "FROM numbers({rows})")
CHECKSUM = ("SELECT count(), sum(cityHash64(experiment_id, run_id, key, first_step, kafka_partition, kafka_offset, "
            "step, ts, value, point_index)) FROM {table}")
PARTS = ("SELECT part_storage_type, rows FROM system.parts WHERE database = currentDatabase() AND table = {t:String} "
         "AND active ORDER BY min_block_number")


@pytest.fixture
def client(clickhouse_dsn: str) -> Iterator[Client]:
    database = f"it_packed_{uuid.uuid4().hex[:8]}"
    client = connect(clickhouse_dsn, database)
    migrate(client)
    if not client.query("SELECT count() FROM system.columns WHERE database = 'system' AND table = 'parts' "
                        "AND name = 'part_storage_type'").result_rows[0][0]:
        pytest.skip("this ClickHouse has no packed part storage (0029 is a no-op there)")
    yield client
    client.command(f"DROP DATABASE `{database}` SYNC")
    client.close()


def test_small_parts_are_packed_large_ones_full_and_both_read_and_merge_alike(client: Client) -> None:
    client.command("CREATE TABLE full_storage AS metric_chunks")
    client.command("ALTER TABLE full_storage MODIFY SETTING min_bytes_for_full_part_storage = 0")
    for table in ("metric_chunks", "full_storage"):
        client.command(f"SYSTEM STOP MERGES {table}")
        client.command(INSERT.format(table=table, first=0, rows=3_000), settings={"optimize_on_insert": 0})
        client.command(INSERT.format(table=table, first=3_000, rows=150_000), settings={"optimize_on_insert": 0})
    # 3,000 rows (~1 MB uncompressed) are under 0029's 16 MiB: one file; 150,000 rows (~50 MB) keep a file each
    assert client.query(PARTS, parameters={"t": "metric_chunks"}).result_rows == [("Packed", 3_000), ("Full", 150_000)]
    assert client.query(PARTS, parameters={"t": "full_storage"}).result_rows == [("Full", 3_000), ("Full", 150_000)]
    before = client.query(CHECKSUM.format(table="full_storage")).result_rows[0]
    assert client.query(CHECKSUM.format(table="metric_chunks")).result_rows[0] == before
    for table in ("metric_chunks", "full_storage"):
        client.command(f"SYSTEM START MERGES {table}")
        client.command(f"OPTIMIZE TABLE {table} FINAL")
        assert client.query(CHECKSUM.format(table=table)).result_rows[0] == before
    assert [kind for kind, _ in client.query(PARTS, parameters={"t": "metric_chunks"}).result_rows] == ["Full"]


def test_the_small_tables_write_packed_parts_and_a_rebuild_shadow_keeps_the_setting(client: Client) -> None:
    client.command("INSERT INTO event_offsets (kafka_partition, kafka_offset, events, dead_letters) "
                   "VALUES (0, 5, 6, 0)")
    assert client.query(PARTS, parameters={"t": "event_offsets"}).result_rows == [("Packed", 1)]
    assert client.query("SELECT kafka_offset, events FROM event_offsets").result_rows == [(5, 6)]
    client.command("CREATE TABLE event_offsets__rebuild AS event_offsets")  # how a rebuild makes its shadows
    client.command("INSERT INTO event_offsets__rebuild (kafka_partition, kafka_offset, events, dead_letters) "
                   "VALUES (1, 7, 8, 0)")
    assert client.query(PARTS, parameters={"t": "event_offsets__rebuild"}).result_rows == [("Packed", 1)]
