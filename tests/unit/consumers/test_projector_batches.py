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

