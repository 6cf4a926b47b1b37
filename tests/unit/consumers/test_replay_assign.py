"""consumers.replay: what `start` assigned is fetched while the caller creates its tables, and kept by the first
`run_until` if nothing changed (no broker: a consumer that records its assignments)."""

from __future__ import annotations

from types import SimpleNamespace

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from consumers.replay import Replay, ReplayCounters


class RecordingConsumer:
    def __init__(self) -> None:
        self.assigned: list[list[tuple[int, int]]] = []

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned.append([(tp.partition, tp.offset) for tp in partitions])


def _replay() -> tuple[Replay, RecordingConsumer]:
    replay = Replay.__new__(Replay)
    consumer = RecordingConsumer()
    replay.settings = SimpleNamespace(topic="t")  # type: ignore[assignment]
    replay._consumer = consumer  # type: ignore[assignment]
    replay.counters = ReplayCounters(consumed={0: -1, 1: -1, 2: -1})
    replay._prefetching = None
    return replay, consumer


def test_the_first_assignment_after_start_is_kept_when_it_is_the_same() -> None:
    replay, consumer = _replay()
    replay._assign({0, 1, 2})  # what start does
    replay._prefetching = replay._assignment({0, 1, 2})
    replay._assign({0, 1, 2})  # run_until's first: the consumer keeps what it fetched meanwhile
    assert consumer.assigned == [[(0, OFFSET_BEGINNING), (1, OFFSET_BEGINNING), (2, OFFSET_BEGINNING)]]
    replay._assign({0, 1, 2})  # later calls assign, whatever they ask
    assert len(consumer.assigned) == 2


def test_another_first_assignment_after_start_is_made() -> None:
    replay, consumer = _replay()
    replay._assign({0, 1, 2})
    replay._prefetching = replay._assignment({0, 1, 2})
    replay._assign({0, 2})  # partition 1 is empty: nothing to replay
    assert consumer.assigned[-1] == [(0, OFFSET_BEGINNING), (2, OFFSET_BEGINNING)]
    replay._assign({0, 1, 2})
    replay._prefetching = replay._assignment({0, 1, 2})
    replay.counters.consumed[1] = 41  # (TopicPartition compares equal whatever its offset: the offsets count)
    replay._assign({0, 1, 2})
    assert consumer.assigned[-1] == [(0, OFFSET_BEGINNING), (1, 42), (2, OFFSET_BEGINNING)]
