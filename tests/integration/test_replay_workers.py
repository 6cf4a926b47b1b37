"""A replay's inserts: held small-table rows, two insert workers with a client each, merges paused until the swap."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse import connect, open_client
from consumers.errors import SinkError
from consumers.maintenance import MaintenanceJob
from consumers.projections import metrics
from consumers.projections.base import Block, LoggedEvent, Projection
from consumers.sink import PipelinedSink
from schemas import ParamsLogged
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

COLUMNS = ("run_id", "kafka_partition", "kafka_offset")


@pytest.fixture
def clients(clickhouse_dsn: str) -> Iterator[tuple[Client, Client]]:
    database = f"it_sink_{uuid.uuid4().hex[:8]}"
    first = connect(clickhouse_dsn, database)
    second = open_client(clickhouse_dsn, database)
    first.command("CREATE TABLE points (run_id String, kafka_partition UInt32, kafka_offset UInt64) "
                  "ENGINE = MergeTree ORDER BY (run_id, kafka_offset)")
    first.command("CREATE TABLE refusing (run_id String, kafka_partition UInt32, kafka_offset UInt64, "
                  "CONSTRAINT nothing CHECK kafka_offset < 0) ENGINE = MergeTree ORDER BY kafka_offset")
    yield first, second
    second.close()
    first.command(f"DROP DATABASE `{database}` SYNC")
    first.close()


def _block(table: str, offsets: range) -> Block:
    block = Block(table, COLUMNS)
    for offset in offsets:
        block.append(f"run-{offset % 3}", 0, offset)
    return block


def test_held_rows_are_inserted_together_before_anything_reads_the_table(clients: tuple[Client, Client]) -> None:
    first, second = clients
    sink = PipelinedSink(first, retries=0, hold_rows=1_000, more_clients=[second])
    try:
        for i in range(10):
            sink.insert(_block("points", range(3 * i, 3 * i + 3)), token=f"group-{i}")
        assert sink.positions("points", [0]) == {0: 29}
    finally:
        sink.close()
    assert first.query("SELECT count(), uniqExact(kafka_offset) FROM points").result_rows == [(30, 30)]
    parts = first.query("SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'points' "
                        "AND active").result_rows[0][0]
    assert parts == 1, "ten groups' rows went in as one insert"


@pytest.mark.parametrize("failing", [0, 1, 4])
def test_an_insert_failing_on_either_worker_is_raised_by_the_next_call(clients: tuple[Client, Client],
                                                                        failing: int) -> None:
    first, second = clients
    sink = PipelinedSink(first, retries=0, hold_rows=0, more_clients=[second])  # every block queued at once
    try:
        for i in range(6):
            table = "refusing" if i == failing else "points"
            sink.insert(_block(table, range(100 * i, 100 * i + 50)), token=f"group-{i}")
        with pytest.raises(SinkError, match="insert into refusing failed 1 times"):
            sink.flush()
        with pytest.raises(SinkError, match="insert into refusing"):
            sink.insert(_block("points", range(1_000, 1_001)), token="after")
        with pytest.raises(SinkError, match="insert into refusing"):
            sink.positions("points", [0])
    finally:
        sink.close()


def _sweep(stack: Stack, runs: int = 3, steps: int = 200) -> None:
    tracker = stack.tracker(metrics_flush_interval_s=0.05)
    for i in range(runs):
        with tracker.start_run("replay-workers", f"r{i}", params={"lr": 0.1 * (i + 1)}) as run:
            for step in range(steps):
                run.log_metrics({"loss": 1.0 / (step + 1), "acc": step / steps}, step=step)
    tracker.close()
    stack.wait_projected()


def _checked_projection() -> Projection:
    """Rows the table's constraint refuses: every insert of them fails in ClickHouse."""
    def project(logged: LoggedEvent, block: Block) -> None:
        if isinstance(logged.event.payload, ParamsLogged):
            block.append(logged.event.run_id, len(logged.event.payload.params), logged.partition, logged.offset)

    return Projection("param_checks", ("run_id", "params", "kafka_partition", "kafka_offset"), project)


def _uuid(client: Any, table: str) -> str:
    return str(client.query("SELECT uuid FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
                            parameters={"t": table}).result_rows[0][0])


def test_an_insert_failing_during_a_rebuild_abandons_it_with_its_error_and_swaps_nothing(stack: Stack) -> None:
    _sweep(stack)
    client = stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
    client.command("CREATE TABLE param_checks (run_id String, params UInt32, kafka_partition UInt32, "
                   "kafka_offset UInt64, CONSTRAINT none_yet CHECK params = 0) "
                   "ENGINE = MergeTree ORDER BY (run_id, kafka_partition, kafka_offset)")
    live = {t: _uuid(client, t) for t in ("metric_chunks", "run_metric_summary", "param_checks")}
    points = client.query("SELECT count() FROM metrics").result_rows[0][0]
    projector = stack.api.app.state.runstream.projector.projector  # type: ignore[attr-defined]
    settings = stack.settings.store.model_copy(update={"insert_retries": 0})
    job = MaintenanceJob("rebuild", settings, client, only=["metrics", "param_checks"], live=projector,
                         projections=[metrics.PROJECTION, _checked_projection()])
    status = job.run()
    assert status.state == "failed"
    assert status.error is not None and "insert into param_checks__rebuild failed" in status.error
    assert {t: _uuid(client, t) for t in live} == live, "no table was swapped"
    assert client.query("SELECT count() FROM metrics").result_rows[0][0] == points
    leftovers = client.query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                             "AND name LIKE '%\\_\\_rebuild'").result_rows
    assert leftovers == []
    client.command("DROP TABLE param_checks SYNC")


def test_tables_swapped_in_by_a_rebuild_merge_again(stack: Stack) -> None:
    _sweep(stack, runs=2, steps=50)
    client = stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
    before = _uuid(client, "metric_chunks")  # the table behind the view `metrics` (migration 0027)
    status = MaintenanceJob("rebuild", stack.settings.store, client, only=["metrics"],
                            live=stack.api.app.state.runstream.projector.projector  # type: ignore[attr-defined]
                            ).run()
    assert status.state == "done", status.error
    assert _uuid(client, "metric_chunks") != before, "the replayed table is live now"
    client.command("OPTIMIZE TABLE metric_chunks FINAL")  # refused while its merges are stopped
    parts = client.query("SELECT count() FROM system.parts WHERE database = currentDatabase() "
                         "AND table = 'metric_chunks' AND active").result_rows[0][0]
    assert parts == 1
