"""consumers.sink.insert_arrow: Arrow blocks handed to embedded ClickHouse without a copy land as
clickhouse-connect's `insert_arrow` lands them, deduplicated by the same token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from consumers.clickhouse import connect
from consumers.sink import INSERT_SETTINGS, embedded, insert_arrow

DDL = """CREATE TABLE {name} (run_id String, key LowCardinality(String), step Array(Int64),
ts Array(DateTime64(3, 'UTC')), value Array(Float64), note Nullable(String), kafka_offset UInt64)
ENGINE = MergeTree ORDER BY (run_id, key) SETTINGS non_replicated_deduplication_window = 100"""


def arrow_rows() -> pa.Table:
    at = datetime(2026, 12, 4, 17, 0, 0, 123000, tzinfo=UTC)
    return pa.table({
        "run_id": ["r1", "r2", ""], "key": ["loss", "größe ✓", ""],
        "step": pa.array([[0, 1, 2], [], [-5]], pa.list_(pa.int64())),
        "ts": pa.array([[at, at, at], [], [datetime(1970, 1, 1, tzinfo=UTC)]], pa.list_(pa.timestamp("ms", "UTC"))),
        "value": pa.array([[0.5, float("nan"), -1e300], [], [2.0**-1074]], pa.list_(pa.float64())),
        "note": [None, "", "x"], "kafka_offset": pa.array([1, 2, 3], pa.uint64())})


def rows(client: Any, table: str) -> list[str]:
    return sorted(repr(r) for r in client.query(
        f"SELECT run_id, key, toString(step), toString(ts), toString(value), note, kafka_offset FROM {table}"
    ).result_rows)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    client = connect(f"chdb://{tmp_path_factory.mktemp('sink-arrow') / 'store'}", "sink_arrow")
    for name in ("theirs", "ours"):
        client.command(DDL.format(name=name))
    return client


def test_the_embedded_path_lands_what_insert_arrow_lands_and_dedups_by_token(client: Any) -> None:
    assert embedded(client)
    settings = {**INSERT_SETTINGS, "insert_deduplication_token": "t:0:1-3"}
    client.insert_arrow("theirs", arrow_rows(), settings=settings)
    insert_arrow(client, "ours", arrow_rows(), settings)
    insert_arrow(client, "ours", arrow_rows(), settings)  # a retry of the same block: deduplicated
    assert rows(client, "ours") == rows(client, "theirs")
    assert len(rows(client, "ours")) == 3


def test_a_client_that_is_not_embedded_keeps_clickhouse_connects_insert_arrow() -> None:
    calls: list[str] = []

    class Remote:
        def insert_arrow(self, table: str, arrow: pa.Table, settings: dict[str, Any]) -> None:
            calls.append(table)

    insert_arrow(Remote(), "metric_chunks", arrow_rows(), {})  # type: ignore[arg-type]
    assert calls == ["metric_chunks"]
