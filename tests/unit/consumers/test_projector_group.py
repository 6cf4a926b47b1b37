"""The projector's group callbacks and its replacement of a consumer stuck out of its group (no broker needed)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from consumers.projector import Projector
from consumers.settings import ProjectorSettings


class FakeConsumer:
    """Records calls; list_topics is a blocking call of the consumer's own, never allowed inside its callbacks."""

    def __init__(self, partitions: int = 3) -> None:
        self.calls: list[str] = []
        self.in_callback = False
        self.partitions = partitions
        self.closed = False

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.calls.append("assign")

    def unassign(self) -> None:
        self.calls.append("unassign")

    def list_topics(self, topic: str, timeout: float) -> Any:
        assert not self.in_callback, "list_topics inside a rebalance callback ends consume()'s call state"
        self.calls.append("list_topics")
        meta = type("T", (), {"partitions": dict.fromkeys(range(self.partitions)), "error": None})()
        return type("M", (), {"topics": {topic: meta}})()

    def subscribe(self, topics: list[str], **_: Any) -> None:
        self.calls.append("subscribe")

    def close(self) -> None:
        self.closed = True


def _projector(**settings: Any) -> Projector:
    projector = Projector(ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1", **settings),
                          client=None)  # type: ignore[arg-type]
    projector.writer.load_positions = lambda ids: {0: 41}  # type: ignore[method-assign]
    return projector


def test_an_assignment_resumes_from_the_tables_and_counts_partitions_after_the_callback() -> None:
    projector = _projector()
    consumer = FakeConsumer()
    projector._consumer = consumer  # type: ignore[assignment]
    partitions = [TopicPartition("t", 0), TopicPartition("t", 1)]
    consumer.in_callback = True
    projector._on_assign(consumer, partitions)  # type: ignore[arg-type]
    consumer.in_callback = False
    assert [tp.offset for tp in partitions] == [42, -2]  # position + 1; OFFSET_BEGINNING without one
    assert consumer.calls == ["assign"] and projector.stats.topic_partitions == 0
    assert projector._count_partitions  # counted by the run loop, after consume() returned


def _stats(state: str, join_state: str) -> str:
    return json.dumps({"cgrp": {"state": state, "join_state": join_state}})


def test_a_consumer_out_of_its_group_too_long_is_replaced_and_closed_apart(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    projector = _projector(group_stuck_s=5)
    old = FakeConsumer()
    projector._consumer = old  # type: ignore[assignment]
    made: list[FakeConsumer] = []
    monkeypatch.setattr(projector, "_new_consumer", lambda: made.append(FakeConsumer()) or made[-1])
    projector._on_stats(0, _stats("up", "wait-join"))
    projector._replace_consumer_if_stuck()  # just now: not yet
    assert projector._consumer is old and projector.stats.consumers_replaced == 0
    projector.group.since = time.monotonic() - 6  # out of the group for 6 s
    projector._replace_consumer_if_stuck()
    assert projector._consumer is made[0] and made[0].calls == ["subscribe"]
    assert projector.stats.consumers_replaced == 1 and "replacing it with a new consumer" in caplog.text
    projector._closing[0].join(5)
    assert old.closed
    # the old consumer's late statistics and callbacks no longer count
    projector._on_stats(0, _stats("up", "wait-join"))
    assert projector.group.last == ("", "")
    old.in_callback = True
    projector._on_revoke(old, [TopicPartition("t", 0)])  # type: ignore[arg-type]
    projector._on_assign(old, [TopicPartition("t", 0)])  # type: ignore[arg-type]
    assert old.calls == ["unassign"] and projector._count_partitions is False


def test_a_steady_consumer_is_kept() -> None:
    projector = _projector(group_stuck_s=0.001)
    consumer = FakeConsumer()
    projector._consumer = consumer  # type: ignore[assignment]
    projector._on_stats(0, _stats("up", "steady"))
    projector._replace_consumer_if_stuck()
    assert projector._consumer is consumer and projector.stats.consumers_replaced == 0
