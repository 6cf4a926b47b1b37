"""Migration 0025: metrics' experiment_id and run_id become LowCardinality(String), and every row stays."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

import consumers.migrate
from consumers.clickhouse import connect
from consumers.migrate import migrate

pytestmark = pytest.mark.integration

INSERT = ("INSERT INTO metrics SELECT concat('exp', toString(number % 2)), "
          "lower(hex(MD5(toString(intDiv(number, 500))))), concat('m', toString(number % 3)), "
          "intDiv(number, 3) % 1000, toDateTime64(1.7e9 + number / 1000, 3, 'UTC'), sin(number), {part}, number, 0 "
          "FROM numbers({first}, 20000)")
CHECKSUM = ("SELECT count(), sum(cityHash64(toString(experiment_id), toString(run_id), key, step, ts, value, "
            "kafka_partition, kafka_offset, point_index)) FROM metrics")
IDS = "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'metrics' " \
      "AND name IN ('experiment_id', 'run_id') ORDER BY name"


@pytest.fixture
def client(clickhouse_dsn: str) -> Iterator[Client]:
    database = f"it_lowcard_{uuid.uuid4().hex[:8]}"
    client = connect(clickhouse_dsn, database)
    yield client
    client.command(f"DROP DATABASE `{database}` SYNC")
    client.close()


def test_an_old_database_migrated_keeps_every_metric_row(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = consumers.migrate.migrations()
    with monkeypatch.context() as patch:  # the database as it was before 0025
        patch.setattr(consumers.migrate, "migrations", lambda: [m for m in shipped if m[0] < 25])
        migrate(client)
    assert client.query(IDS).result_rows == [("experiment_id", "String"), ("run_id", "String")]
    client.command("SYSTEM STOP MERGES metrics")
    for part in range(3):  # several parts, as a live table has
        client.command(INSERT.format(part=part, first=part * 20000), settings={"optimize_on_insert": 0})
    before = client.query(CHECKSUM).result_rows[0]
    curve = client.query("SELECT step, value FROM metrics WHERE experiment_id = 'exp1' AND key = 'm1' "
                         "AND run_id = {r:String} ORDER BY step", parameters={"r": "c81e728d9d4c2f636f067f89cc14862c"})
    assert curve.result_rows

    client.command("SYSTEM START MERGES metrics")  # the ALTER's mutation runs in the merge pool: it would wait
    assert migrate(client) == ["0025_metrics_lowcardinality_ids.sql"]
    assert client.query(IDS).result_rows == [("experiment_id", "LowCardinality(String)"),
                                             ("run_id", "LowCardinality(String)")]
    assert client.query(CHECKSUM).result_rows[0] == before
    assert client.query("SELECT step, value FROM metrics WHERE experiment_id = 'exp1' AND key = 'm1' "
                        "AND run_id = {r:String} ORDER BY step",
                        parameters={"r": "c81e728d9d4c2f636f067f89cc14862c"}).result_rows == curve.result_rows
    sorting = client.query("SELECT sorting_key, primary_key FROM system.tables WHERE database = currentDatabase() "
                           "AND name = 'metrics'").result_rows[0]
    assert sorting == ("experiment_id, key, run_id, step, kafka_partition, kafka_offset, point_index",
                       "experiment_id, key, run_id, step")
    client.command("OPTIMIZE TABLE metrics FINAL")
    assert client.query(CHECKSUM).result_rows[0] == before
    assert migrate(client) == []  # applied once
    client.command("CREATE TABLE metrics__rebuild AS metrics")  # a replay's shadow takes the new types
    assert client.query(IDS.replace("'metrics'", "'metrics__rebuild'")).result_rows == \
        client.query(IDS).result_rows
