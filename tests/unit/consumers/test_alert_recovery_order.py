"""The alert worker's recovery reads the log's partitions merged by event time, as its live loop merges a batch:
a best value or a rule logged in one partition is seen before the later events of another, whatever order the
broker hands the partitions over in (it used to fold them in consume order, so a worker started late fired
`new_best` against a best that had not been read yet)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from consumers.alerts import worker as worker_module
from consumers.alerts.settings import AlertSettings
from consumers.alerts.worker import AlertWorker, TimeMerge


def logged(partition: int, offset: int, at: int) -> Any:
    return SimpleNamespace(partition=partition, offset=offset, event=SimpleNamespace(event_time=at))


def order(events: Any) -> list[tuple[int, int]]:
    return [(e.partition, e.offset) for e in events]


def test_events_come_out_in_time_order_once_every_open_partition_holds_one() -> None:
    merge = TimeMerge({0, 1})
    merge.add(1, logged(1, 0, at=5))
    merge.add(1, logged(1, 1, at=6))
    assert order(merge.ready()) == []  # partition 0 may still hand over something earlier
    merge.add(0, logged(0, 0, at=1))
    merge.add(0, logged(0, 1, at=9))
    assert order(merge.ready()) == [(0, 0), (1, 0), (1, 1)]  # then 1 is empty and open: 0's 9 waits
    merge.close(1)
    assert order(merge.ready()) == [(0, 1)]
    assert merge.held(0) == merge.held(1) == 0


def test_a_partition_keeps_its_own_order_even_where_its_clock_went_back() -> None:
    merge = TimeMerge({0, 1})
    for offset, at in enumerate([3, 2, 7]):
        merge.add(0, logged(0, offset, at))
    merge.add(1, logged(1, 0, at=4))
    merge.close(0)
    merge.close(1)
    assert order(merge.ready()) == [(0, 0), (0, 1), (1, 0), (0, 2)]


class ScriptedConsumer:
    """Hands over whole partitions one after another (the last first), as a broker may; records pauses."""

    def __init__(self, ends: dict[int, int], times: dict[int, list[int]]) -> None:
        self.queue = [SimpleNamespace(partition=lambda p=p: p, offset=lambda o=o: o, error=lambda: None,
                                      value=lambda t=t: t, key=lambda: b"")
                      for p in sorted(ends, reverse=True) for o, t in enumerate(times[p])]
        self.paused: set[int] = set()
        self.pauses: list[set[int]] = []

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        batch = []
        for msg in list(self.queue):
            if len(batch) == 2:
                break
            if msg.partition() not in self.paused:
                batch.append(msg)
                self.queue.remove(msg)
        return batch

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {tp.partition for tp in partitions}
        self.pauses.append({tp.partition for tp in partitions})

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused -= {tp.partition for tp in partitions}

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, -1001) for tp in partitions]


@pytest.mark.parametrize("held", [64, 2])
def test_recovery_reads_partitions_handed_over_one_after_another_in_time_order(
        held: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "RECOVERY_HELD", held)
    times = {0: [1, 4, 7], 1: [2, 5, 8], 2: [3, 6, 9]}
    consumer = ScriptedConsumer({0: 3, 1: 3, 2: 3}, times)
    made = AlertWorker(AlertSettings(kafka_bootstrap_servers="127.0.0.1:1"))
    made._consumer = consumer  # type: ignore[assignment]
    made._decode = lambda msg: logged(msg.partition(), msg.offset(), msg.value())  # type: ignore[method-assign]
    taken: list[Any] = []
    made._read_to_end({0: 3, 1: 3, 2: 3, 3: 0}, taken.append)
    assert [e.event.event_time for e in taken] == list(range(1, 10))
    assert bool(consumer.pauses) == (held == 2)  # a partition far ahead of the others waits for them
    assert not consumer.paused
