"""Skipping an unreadable batch: find where it ends with a probe consumer, then record it as dead letters."""

from __future__ import annotations

import logging
import time
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition

from consumers.errors import ConsumerError
from consumers.stalls import UNREADABLE, Stall, batch_end

log = logging.getLogger("runstream.projector")

PROBE_TIMEOUT_S = 15.0


class BatchProber:
    """A consumer of its own (no group, nothing committed) that fetches from chosen offsets of a partition."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"runstream-probe-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.error.backoff.ms": 10,
            "fetch.wait.max.ms": 10,
            "client.id": "runstream-projector-probe",
        })

    def close(self) -> None:
        self._consumer.close()

    def high_watermark(self, partition: int) -> int:
        return int(self._consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=10)[1])

    def unreadable_from(self, partition: int, first: int, offset: int) -> bool:
        """Whether a fetch from `offset` still meets the unreadable batch that starts at `first`."""
        self._consumer.assign([TopicPartition(self.topic, partition, offset)])
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                for msg in self._consumer.consume(1, 0.5):
                    err = msg.error()
                    if err is None:
                        return False  # a readable message at or after `offset`
                    if err.code() in UNREADABLE:
                        return msg.offset() == first
                    if err.code() == KafkaError._PARTITION_EOF:
                        return False
        finally:
            self._consumer.unassign()
        raise ConsumerError(f"probing partition {partition} of {self.topic} at offset {offset}: no answer in "
                            f"{PROBE_TIMEOUT_S}s")


def unreadable_range(bootstrap_servers: str, topic: str, stall: Stall, resume_at: int) -> tuple[int, int]:
    """(first, last) offsets to skip for a stall: from where the partition resumes (at least the offset the
    error names) to the end of the batch that cannot be read."""
    prober = BatchProber(bootstrap_servers, topic)
    try:
        high = prober.high_watermark(stall.partition)
        last = batch_end(stall.offset, high, lambda o: prober.unreadable_from(stall.partition, stall.offset, o))
    finally:
        prober.close()
    first = max(stall.offset, resume_at)
    log.error("partition %d of %s cannot be read at offset %d (%s): skipping offsets %d..%d into dead letters",
              stall.partition, topic, stall.offset, stall.error, first, last)
    return first, max(first, last)
