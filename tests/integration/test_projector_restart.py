"""Stopping, crashing and retrying the projector mid-stream loses nothing and duplicates nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import OperationalError
from fastapi.testclient import TestClient

from consumers.clickhouse import connect
from consumers.projections import Block
from consumers.runner import ProjectorThread
from consumers.sink import ClickHouseSink
from runstream.stack import build_app
from tests.integration.conftest import Stack, stack_settings, wait_for

pytestmark = pytest.mark.integration

RUNS, STEPS, KEYS = 12, 400, ("loss", "acc")


@pytest.fixture
def stack_without_projector(kafka_bootstrap: str, clickhouse_dsn: str) -> Iterator[Stack]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "restart", run_projector=False, batch_max_messages=7)
    with TestClient(build_app(settings)) as api:
        yield Stack(settings, api)


def _publish_sweep(stack: Stack, experiment: str) -> int:
    """Log RUNS runs in small batches; return the number of events published."""
    tracker = stack.tracker(metrics_batch_points=50)
    for i in range(RUNS):
        with tracker.start_run(experiment, f"r{i}", params={"i": i}) as run:
            for step in range(STEPS):
                run.log_metrics({key: step * 0.5 + i for key in KEYS}, step=step)
    assert tracker.flush(30) == 0
    published = tracker._publisher.delivered  # the broker's acknowledgements: one per event
    tracker.close()
    return published


def _client(stack: Stack) -> Any:
    return stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]


def _projector(stack: Stack, sink: ClickHouseSink | None = None) -> ProjectorThread:
    store = stack.settings.store
    thread = ProjectorThread(store, connect(store.clickhouse_url, store.clickhouse_database))
    if sink is not None:
        thread.projector.sink = sink
    thread.start()
    return thread


def _assert_exact(stack: Stack, events: int) -> None:
    stack.wait_projected()
    client = _client(stack)
    assert client.query("SELECT count() FROM events").result_rows[0][0] == events
    assert client.query("SELECT count() FROM metrics").result_rows[0][0] == RUNS * STEPS * len(KEYS)
    # The summary is fed by a materialized view, which a duplicate insert would double even after
    # ReplacingMergeTree merged the copies away in `metrics` itself.
    assert client.query("SELECT sum(point_count) FROM run_metric_summary").result_rows[0][0] == RUNS * STEPS * len(KEYS)
    assert client.query("SELECT count() FROM params").result_rows[0][0] == RUNS
    assert client.query("SELECT count() FROM runs").result_rows[0][0] == RUNS * 2
    runs = stack.api.post("/api/v1/runs/search", json={"experiment_names": ["restart"], "max_results": 100}).json()
    assert len(runs["runs"]) == RUNS
    for run in runs["runs"]:
        assert {k: m["count"] for k, m in run["metrics"].items()} == dict.fromkeys(KEYS, STEPS)
        assert run["metrics"]["loss"]["last"] == (STEPS - 1) * 0.5 + int(run["params"]["i"])


def test_stop_and_restart_mid_stream(stack_without_projector: Stack) -> None:
    stack = stack_without_projector
    events = _publish_sweep(stack, "restart")
    first = _projector(stack)
    wait_for(lambda: first.projector.stats.batches >= 5, 60, what="a few batches projected")
    first.stop()
    assert not first.alive and first.error is None
    assert 0 < first.projector.stats.events < events, "the first projector should stop mid-stream"
    second = _projector(stack)
    try:
        _assert_exact(stack, events)
    finally:
        second.stop()


class _CrashOnEvents(ClickHouseSink):
    """Dies before the events table of the first batch that had metrics, like a kill between two inserts."""

    wrote_metrics = False

    def insert(self, block: Block, *, token: str) -> None:
        if block.table == "events" and self.wrote_metrics:
            raise RuntimeError("simulated crash before the position is written")
        self.wrote_metrics |= block.table == "metric_chunks"
        super().insert(block, token=token)


class _AckLost:
    """A client whose metrics insert succeeds in ClickHouse but reports a network error, once."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.failed = False

    def insert(self, table: str, *args: Any, **kwargs: Any) -> Any:
        return self._lose_first_metrics_ack(table, self._client.insert(table, *args, **kwargs))

    def insert_arrow(self, table: str, *args: Any, **kwargs: Any) -> Any:  # metric blocks travel as Arrow
        return self._lose_first_metrics_ack(table, self._client.insert_arrow(table, *args, **kwargs))

    def _lose_first_metrics_ack(self, table: str, result: Any) -> Any:
        if table == "metric_chunks" and not self.failed:
            self.failed = True
            raise OperationalError("connection reset after the insert was written")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_crash_between_table_inserts_and_lost_acks(stack_without_projector: Stack) -> None:
    stack = stack_without_projector
    events = _publish_sweep(stack, "restart")
    client = connect(stack.settings.store.clickhouse_url, stack.settings.store.clickhouse_database)
    crashing = _projector(stack, _CrashOnEvents(client, retries=0))
    wait_for(lambda: not crashing.alive, 60, what="the crashing projector to die")
    assert isinstance(crashing.error, RuntimeError)
    assert _client(stack).query("SELECT count() FROM metrics").result_rows[0][0] > 0, "metrics got ahead of events"
    flaky = _AckLost(client)
    retrying = _projector(stack, ClickHouseSink(flaky, retries=3, max_backoff_s=0.1))  # type: ignore[arg-type]
    try:
        _assert_exact(stack, events)
        assert flaky.failed, "the lost acknowledgement was exercised"
    finally:
        retrying.stop()


def test_a_projector_apart_leaves_no_lag_behind_a_transaction_marker(stack_without_projector: Stack) -> None:
    """The MLflow front door writes in transactions: each ends with a marker, which the tables' positions never
    reach. A projector running apart from the API commits where it stands once idle, so /healthz reads lag 0."""
    stack = stack_without_projector
    projector = _projector(stack)
    try:
        created = stack.api.post("/api/2.0/mlflow/experiments/create", json={"name": "apart"})
        assert created.status_code == 200, created.text
        run = stack.api.post("/api/2.0/mlflow/runs/create", json={"experiment_id": created.json()["experiment_id"]})
        assert run.status_code == 200, run.text
        stack.wait_projected()
        wait_for(lambda: stack.api.get("/healthz").json().get("projector_lag") == 0, 60,
                 what="no lag past the transaction marker")
        assert stack.api.get("/healthz").status_code == 200
    finally:
        projector.stop()
