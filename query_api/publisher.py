"""The API's edge to Kafka: publish events and answer once the broker has acknowledged every one of them.

Writes from HTTP front doors (the MLflow-compatible API, artifact uploads) travel as the same Avro events the
SDK sends, keyed the same way. Unlike the SDK nothing is spooled: the caller holds an HTTP request open, so a
broker that does not acknowledge in time is an error the client sees (503, which MLflow's client retries).
The highest acknowledged offset per partition is kept for read-your-writes (query_api/consistency.py).

Every event of a request is encoded and measured before the first is sent, and a request of several events is
one Kafka transaction (query_api/transactions.py): a refusal or a failure leaves nothing half-written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from query_api.errors import InvalidParameter, Unavailable
from query_api.transactions import Encoded, TransactionalSender, TransactionFailed
from schemas import RunEvent, encode
from schemas.model_events import REGISTRY_KEY

log = logging.getLogger("runstream.api")


class PublishFailed(Unavailable):
    """The broker did not acknowledge an event in time (or refused it); nothing may be assumed written."""


class EventTooLarge(InvalidParameter):
    status_code = 413
    error_code = "RESOURCE_LIMIT_EXCEEDED"


# Kafka's default message.max.bytes is 1 MiB + 12 bytes of batch overhead; stay under it with room for headers.
MAX_EVENT_BYTES = 1_000_000


class _Pending:
    def __init__(self, count: int) -> None:
        self.left = count
        self.errors: list[str] = []
        self.done = threading.Event()


class ApiPublisher:
    """An idempotent producer (acks=all) whose publish() blocks until the broker acknowledged each event."""

    def __init__(self, bootstrap_servers: str, topic: str, *, timeout_s: float = 10.0,
                 extra_config: dict[str, Any] | None = None, transactions: bool = True,
                 max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self.max_event_bytes = max_event_bytes
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "zstd",
            "linger.ms": 1,
            # librdkafka stops retrying when the HTTP caller has been told it failed (plus a margin).
            "message.timeout.ms": int(timeout_s * 1000),
            "client.id": "runstream-api",
        }
        config.update(extra_config or {})
        self._producer = Producer(config)
        self._transactions = TransactionalSender(config, topic, timeout_s=timeout_s) if transactions else None
        self._lock = threading.Lock()
        self._acked: dict[int, int] = {}
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="runstream-api-publisher", daemon=True)
        self._poller.start()

    def publish(self, events: Sequence[RunEvent]) -> None:
        """Send the events in order (each keyed by its run, else its experiment) and wait for every ack;
        several events go in one transaction, so either all of them are written or none."""
        if not events:
            return
        encoded = [self._encoded(event) for event in events]  # every one checked before any is sent
        if len(encoded) > 1 and self._transactions is not None:
            try:
                self._transactions.send(encoded, self._record_ack)
            except TransactionFailed as exc:
                raise PublishFailed(f"Kafka did not take the write, nothing of it was written: {exc}") from None
            return
        pending = _Pending(len(events))

        def delivered(err: KafkaError | None, msg: Message) -> None:
            self._delivered(pending, err, msg)

        try:
            for key, value in encoded:
                self._producer.produce(self.topic, value=value, key=key, on_delivery=delivered)
        except BufferError as exc:
            raise PublishFailed(f"Kafka's send queue is full, try again: {exc}") from None
        if not pending.done.wait(self.timeout_s):
            raise PublishFailed(f"Kafka did not acknowledge the write within {self.timeout_s:g} s "
                                f"({pending.left} of {len(events)} events unacknowledged)")
        if pending.errors:
            raise PublishFailed(f"Kafka refused the write: {pending.errors[0]}")

    def _encoded(self, event: RunEvent) -> Encoded:
        key = event.run_id or event.experiment_id or REGISTRY_KEY  # registry events: one partition
        try:
            value = encode(event)
        except (ValueError, TypeError, OverflowError) as exc:  # a value the schema cannot carry
            raise InvalidParameter(f"the request cannot be recorded as a {type(event.payload).__name__} "
                                   f"event: {str(exc)[:300]}") from None
        if len(value) > self.max_event_bytes:
            raise EventTooLarge(f"the request makes a {type(event.payload).__name__} event of {len(value)} bytes; "
                                f"the limit is {self.max_event_bytes} (shorten names, tags, schemas or locations)")
        return key, value

    def _record_ack(self, partition: int, offset: int) -> None:
        with self._lock:
            if offset > self._acked.get(partition, -1):
                self._acked[partition] = offset

    def acked(self) -> dict[int, int]:
        """Highest acknowledged offset per partition, so far."""
        with self._lock:
            return dict(self._acked)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is in flight (within timeout), then stop the client: no reconnecting afterwards."""
        self._closed.set()
        self._poller.join(timeout)
        if self._transactions is not None:
            self._transactions.close(timeout)
        self._producer.flush(timeout)
        self._producer.purge(in_queue=True, in_flight=True, blocking=False)
        self._producer.close()

    def _delivered(self, pending: _Pending, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            pending.errors.append(err.str())
        else:
            partition, offset = msg.partition(), msg.offset()
            if partition is not None and offset is not None:
                self._record_ack(partition, offset)
        pending.left -= 1  # only the poller thread runs delivery callbacks
        if pending.left == 0:
            pending.done.set()

    def _poll_loop(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.05)
