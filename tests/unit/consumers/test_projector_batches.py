"""The projector's batches: with `batch_ready_bytes` set, a batch already holding that many bytes is taken at once
(behind by a group, the prefetch queue holds it, and librdkafka's consume would wait out its whole timeout for
`batch_max_messages` that large metric messages never reach); a smaller one still collects what arrives within
`poll_timeout_s`. Time is a virtual clock the fake consumer moves, so nothing here depends on the machine's speed."""

from __future__ import annotations

import pytest

import consumers.projector as projector_module
from consumers.projector import Projector
from consumers.settings import ProjectorSettings

KB = 1024


class Msg:
    def __init__(self, size: int, at: float) -> None:
        self.size, self.at = size, at

    def value(self) -> bytes:
        return b"x" * self.size


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FetchingConsumer:
    """librdkafka's consume(n, timeout) as the projector meets it: a message becomes available at its `at`
    (virtual seconds); a call returns as soon as n are available, else when its timeout has passed, with what is
    available then."""

    def __init__(self, clock: Clock, arrivals: list[tuple[float, int]]) -> None:
        self.clock = clock
        self.waiting = sorted((Msg(size, at) for at, size in arrivals), key=lambda m: m.at)
        self.calls: list[tuple[int, float]] = []

    def consume(self, num_messages: int, timeout: float) -> list[Msg]:
        self.calls.append((num_messages, timeout))
        deadline = self.clock.now + timeout
        if len(self.waiting) >= num_messages and self.waiting[num_messages - 1].at <= deadline:
            self.clock.now = max(self.clock.now, self.waiting[num_messages - 1].at)
        else:
            self.clock.now = deadline
        taken = [m for m in self.waiting if m.at <= self.clock.now][:num_messages]
        self.waiting = self.waiting[len(taken):]
        return taken


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    made = Clock()
    monkeypatch.setattr(projector_module.time, "monotonic", made)
    return made


def projector(consumer: FetchingConsumer, **settings: object) -> Projector:
    given = {"kafka_bootstrap_servers": "127.0.0.1:1", "poll_timeout_s": 0.2, "batch_ready_bytes": 1024 * KB,
             **settings}
    made = Projector(ProjectorSettings(**given), client=None)  # type: ignore[arg-type]
    made._consumer = consumer  # type: ignore[assignment]
    return made


def timed(p: Projector, clock: Clock) -> tuple[list[Msg], float]:
    began = clock.now
    batch = p._consume()
    return batch, clock.now - began  # type: ignore[return-value]


def test_a_batch_that_already_fills_a_group_is_taken_at_once(clock: Clock) -> None:
    consumer = FetchingConsumer(clock, [(0.0, 28 * KB)] * 40 + [(0.05, 28 * KB)] * 5)  # 1.1 MiB fetched
    batch, took = timed(projector(consumer), clock)
    assert len(batch) == 40 and took == 0
    assert consumer.calls == [(5000, 0)]


def test_a_small_batch_still_collects_what_arrives_within_the_poll_timeout(clock: Clock) -> None:
    consumer = FetchingConsumer(clock, [(0.0, 100), (0.05, 100), (0.1, 28 * KB), (0.5, 100)])
    batch, took = timed(projector(consumer), clock)
    assert len(batch) == 3 and took == pytest.approx(0.2)


def test_a_batch_filling_up_while_it_waits_is_taken_once_it_holds_enough(clock: Clock) -> None:
    consumer = FetchingConsumer(clock, [(0.0, 100)] + [(0.06, 64 * KB)] * 20 + [(0.5, 100)])
    batch, took = timed(projector(consumer), clock)
    assert len(batch) == 21 and took < 0.06 + 2 * projector_module.READY_CHECK_S


def test_nothing_to_consume_waits_the_poll_timeout(clock: Clock) -> None:
    batch, took = timed(projector(FetchingConsumer(clock, [])), clock)
    assert batch == [] and took == pytest.approx(0.2)


def test_without_ready_bytes_librdkafka_waits_out_the_timeout(clock: Clock) -> None:
    consumer = FetchingConsumer(clock, [(0.0, 28 * KB)] * 40 + [(0.15, 100), (0.3, 100)])
    batch, took = timed(projector(consumer, batch_ready_bytes=0), clock)
    assert len(batch) == 41 and took == pytest.approx(0.2)
    assert consumer.calls == [(5000, 0.2)]


def test_never_more_than_batch_max_messages(clock: Clock) -> None:
    consumer = FetchingConsumer(clock, [(0.0, 100)] * 30)
    batch, _ = timed(projector(consumer, batch_max_messages=7), clock)
    assert len(batch) == 7



class Partition:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class WatermarkedConsumer(FetchingConsumer):
    """One partition whose messages take consecutive offsets from 0; the high watermark librdkafka caches is the
    offset after the last message the broker holds (`in_broker`, set by the test)."""

    def __init__(self, clock: Clock, arrivals: list[tuple[float, int]], in_broker: int) -> None:
        super().__init__(clock, arrivals)
        self.in_broker = in_broker
        self.delivered = 0

    def consume(self, num_messages: int, timeout: float) -> list[Msg]:
        taken = super().consume(num_messages, timeout)
        self.delivered += len(taken)
        return taken

    def assignment(self) -> list[Partition]:
        return [Partition(-1001)]

    def position(self, partitions: list[Partition]) -> list[Partition]:
        return [Partition(self.delivered if self.delivered else -1001) for _ in partitions]

    def get_watermark_offsets(self, partition: Partition, cached: bool = False) -> tuple[int, int]:
        assert cached  # never a request to the broker on the way to a batch
        return 0, self.in_broker


def test_after_a_backlog_the_last_messages_are_taken_at_once_when_nothing_more_waits(clock: Clock) -> None:
    consumer = WatermarkedConsumer(clock, [(0.0, 28 * KB)] * 40 + [(0.0, 28 * KB)] * 3 + [(0.5, 100)], in_broker=43)
    p = projector(consumer, batch_max_messages=40)
    batch, took = timed(p, clock)  # the backlog: 1.1 MiB, ready
    assert len(batch) == 40 and took == 0
    batch, took = timed(p, clock)  # its last 3 messages, and the broker holds nothing after them
    assert len(batch) == 3 and took == 0


def test_after_a_backlog_a_remainder_gathers_while_the_broker_holds_more(clock: Clock) -> None:
    consumer = WatermarkedConsumer(clock, [(0.0, 28 * KB)] * 40 + [(0.0, 100)] * 3 + [(0.1, 100)], in_broker=44)
    p = projector(consumer, batch_max_messages=40)
    timed(p, clock)
    batch, took = timed(p, clock)  # a 44th message is in the broker, not yet fetched: gather as before
    assert len(batch) == 4 and took == pytest.approx(0.2)


def test_a_trickle_still_gathers_even_when_caught_up(clock: Clock) -> None:
    consumer = WatermarkedConsumer(clock, [(0.0, 100), (0.05, 100), (0.5, 100)], in_broker=2)
    p = projector(consumer)
    batch, took = timed(p, clock)  # not behind before: the poll's gathering is kept for small batches
    assert len(batch) == 2 and took == pytest.approx(0.2)
