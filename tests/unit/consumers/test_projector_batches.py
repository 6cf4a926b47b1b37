"""How the projector takes a batch from its consumer: a batch that is part of a burst (it lags behind its
partitions' end, or is already large) takes more messages until it holds batch_floor_bytes (each batch costs
statements and parts whatever its size); a small batch that does not lag is written at once."""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition

from consumers.projector import Projector
from consumers.settings import ProjectorSettings


class Msg:
    def __init__(self, partition: int, offset: int, size: int) -> None:
        self._partition, self._offset, self._value = partition, offset, b"x" * size

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def error(self) -> None:
        return None


class Log:
    """A consumer over partitions whose messages arrive over time: consume(n, timeout) gives up to n of what has
    arrived, after `timeout` unless n are there (recorded, not slept), and each call lets `per_call` more arrive.
    The cached high watermark is the end of what has arrived."""

    def __init__(self, arrived: int, per_call: int, total: int, size: int = 1000, partitions: int = 1) -> None:
        self.messages = [Msg(i % partitions, i // partitions, size) for i in range(total)]
        self.arrived, self.per_call, self.taken = arrived, per_call, 0
        self.waited = 0.0
        self.calls = 0
        self.on_call: Any = None
        self.partitions = partitions

    def consume(self, num_messages: int, timeout: float) -> list[Msg]:
        self.calls += 1
        if self.on_call is not None:
            self.on_call(self.calls)
        available = self.messages[self.taken:self.arrived]
        if len(available) < num_messages:
            self.waited += timeout
        out = available[:num_messages]
        self.taken += len(out)
        self.arrived = min(len(self.messages), self.arrived + self.per_call)
        return out

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool = False) -> tuple[int, int]:
        assert cached, "asking the broker would cost a round trip per batch"
        return 0, len([m for m in self.messages[:self.arrived] if m.partition() == tp.partition])


def projector(log: Log, **settings: Any) -> Projector:
    made = Projector(ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1", **settings), client=None)  # type: ignore[arg-type]
    made._consumer = log  # type: ignore[assignment]
    return made


def test_a_batch_that_lags_takes_more_until_it_holds_the_floor() -> None:
    log = Log(arrived=10, per_call=10, total=1000)  # 10 kB a call while 1 MB waits
    batch = projector(log, batch_floor_bytes=50_000, batch_fill_s=10)._consume()
    assert len(batch) == 50
    assert [m.offset() for m in batch] == list(range(50))  # in order, nothing skipped or repeated


def test_a_small_batch_that_does_not_lag_is_taken_at_once() -> None:
    log = Log(arrived=10, per_call=0, total=10)
    batch = projector(log, batch_floor_bytes=50_000, batch_fill_s=10)._consume()
    assert len(batch) == 10 and log.calls == 1


def test_a_large_batch_that_does_not_lag_yet_waits_for_more_of_its_burst() -> None:
    log = Log(arrived=10, per_call=10, total=10)  # all that has arrived is taken: no lag, but a burst goes on
    log.get_watermark_offsets = lambda tp, cached=False: (0, log.taken)  # type: ignore[method-assign]
    log.messages = [Msg(0, i, 1000) for i in range(100)]
    batch = projector(log, batch_floor_bytes=40_000, batch_fill_from_bytes=10_000, batch_fill_s=10)._consume()
    assert len(batch) == 40
    log = Log(arrived=10, per_call=10, total=100)
    log.get_watermark_offsets = lambda tp, cached=False: (0, log.taken)  # type: ignore[method-assign]
    batch = projector(log, batch_floor_bytes=40_000, batch_fill_from_bytes=20_000, batch_fill_s=10)._consume()
    assert len(batch) == 10 and log.calls == 1  # under the burst size: at once


def test_a_filling_batch_stops_near_the_floor_not_far_past_it() -> None:
    log = Log(arrived=10, per_call=1000, total=1000)  # plenty arrives: only as many are asked as reach the floor
    batch = projector(log, batch_floor_bytes=35_500, batch_fill_s=10)._consume()
    assert 36 <= len(batch) <= 37


def test_a_transaction_marker_after_the_last_event_is_not_lag() -> None:
    log = Log(arrived=11, per_call=0, total=11)
    log.arrived = 10  # the 11th offset (a commit marker) is never a message
    log.get_watermark_offsets = lambda tp, cached=False: (0, 11)  # type: ignore[method-assign]
    assert len(projector(log, batch_floor_bytes=50_000)._consume()) == 10
    assert log.calls == 1


def test_filling_stops_when_nothing_more_comes_or_at_the_deadline() -> None:
    log = Log(arrived=10, per_call=0, total=1000)  # lag that is not there to take (an open transaction, a slow fetch)
    log.get_watermark_offsets = lambda tp, cached=False: (0, 1000)  # type: ignore[method-assign]
    made = projector(log, batch_floor_bytes=500_000, batch_fill_s=10)
    assert len(made._consume()) == 10 and log.calls == 2
    log = Log(arrived=10, per_call=10, total=1000)
    assert len(projector(log, batch_floor_bytes=500_000, batch_fill_s=0)._consume()) == 10  # no time to fill
    assert log.calls == 1


def test_a_batch_holds_at_most_batch_max_messages_even_while_lagging() -> None:
    log = Log(arrived=4, per_call=4, total=100)
    batch = projector(log, batch_floor_bytes=10**9, batch_fill_s=10, batch_max_messages=10)._consume()
    assert len(batch) == 10


def test_a_floor_of_zero_is_one_consume_per_batch() -> None:
    log = Log(arrived=10, per_call=10, total=1000)
    assert len(projector(log, batch_floor_bytes=0)._consume()) == 10 and log.calls == 1


def test_a_rebalance_while_filling_drops_what_was_taken_before_it() -> None:
    log = Log(arrived=10, per_call=10, total=1000, partitions=2)
    made = projector(log, batch_floor_bytes=10**9, batch_fill_s=10)

    def rebalance(call: int) -> None:
        if call == 3:
            made._rebalances += 1  # what _on_revoke / _on_assign count, served inside this consume()

    log.on_call = rebalance
    batch = made._consume()
    assert [(m.partition(), m.offset()) for m in batch] == [(i % 2, i // 2) for i in range(20, 30)]
