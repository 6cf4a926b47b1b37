"""How the projector takes a batch from its consumer: it waits for a first message only, then takes what is
already fetched, so no point waits for a timer that a batch which is not full used to run down."""

from __future__ import annotations

from consumers.projector import Projector
from consumers.settings import ProjectorSettings


class FetchedQueue:
    """librdkafka's consume(n, timeout) as the projector sees it: n messages at once when that many are fetched,
    else whatever is there once `timeout` has passed (recorded, not slept)."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        self.waited = 0.0

    def consume(self, num_messages: int, timeout: float) -> list[str]:
        if len(self.messages) < num_messages:
            self.waited += timeout
        taken, self.messages = self.messages[:num_messages], self.messages[num_messages:]
        return taken


def projector(queue: FetchedQueue, **settings: float) -> Projector:
    made = Projector(ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1", **settings),  # type: ignore[arg-type]
                     client=None)  # type: ignore[arg-type]
    made._consumer = queue  # type: ignore[assignment]
    return made


def test_a_batch_is_what_is_already_fetched_without_waiting_for_a_full_one() -> None:
    queue = FetchedQueue(["a", "b", "c"])
    assert projector(queue)._consume() == ["a", "b", "c"]
    assert queue.waited == 0.0


def test_a_batch_lingers_for_more_only_when_told() -> None:
    queue = FetchedQueue(["a", "b"])
    assert projector(queue, batch_linger_s=0.05)._consume() == ["a", "b"]
    assert queue.waited == 0.05


def test_with_nothing_fetched_the_consumer_waits_for_the_poll_timeout() -> None:
    queue = FetchedQueue([])
    assert projector(queue, poll_timeout_s=0.3)._consume() == []
    assert queue.waited == 0.3


def test_a_batch_holds_at_most_batch_max_messages() -> None:
    queue = FetchedQueue([str(i) for i in range(10)])
    made = projector(queue, batch_max_messages=4)
    assert made._consume() == ["0", "1", "2", "3"]
    assert made._consume() == ["4", "5", "6", "7"]
    assert queue.messages == ["8", "9"]
