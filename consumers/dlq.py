"""The dead-letter topic: messages that cannot be decoded or break a rule, with the reason in headers."""

from __future__ import annotations

from confluent_kafka import Message, Producer

from consumers.errors import ConsumerError


class DeadLetterPublisher:
    """Copies a bad message to the DLQ topic; flush() must succeed before its offset counts as done."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self._producer = Producer({
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "client.id": "runstream-projector-dlq",
        })
        self._errors: list[str] = []

    def publish(self, msg: Message, *, reason: str, message: str, fingerprint: str) -> None:
        headers: list[tuple[str, str | bytes | None]] = [
            ("runstream.error.reason", reason.encode()),
            ("runstream.error.message", message.encode()),
            ("runstream.source.topic", (msg.topic() or "").encode()),
            ("runstream.source.partition", str(msg.partition()).encode()),
            ("runstream.source.offset", str(msg.offset()).encode()),
            ("runstream.fingerprint", fingerprint.encode()),
        ]
        self._producer.produce(self.topic, value=msg.value(), key=msg.key(), headers=headers,
                               on_delivery=self._on_delivery)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until the broker has every dead letter; raise if any could not be delivered."""
        remaining = self._producer.flush(timeout)
        errors, self._errors = self._errors, []
        if remaining or errors:
            raise ConsumerError(f"dead-letter topic {self.topic}: {remaining} undelivered, errors: {errors}")

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued and release the producer."""
        self._producer.flush(timeout)
        del self._producer

    def _on_delivery(self, err: object, msg: Message) -> None:
        if err is not None:
            self._errors.append(str(err))
