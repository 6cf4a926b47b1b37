"""The projector's offset commits are informational (positions live in ClickHouse): one refused while the group
rebalances or its coordinator is away is logged, and the projector carries on."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumers.projector import Projector
from consumers.settings import ProjectorSettings


class RefusingConsumer:
    def __init__(self) -> None:
        self.tries = 0

    def commit(self, **_: Any) -> None:
        self.tries += 1
        raise KafkaException(KafkaError(KafkaError._STATE, "Erroneous state"))


def test_a_refused_commit_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    projector = Projector(ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1"), client=None)  # type: ignore[arg-type]
    consumer = RefusingConsumer()
    projector._consumer = consumer  # type: ignore[assignment]
    projector._commit([TopicPartition("t", 0, 5)])
    assert consumer.tries == 1
    assert "offset commit not sent" in caplog.text
