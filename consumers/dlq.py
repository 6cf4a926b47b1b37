"""The dead-letter topic: messages that cannot be decoded or break a rule, with the reason in headers.

A message is copied whole when it fits a produce request. One that does not (a ~1 MB key, a metric batch that
only fit the source topic compressed) is dead-lettered by reference: no key or value, and headers naming its
source partition, offset and size, so the DLQ never refuses a dead letter and the projector never stops on one.
Messages the consumer cannot even read (skipped past) are recorded the same way.
"""

from __future__ import annotations

from functools import partial

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from consumers.errors import ConsumerError

MAX_COPY_BYTES = 1_000_000  # librdkafka's default message.max.bytes, which also bounds key + value + headers
SIZE_ERRORS = {KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.INVALID_RECORD}

Headers = list[tuple[str, str | bytes | None]]


class DeadLetterPublisher:
    """Copies a bad message to the DLQ topic; flush() must succeed before its offset counts as done."""

    def __init__(self, bootstrap_servers: str, topic: str, *, max_copy_bytes: int = MAX_COPY_BYTES) -> None:
        self.topic = topic
        self.max_copy_bytes = max_copy_bytes
        self._producer = Producer({
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "client.id": "runstream-projector-dlq",
            "message.max.bytes": max(max_copy_bytes + 64 * 1024, 1_000_000),
        })
        self._errors: list[str] = []
        self._too_large: list[Headers] = []  # copies the broker refused: sent again by reference

    def publish(self, msg: Message, *, reason: str, message: str, fingerprint: str) -> None:
        key, value = msg.key() or b"", msg.value() or b""
        headers = source_headers(msg.topic() or "", msg.partition() or 0, msg.offset() or 0, reason, message,
                                 fingerprint, key_size=len(key), value_size=len(value))
        if len(key) + len(value) + sum(len(k) + len(v or b"") for k, v in headers) > self.max_copy_bytes:
            self.publish_reference(headers)
            return
        try:
            self._producer.produce(self.topic, value=msg.value(), key=msg.key(), headers=headers,
                                   on_delivery=partial(self._delivered, headers))
        except KafkaException as exc:
            if exc.args[0].code() not in SIZE_ERRORS:
                raise
            self.publish_reference(headers)

    def publish_reference(self, headers: Headers) -> None:
        """A dead letter without the message's bytes: its headers say where the original lies in the log."""
        self._producer.produce(self.topic, value=None, key=None, headers=[*headers, ("runstream.by_reference", b"1")],
                               on_delivery=partial(self._delivered, None))

    def publish_unreadable(self, topic: str, partition: int, offset: int, *, reason: str, message: str) -> None:
        """A dead letter for a message the consumer could not read at all (its size is not known)."""
        self.publish_reference(source_headers(topic, partition, offset, reason, message, "", key_size=None,
                                              value_size=None))

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until the broker has every dead letter; raise if any could not be delivered."""
        remaining = self._producer.flush(timeout)
        while self._too_large and not remaining:
            for headers in self._too_large:
                self.publish_reference(headers)
            self._too_large = []
            remaining = self._producer.flush(timeout)
        errors, self._errors = self._errors, []
        if remaining or errors:
            raise ConsumerError(f"dead-letter topic {self.topic}: {remaining} undelivered, errors: {errors}")

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued and release the producer."""
        self._producer.flush(timeout)
        del self._producer

    def _delivered(self, headers: Headers | None, err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            return
        if headers is not None and err.code() in SIZE_ERRORS:
            self._too_large.append(headers)
        else:
            self._errors.append(str(err))


def source_headers(topic: str, partition: int, offset: int, reason: str, message: str, fingerprint: str, *,
                   key_size: int | None, value_size: int | None) -> Headers:
    """The headers of a dead letter: why, and where its original lies (sizes "unknown" when unread)."""
    size = "unknown" if key_size is None or value_size is None else str(key_size + value_size)
    return [
        ("runstream.error.reason", reason.encode()),
        ("runstream.error.message", message[:4096].encode()),
        ("runstream.source.topic", topic.encode()),
        ("runstream.source.partition", str(partition).encode()),
        ("runstream.source.offset", str(offset).encode()),
        ("runstream.source.size", size.encode()),
        ("runstream.source.key_size", ("unknown" if key_size is None else str(key_size)).encode()),
        ("runstream.fingerprint", fingerprint.encode()),
    ]
