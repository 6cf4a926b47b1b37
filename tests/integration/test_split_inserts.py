"""A large group's metrics go as two statements at once, by partition (`BatchWriter.split`): with real Kafka and
embedded ClickHouse, a failure of one of the two leaves every position at or behind the rows ClickHouse holds, and
the projector that takes over (or the insert's retry) gives exactly the tables a clean projection gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import OperationalError
from fastapi.testclient import TestClient

import consumers.projector
from consumers.clickhouse import connect
from consumers.runner import ProjectorThread
from runstream.stack import build_app
from tests.integration.conftest import Stack, stack_settings, wait_for

pytestmark = pytest.mark.integration

RUNS, STEPS, KEYS = 12, 2000, ("loss", "acc")
POINTS = RUNS * STEPS * len(KEYS)
TABLES = ("metrics", "run_metric_summary", "events", "event_offsets")


@pytest.fixture
def stack(kafka_bootstrap: str, clickhouse_dsn: str) -> Iterator[Stack]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "split", run_projector=False, insert_retries=0)
    with TestClient(build_app(settings)) as api:
        yield Stack(settings, api)


def _publish(stack: Stack) -> int:
    tracker = stack.tracker(metrics_batch_points=500)
    for i in range(RUNS):
        with tracker.start_run("split", f"r{i}", params={"i": i}) as run:
            for step in range(STEPS):
                run.log_metrics({key: step * 0.25 + i for key in KEYS}, step=step)
    assert tracker.flush(30) == 0
    published = tracker._publisher.delivered
    tracker.close()
    return published


class _Client:
    """A projector's ClickHouse client that can fail its first metrics insert while it is the writer's split
    client: before the insert (a crash of that statement) or after it (its answer lost)."""

    def __init__(self, client: Any, projector: list[ProjectorThread], mode: str) -> None:
        self._client, self._projector, self.mode = client, projector, mode
        self.split_inserts = 0
        self.failed = False

    def _is_split(self) -> bool:
        writer = self._projector[0].projector.writer
        return writer.split is not None and writer.split._client is self

    def insert_arrow(self, table: str, *args: Any, **kwargs: Any) -> Any:
        split = table == "metrics" and self._is_split()
        self.split_inserts += split
        if split and self.mode == "crash" and not self.failed:
            self.failed = True
            raise OperationalError("the split statement failed before its rows were written")
        result = self._client.insert_arrow(table, *args, **kwargs)
        if split and self.mode == "lost-ack" and not self.failed:
            self.failed = True
            raise OperationalError("connection reset after the split statement was written")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _projector(stack: Stack, monkeypatch: pytest.MonkeyPatch, mode: str, retries: int = 0,
               ) -> tuple[ProjectorThread, list[_Client]]:
    """A projector whose large groups are split (every group of two partitions or more), its side clients
    wrapped."""
    store = stack.settings.store.model_copy(update={"insert_retries": retries})
    holder: list[ProjectorThread] = []
    clients: list[_Client] = []
    opened = consumers.projector.open_client

    def open_client(url: str, database: str) -> Any:
        clients.append(_Client(opened(url, database), holder, mode))
        return clients[-1]

    monkeypatch.setattr(consumers.projector, "open_client", open_client)
    thread = ProjectorThread(store, connect(store.clickhouse_url, store.clickhouse_database))
    thread.projector.writer.split_min_points = 1
    holder.append(thread)
    thread.start()
    return thread, clients


def _held(stack: Stack) -> dict[str, dict[int, int]]:
    """Per table and partition, the highest offset ClickHouse holds."""
    client = stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
    return {table: {int(p): int(o) for p, o in client.query(
        f"SELECT kafka_partition, max(kafka_offset) FROM {table} GROUP BY kafka_partition").result_rows}
        for table in TABLES}


def _assert_exact(stack: Stack, events: int) -> None:
    stack.wait_projected()
    client = stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
    assert client.query("SELECT count() FROM events").result_rows[0][0] == events
    assert client.query("SELECT count(), uniqExact(run_id, key, step), sum(value) FROM metrics").result_rows[0] == (
        POINTS, POINTS, sum((step * 0.25 + i) * len(KEYS) for i in range(RUNS) for step in range(STEPS)))
    assert client.query("SELECT sum(point_count) FROM run_metric_summary").result_rows[0][0] == POINTS
    last = client.query("SELECT argMaxMerge(last_value) FROM run_metric_summary GROUP BY run_id, key").result_rows
    assert sorted(v for (v,) in last) == sorted((STEPS - 1) * 0.25 + i for i in range(RUNS) for _ in KEYS)
    assert client.query("SELECT count() FROM params").result_rows[0][0] == RUNS


def test_a_failed_split_statement_leaves_positions_behind_and_the_next_projector_fills_exactly(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    events = _publish(stack)
    crashing, clients = _projector(stack, monkeypatch, "crash")
    wait_for(lambda: not crashing.alive, 60, what="the projector to stop on the failed split statement")
    assert crashing.error is not None and "split statement failed" in str(crashing.error)
    held = _held(stack)
    positions = crashing.projector.writer.positions
    # every message leaves an events row: its position in memory is exactly what ClickHouse holds
    assert {p: o for p, o in positions["events"].items() if o >= 0} == held["events"]
    ahead = [p for p in held["metrics"] if held["metrics"][p] > held["events"].get(p, -1)]
    behind = [p for p in range(3) if held["metrics"].get(p, -1) <= held["events"].get(p, -1)]
    assert ahead, "the other statement of the group landed: its partitions' metrics are ahead of events"
    assert behind, "the failed statement's partitions are not"
    for partition in behind:  # neither in ClickHouse nor in memory did the failed statement's partitions move
        for table in ("metrics", "run_metric_summary"):
            assert positions[table].get(partition, -1) == positions["events"].get(partition, -1)
    monkeypatch.undo()
    crashing.stop()
    second, others = _projector(stack, monkeypatch, "none", retries=3)
    try:
        _assert_exact(stack, events)
        assert sum(c.split_inserts for c in others) > 0, "the projector that took over split its groups too"
    finally:
        second.stop()


def test_a_split_statement_whose_answer_was_lost_is_retried_once_into_the_table(
        stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    events = _publish(stack)
    projector, clients = _projector(stack, monkeypatch, "lost-ack", retries=3)
    try:
        _assert_exact(stack, events)
        assert any(c.failed for c in clients), "the lost answer was exercised"
        assert projector.error is None
    finally:
        projector.stop()
