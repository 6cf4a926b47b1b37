"""The SDK's sender hears the broker's acknowledgements while the training loop logs nothing more: the spool
is trimmed and the acknowledged offsets advance without a flush (the cluster test and the read barrier use them)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from consumers.topics import ensure_topics
from producer.publisher import Publisher
from producer.settings import TrackerSettings
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def test_acknowledgements_arrive_while_idle(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = f"acks.{uuid.uuid4().hex[:8]}"
    ensure_topics(AdminClient({"bootstrap.servers": kafka_bootstrap}), [topic], partitions=1)
    publisher = Publisher(TrackerSettings(kafka_bootstrap_servers=kafka_bootstrap, topic=topic, spool_dir=tmp_path))
    try:
        publisher.send("run-1", b"first")
        wait_for(lambda: publisher.pending() == 0, 30, 0.1, what="the acknowledgement, with no flush and no send")
        assert publisher.acked_offsets == {0: 0}
        publisher.send("run-1", b"second")
        wait_for(lambda: publisher.acked_offsets == {0: 1}, 30, 0.1, what="the second acknowledgement")
    finally:
        assert publisher.close(10) == 0
