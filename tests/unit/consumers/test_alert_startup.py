"""The alert worker's start-up against a topic that has no leaders yet (just created, a broker restarting): it
waits those answers out instead of dying, and gives up with the error once the wait is over."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumers.alerts.settings import AlertSettings
from consumers.alerts.worker import AlertWorker, transient


class FlakyConsumer:
    """list_topics/get_watermark_offsets answering a scripted sequence of errors before the real answer."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.calls = 0

    def list_topics(self, topic: str, timeout: float) -> SimpleNamespace:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(step, KafkaException):
            raise step
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions=dict.fromkeys(step))})

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        return 0, 10 * (tp.partition + 1)

    def close(self) -> None:
        pass


def worker(script: list[Any], wait_s: float = 5.0) -> AlertWorker:
    made = AlertWorker(AlertSettings(kafka_bootstrap_servers="127.0.0.1:1", alerts_start_wait_s=wait_s))
    made._consumer = FlakyConsumer(script)  # type: ignore[assignment]
    return made


def not_leader() -> KafkaException:
    return KafkaException(KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION, "Broker: Not leader for partition"))


def test_no_leader_and_no_partitions_yet_are_waited_out() -> None:
    w = worker([not_leader(), [], not_leader(), [0, 1]])
    assert w._ends() == {0: 10, 1: 20}
    assert w._consumer.calls == 4  # type: ignore[attr-defined]


def test_a_lasting_transient_error_stops_start_up_after_the_wait() -> None:
    w = worker([not_leader()], wait_s=0.3)
    with pytest.raises(KafkaException, match="Not leader"):
        w._ends()


def test_other_errors_are_not_waited_out() -> None:
    denied = KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "denied"))
    w = worker([denied, [0]])
    with pytest.raises(KafkaException, match="denied"):
        w._ends()
    assert w._consumer.calls == 1  # type: ignore[attr-defined]
    assert transient(not_leader()) and not transient(denied) and not transient(ValueError("x"))
