"""Migration 0026 on embedded ClickHouse (chdb://memory): merges write no column statistics into the tables the
projector writes, nor into a rebuild's shadow of them (a table set back to ClickHouse's default still gets them, so
the check can see them)."""

from __future__ import annotations

import uuid

import clickhouse_connect

from consumers.migrate import migrate


def test_merged_parts_carry_no_automatic_statistics_after_migration_0026() -> None:
    database = f"autostats_{uuid.uuid4().hex[:8]}"
    client = clickhouse_connect.get_client(dsn="chdb://memory")
    client.command(f"CREATE DATABASE {database}")
    client.command(f"USE {database}")
    try:
        assert "0026_no_auto_statistics.sql" in migrate(client)
        client.command("CREATE TABLE events__rebuild AS events")  # a rebuild's shadow carries the setting
        shadow = client.query("SELECT engine_full FROM system.tables WHERE database = currentDatabase() "
                              "AND name = 'events__rebuild'").result_rows[0][0]
        assert "auto_statistics_types = ''" in shadow
        client.command("CREATE TABLE with_statistics AS events")
        client.command("ALTER TABLE with_statistics MODIFY SETTING auto_statistics_types = 'basic, uniq_v2'")
        for table in ("events", "with_statistics"):
            for first in (0, 100):
                client.command(f"INSERT INTO {table} (event_id, run_id, experiment_id, seq, event_type, "
                               "kafka_partition, kafka_offset) SELECT generateUUIDv4(), toString(number), 'e', 1, "
                               f"'RunStarted', 0, number + {first} FROM numbers(10)")
            client.command(f"OPTIMIZE TABLE {table} FINAL")
        rows = client.query(
            "SELECT table, groupUniqArrayArray(statistics) FROM system.parts_columns "
            "WHERE database = currentDatabase() AND active AND table IN ('events', 'with_statistics') GROUP BY table"
        ).result_rows
        assert {table: sorted(kinds) for table, kinds in rows} == {"events": [],
                                                                    "with_statistics": ["Basic", "UniqV2"]}
    finally:
        client.command(f"DROP DATABASE {database}")
        client.close()
