"""query_api.health: projector lag arithmetic and the readiness verdict, with fakes for Kafka and ClickHouse."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from query_api.health import check, high_watermarks, projector_lag
from query_api.queries.log import POSITIONS, positions
from runstream.settings import ServerSettings

# -- projector_lag ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("highs", "done", "lag"), [
    ({}, {}, 0),
    ({0: 0}, {}, 0),  # an empty partition has nothing to project
    ({0: 10}, {}, 10),  # a partition never projected counts from offset 0
    ({0: 10}, {0: 9}, 0),  # position 9 is the last message of 0..9
    ({0: 10}, {0: 4}, 5),
    ({0: 10, 1: 5}, {0: 9, 1: 4}, 0),
    ({0: 10, 1: 5}, {0: 4}, 5 + 5),
    ({0: 10, 1: 5, 2: 100}, {0: 0, 2: 49}, 9 + 5 + 50),
    ({0: 10}, {0: 20}, 0),  # never negative
    ({0: 10, 1: 3}, {0: 20}, 3),  # one partition ahead does not hide another one behind
    ({0: 3}, {0: 2, 7: 100}, 0),  # positions of partitions the topic no longer reports are ignored
])
def test_projector_lag(highs: dict[int, int], done: dict[int, int], lag: int) -> None:
    assert projector_lag(highs, done) == lag


# -- fakes ------------------------------------------------------------------------------------------------------


class FakeClickHouse:
    def __init__(self, rows: list[tuple[int, int]], *, fail: Exception | None = None) -> None:
        self.rows = rows
        self.fail = fail
        self.queries: list[str] = []

    def query(self, sql: str) -> SimpleNamespace:
        self.queries.append(sql)
        if self.fail is not None:
            raise self.fail
        return SimpleNamespace(result_rows=self.rows if sql == POSITIONS else [(1,)])


class FakeFuture:
    def __init__(self, offset: int) -> None:
        self.offset = offset

    def result(self) -> SimpleNamespace:
        return SimpleNamespace(offset=self.offset)


class FakeAdmin:
    def __init__(self, highs: dict[int, int] | None, *, topic_error: Any = None) -> None:
        self.highs = highs
        self.topic_error = topic_error
        self.committed: dict[int, int] | None = None  # the projector group's commits

    def list_topics(self, topic: str, timeout: float) -> SimpleNamespace:
        if self.highs is None:
            raise RuntimeError("broker unreachable")
        described = SimpleNamespace(error=self.topic_error, partitions={p: object() for p in self.highs})
        return SimpleNamespace(topics={topic: described})

    def list_consumer_group_offsets(self, request: list[Any], request_timeout: float) -> dict[str, Any]:
        if self.committed is None:
            raise RuntimeError("group coordinator unavailable")
        group = request[0].group_id
        answer = SimpleNamespace(topic_partitions=[SimpleNamespace(partition=p, offset=o, error=None)
                                                   for p, o in self.committed.items()])
        return {group: SimpleNamespace(result=lambda: answer)}

    def list_offsets(self, request: dict[TopicPartition, Any], request_timeout: float) -> dict[TopicPartition, Any]:
        assert self.highs is not None
        return {tp: FakeFuture(self.highs[tp.partition]) for tp in request}


def state(clickhouse: FakeClickHouse, admin: FakeAdmin, projector: Any = None, alerts: Any = None) -> Any:
    settings = ServerSettings()
    return SimpleNamespace(api=settings.api, store=settings.store, clickhouse=clickhouse, health_clickhouse=None,
                           kafka_admin=admin, projector=projector, alerts=alerts)


# -- positions, high watermarks, check -------------------------------------------------------------------------------


def test_positions_and_high_watermarks_read_their_sources() -> None:
    assert positions(FakeClickHouse([(0, 9), (3, 41)])) == {0: 9, 3: 41}  # type: ignore[arg-type]
    unmerged = [(3, 40), (0, 9), (3, 41), (0, 2), (3, 0)]  # a row per partition and part: the max of each
    assert positions(FakeClickHouse(unmerged)) == {0: 9, 3: 41}  # type: ignore[arg-type]
    assert high_watermarks(FakeAdmin({0: 10, 1: 0}), "runstream.events", 1.0) == {0: 10, 1: 0}  # type: ignore[arg-type]


def test_a_missing_topic_is_an_error() -> None:
    admin = FakeAdmin({0: 1})
    admin.list_topics = lambda topic, timeout: SimpleNamespace(topics={})  # type: ignore[method-assign]
    with pytest.raises(Exception, match="not found"):
        high_watermarks(admin, "runstream.events", 1.0)  # type: ignore[arg-type]


def test_ready_when_everything_answers_with_the_lag() -> None:
    projector = SimpleNamespace(alive=True, error=None, stalled=list, skipped=list, caught_up=dict)
    ready, body = check(state(FakeClickHouse([(0, 4)]), FakeAdmin({0: 10, 1: 2}), projector))
    assert ready
    assert body == {"clickhouse": "ok", "kafka": "ok", "projector_lag": 5 + 2, "projector": "running"}


def test_not_ready_when_clickhouse_fails() -> None:
    ready, body = check(state(FakeClickHouse([], fail=ConnectionError("refused")), FakeAdmin({0: 1})))
    assert not ready
    assert body["clickhouse"] == "error: refused" and body["kafka"] == "ok"
    assert "projector_lag" not in body and body["reason"] == "clickhouse unreachable"


def test_not_ready_when_kafka_fails_or_the_projector_stopped() -> None:
    stopped = SimpleNamespace(alive=False, error=ValueError("boom"), stalled=list, skipped=list, caught_up=dict)
    ready, body = check(state(FakeClickHouse([]), FakeAdmin(None), stopped))
    assert not ready
    assert body["kafka"] == "error: broker unreachable" and "projector_lag" not in body
    assert body["projector"] == "stopped: ValueError('boom')"
    assert body["reason"] == "kafka unreachable; projector stopped"


def test_a_trailing_transaction_marker_is_not_lag() -> None:
    """The tables' position stops at the last event (offset 8); the marker at 9 is no message. The projector's
    consumer, with nothing more to give, stands at 10: nothing is behind."""
    projector = SimpleNamespace(alive=True, error=None, caught_up=lambda: {0: 10}, stalled=list, skipped=list)
    ready, body = check(state(FakeClickHouse([(0, 8)]), FakeAdmin({0: 10, 1: 2}), projector))
    assert ready and body["projector_lag"] == 2, "partition 1 is still behind"


def test_not_ready_while_a_partition_cannot_be_read_and_skips_are_reported() -> None:
    stall = {"partition": 2, "offset": 7, "error": "Decompression failed", "repeats": 2, "since": 0.0}
    skip = {"partition": 1, "first_offset": 3, "last_offset": 5, "error": "Decompression failed", "at": 0.0}
    projector = SimpleNamespace(alive=True, error=None, stalled=lambda: [stall], skipped=lambda: [skip],
                                caught_up=dict)
    ready, body = check(state(FakeClickHouse([(0, 9)]), FakeAdmin({0: 10}), projector))
    assert not ready
    assert body["projector"] == "running" and body["projector_stalled"] == [stall]
    assert body["projector_skipped"] == [skip]
    assert body["reason"] == "projector stalled on partition(s) 2"


def test_the_hosted_alert_worker_is_reported_and_its_death_makes_the_server_not_ready() -> None:
    projector = SimpleNamespace(alive=True, error=None, stalled=list, skipped=list, caught_up=dict)
    running = SimpleNamespace(alive=True, error=None)
    ready, body = check(state(FakeClickHouse([(0, 9)]), FakeAdmin({0: 10}), projector, running))
    assert ready and body["alerts"] == "running"
    dead = SimpleNamespace(alive=False, error=RuntimeError("topic deleted"))
    ready, body = check(state(FakeClickHouse([(0, 9)]), FakeAdmin({0: 10}), projector, dead))
    assert not ready
    assert body["alerts"] == "stopped: RuntimeError('topic deleted')" and body["reason"] == "alert worker stopped"


def test_a_projector_running_apart_reports_its_position_past_a_marker_through_its_group() -> None:
    """No hosted projector: the group's committed offset (10, past the marker at 9) says partition 0 is done;
    when the group cannot be asked, the tables' positions alone give the lag."""
    admin = FakeAdmin({0: 10, 1: 2})
    admin.committed = {0: 10}
    ready, body = check(state(FakeClickHouse([(0, 8)]), admin))
    assert ready and body["projector_lag"] == 2
    admin.committed = None
    ready, body = check(state(FakeClickHouse([(0, 8)]), admin))
    assert ready and body["projector_lag"] == 1 + 2
