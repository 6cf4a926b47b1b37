"""consumers.sink: the settings each insert carries (no ClickHouse: a client that records them)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from consumers.projections import Block
from consumers.projections.metrics import MetricBlock
from consumers.sink import INSERT_SETTINGS, SMALL_BLOCK_ROWS, SMALL_BLOCK_SETTINGS, ClickHouseSink, PipelinedSink


class RecordingClient:
    def __init__(self) -> None:
        self.inserts: list[tuple[str, dict[str, Any]]] = []

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> SimpleNamespace:
        return SimpleNamespace(result_rows=[("run_id", "String"), ("kafka_offset", "UInt64")])

    def insert(self, table: str, data: Any, **kwargs: Any) -> None:
        self.inserts.append((table, kwargs["settings"]))

    def insert_arrow(self, table: str, arrow: Any, settings: dict[str, Any]) -> None:
        self.inserts.append((table, settings))


class ArrowlessMetricBlock(MetricBlock):
    def __len__(self) -> int:
        return 10
    def to_arrow(self) -> Any:
        return object()

    def to_arrow_in_key_order(self) -> Any:
        return object()


def test_a_small_table_is_inserted_by_one_thread_and_metrics_keep_clickhouses_threads() -> None:
    client = RecordingClient()
    sink = ClickHouseSink(client)  # type: ignore[arg-type]
    small = Block("events", ("run_id", "kafka_offset"))
    small.append("r", 1)
    sink.insert(small, token="t:0:1-1")
    sink.insert(ArrowlessMetricBlock("metrics"), token="t:0:1-1")
    (events, small_settings), (metrics, metric_settings) = client.inserts
    assert (events, metrics) == ("events", "metrics")
    assert small_settings == {**INSERT_SETTINGS, **SMALL_BLOCK_SETTINGS, "insert_deduplication_token": "t:0:1-1"}
    assert small_settings["max_threads"] == 1 and small_settings["max_insert_threads"] == 1
    assert metric_settings == {**INSERT_SETTINGS, "insert_deduplication_token": "t:0:1-1"}
    assert small_settings["async_insert"] == 0 and metric_settings["async_insert"] == 0


def test_a_large_block_of_a_small_table_keeps_clickhouses_threads() -> None:
    client = RecordingClient()
    large = Block("events", ("run_id", "kafka_offset"))
    for offset in range(SMALL_BLOCK_ROWS):  # a replay holds up to 100,000 rows of a table for one insert
        large.append("r", offset)
    ClickHouseSink(client).insert(large, token="t:0:0-9999")  # type: ignore[arg-type]
    (_, settings), = client.inserts
    assert "max_threads" not in settings and "max_insert_threads" not in settings


def test_a_replays_sink_keeps_clickhouses_threads_for_small_blocks() -> None:
    client = RecordingClient()
    sink = PipelinedSink(client)  # type: ignore[arg-type]
    small = Block("events", ("run_id", "kafka_offset"))
    small.append("r", 1)
    try:
        sink.insert(small, token="t:0:1-1")
        sink.flush()
    finally:
        sink.close()
    (_, settings), = client.inserts
    assert settings == {**INSERT_SETTINGS, "insert_deduplication_token": "t:0:1-1"}
