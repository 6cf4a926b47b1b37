"""The projector's batches: a batch already holding `batch_ready_bytes` is taken at once (with a backlog the
prefetch queue holds that much, and librdkafka's consume would idle out its whole timeout); a smaller one still
collects what arrives within `poll_timeout_s`."""

from __future__ import annotations

import time

from consumers.projector import Projector
from consumers.settings import ProjectorSettings

KB = 1024


class Msg:
    def __init__(self, size: int, at: float) -> None:
        self.size, self.at = size, at

    def value(self) -> bytes:
        return b"x" * self.size


class FetchingConsumer:
    """librdkafka's consume(n, timeout) as the projector meets it: messages become available at their `at`
    (seconds after the test starts); a call returns once n are available or its timeout has passed."""

    def __init__(self, arrivals: list[tuple[float, int]]) -> None:
        self.began = time.monotonic()
        self.waiting = [Msg(size, at) for at, size in arrivals]
        self.calls: list[tuple[int, float]] = []

    def consume(self, num_messages: int, timeout: float) -> list[Msg]:
        self.calls.append((num_messages, timeout))
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic() - self.began
            ready = [m for m in self.waiting if m.at <= now]
            if len(ready) >= num_messages or time.monotonic() >= deadline:
                taken = ready[:num_messages]
                self.waiting = [m for m in self.waiting if m not in taken]
                return taken
            time.sleep(0.001)


def projector(consumer: FetchingConsumer, **settings: object) -> Projector:
    given = {"kafka_bootstrap_servers": "127.0.0.1:1", "poll_timeout_s": 0.2, "batch_ready_bytes": 1024 * KB,
             **settings}
    made = Projector(ProjectorSettings(**given), client=None)  # type: ignore[arg-type]
    made._consumer = consumer  # type: ignore[assignment]
    return made


def timed(p: Projector) -> tuple[list[Msg], float]:
    began = time.monotonic()
    batch = p._consume()
    return batch, time.monotonic() - began  # type: ignore[return-value]


def test_a_batch_that_already_fills_a_group_is_taken_at_once() -> None:
    consumer = FetchingConsumer([(0.0, 28 * KB)] * 40 + [(0.05, 28 * KB)] * 5)  # 1.1 MiB fetched
    batch, took = timed(projector(consumer))
    assert len(batch) == 40 and took < 0.1
    assert consumer.calls == [(5000, 0)]


def test_a_small_batch_still_collects_what_arrives_within_the_poll_timeout() -> None:
    consumer = FetchingConsumer([(0.0, 100), (0.05, 100), (0.1, 28 * KB), (0.5, 100)])
    batch, took = timed(projector(consumer))
    assert len(batch) == 3 and 0.18 < took < 0.4


def test_a_batch_filling_up_while_it_waits_is_taken_once_it_holds_enough() -> None:
    consumer = FetchingConsumer([(0.0, 100)] + [(0.06, 64 * KB)] * 20 + [(0.5, 100)])
    batch, took = timed(projector(consumer))
    assert len(batch) == 21 and took < 0.15


def test_nothing_to_consume_waits_the_poll_timeout() -> None:
    batch, took = timed(projector(FetchingConsumer([])))
    assert batch == [] and 0.18 < took < 0.4


def test_ready_bytes_zero_takes_a_lone_message_at_once() -> None:
    consumer = FetchingConsumer([(0.03, 100), (0.15, 100)])
    batch, took = timed(projector(consumer, batch_ready_bytes=0))
    assert len(batch) == 1 and took < 0.12


def test_never_more_than_batch_max_messages() -> None:
    consumer = FetchingConsumer([(0.0, 100)] * 30)
    batch, _ = timed(projector(consumer, batch_max_messages=7))
    assert len(batch) == 7


def test_the_live_writer_groups_oldest_first() -> None:
    assert projector(FetchingConsumer([])).writer.oldest_first
