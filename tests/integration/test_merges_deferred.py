"""The projector stops the hot tables' merges while it works through a backlog, starts them once caught up, and a
projector that starts finds them on, whatever the one before it left (consumers/mergegate.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from fastapi.testclient import TestClient

from consumers.clickhouse import connect
from consumers.mergegate import DEFERRED_TABLES
from consumers.projections import Block
from consumers.runner import ProjectorThread
from consumers.sink import ClickHouseSink
from runstream.stack import build_app
from tests.integration.conftest import Stack, stack_settings, wait_for

pytestmark = pytest.mark.integration

RUNS, STEPS, KEYS = 12, 400, ("loss", "acc")


@pytest.fixture
def stack(kafka_bootstrap: str, clickhouse_dsn: str) -> Iterator[Stack]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "deferred", run_projector=False, batch_max_messages=7,
                              defer_merges_behind=50, defer_merges_caught_up=5)
    with TestClient(build_app(settings)) as api:
        yield Stack(settings, api)


class _SlowSink(ClickHouseSink):
    """Inserts as ClickHouse does, a little later: the backlog lasts long enough to look at."""

    def insert(self, block: Block, *, token: str) -> None:
        time.sleep(0.03)
        super().insert(block, token=token)


def _publish(stack: Stack) -> int:
    tracker = stack.tracker(metrics_batch_points=50)
    for i in range(RUNS):
        with tracker.start_run("deferred", f"r{i}", params={"i": i}) as run:
            for step in range(STEPS):
                run.log_metrics({key: step * 0.5 + i for key in KEYS}, step=step)
    assert tracker.flush(30) == 0
    published = tracker._publisher.delivered
    tracker.close()
    return published


def _projector(stack: Stack, *, slow: bool = False, **settings: Any) -> ProjectorThread:
    store = stack.settings.store.model_copy(update=settings)
    client = connect(store.clickhouse_url, store.clickhouse_database)
    thread = ProjectorThread(store, client)
    if slow:
        thread.projector.sink = _SlowSink(client)
    thread.start()
    return thread


def _client(stack: Stack) -> Any:
    return stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]


def _merges_stopped(client: Any, table: str) -> bool:
    """ClickHouse refuses to merge a table whose merges are stopped (OPTIMIZE: 'Cancelled merging parts')."""
    try:
        client.command(f"OPTIMIZE TABLE `{table}` FINAL")
    except DatabaseError as exc:
        assert "ABORTED" in str(exc) or "Cancelled merging parts" in str(exc), exc
        return True
    return False


def _parts(client: Any, table: str) -> int:
    return int(client.query("SELECT count() FROM system.parts WHERE database = currentDatabase() AND active "
                            "AND table = {t:String}", parameters={"t": table}).result_rows[0][0])


def test_merges_stop_while_behind_resume_when_caught_up_and_after_a_restart(stack: Stack) -> None:
    events = _publish(stack)  # the projector is off: a backlog of ~240 messages
    client = _client(stack)
    first = _projector(stack, slow=True)
    try:
        wait_for(lambda: first.projector.merges.deferred, 60, what="merges deferred while behind")
        wait_for(lambda: _parts(client, "metrics") >= 3, 60, what="parts piling up")
        assert first.projector.merges.deferred, "still behind: the backlog should outlast the checks"
        assert all(_merges_stopped(client, table) for table in DEFERRED_TABLES)
        # a curve read while merges are deferred answers every point written so far (parts, never merges, hold it)
        assert _parts(client, "metrics") >= 3
    finally:
        first.stop()
    assert first.error is None
    assert 0 < first.projector.stats.events < events, "the first projector should stop mid-backlog"
    assert not any(_merges_stopped(client, table) for table in DEFERRED_TABLES), "a stopped projector starts them"

    # A projector killed while behind leaves them stopped (on a ClickHouse server, until the server restarts):
    for table in DEFERRED_TABLES:
        client.command(f"SYSTEM STOP MERGES `{table}`")
    # the next one, which here never defers, starts them when it starts
    second = _projector(stack, defer_merges_behind=10**9)
    try:
        wait_for(lambda: second.projector._merge_client is not None and second.projector.stats.batches > 0, 60,
                 what="the second projector running")
        assert not any(_merges_stopped(client, table) for table in DEFERRED_TABLES)
        stack.wait_projected()
    finally:
        second.stop()
    assert client.query("SELECT count() FROM events").result_rows[0][0] == events


def test_caught_up_projector_starts_the_merges_it_stopped(stack: Stack) -> None:
    events = _publish(stack)
    client = _client(stack)
    thread = _projector(stack)
    try:
        wait_for(lambda: thread.projector.stats.merge_deferrals >= 1, 60, what="merges deferred while behind")
        stack.wait_projected()
        wait_for(lambda: not thread.projector.merges.deferred, 30, what="merges started once caught up")
        assert not any(_merges_stopped(client, table) for table in DEFERRED_TABLES)
        # the end state: the parts left while behind merge away (OPTIMIZE above, and background merges)
        assert _parts(client, "metrics") == 1
        points = RUNS * STEPS * len(KEYS)
        assert client.query("SELECT count() FROM metrics").result_rows[0][0] == points
        assert client.query("SELECT sum(point_count) FROM run_metric_summary").result_rows[0][0] == points
        assert client.query("SELECT count() FROM events").result_rows[0][0] == events
    finally:
        thread.stop()
