"""The Kafka edge of the SDK: an idempotent producer keyed by run_id."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from producer.settings import TrackerSettings

log = logging.getLogger("runstream.producer")


class Publisher:
    """Sends encoded events, remembers what the broker acknowledged, and reports failures."""

    def __init__(self, settings: TrackerSettings, *, extra_config: dict[str, Any] | None = None) -> None:
        self._topic = settings.topic
        self._block_s = settings.produce_block_s
        config: dict[str, Any] = {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": settings.compression,
            "linger.ms": settings.linger_ms,
            "message.timeout.ms": settings.message_timeout_ms,
            "queue.buffering.max.messages": 100_000,
            "queue.buffering.max.kbytes": 256 * 1024,
            "client.id": "runstream-sdk",
        }
        config.update(extra_config or {})
        self._producer = Producer(config)
        self._lock = threading.Lock()
        self.acked_offsets: dict[int, int] = {}
        self.delivered = 0
        self.failed: list[str] = []

    def send(self, key: str, value: bytes) -> None:
        """Queue one event; waits at most produce_block_s while librdkafka's queue is full."""
        deadline = time.monotonic() + self._block_s
        while True:
            try:
                self._producer.produce(self._topic, value=value, key=key, on_delivery=self._on_delivery)
                return
            except BufferError:
                if time.monotonic() >= deadline:
                    self._record_failure(f"send queue stayed full for {self._block_s}s; event for run {key} dropped")
                    return
                self._producer.poll(0.05)

    def poll(self, timeout: float = 0.0) -> None:
        self._producer.poll(timeout)

    def flush(self, timeout: float) -> int:
        """Wait for every queued event to be acknowledged; return how many are still undelivered."""
        return int(self._producer.flush(timeout))

    def pending(self) -> int:
        return len(self._producer)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._record_failure(f"event for run {msg.key()!r} not delivered: {err.str()}")
            return
        with self._lock:
            self.delivered += 1
            partition, offset = msg.partition(), msg.offset()
            if partition is not None and offset is not None and offset > self.acked_offsets.get(partition, -1):
                self.acked_offsets[partition] = offset

    def _record_failure(self, message: str) -> None:
        log.error(message)
        with self._lock:
            self.failed.append(message)
