"""All-or-nothing publishing of a request that becomes several events: one Kafka transaction per request.

runs/update with a new name is RunRenamed plus the `mlflow.runName` tag; a log-batch can be params, tags and a
metric batch; runs/create announces the Default experiment, starts the run and sets its tags. Sent one by one,
a failure after the first left the run half-changed for ever (a name and its tag disagreeing, a seq gap). In a
transaction the projector (read_committed, librdkafka's default, set explicitly in consumers/projector.py) sees
all of them or none: a failure aborts, and an aborted event is never projected.

A transactional producer runs one transaction at a time, so a few of them serve concurrent requests. The first is
initialised in the background at start-up (the coordinator took 8 s to answer on a loaded machine), the others on
first use (the broker's transaction coordinator answers within the timeout or the write is a 503).
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

log = logging.getLogger("runstream.api")

Encoded = tuple[str, bytes]  # key, value


class TransactionFailed(Exception):
    """The transaction was aborted (or never began): none of its events is visible to read_committed readers."""


class TransactionalSender:
    """A small pool of transactional producers; send() publishes a list of messages atomically."""

    def __init__(self, config: dict[str, Any], topic: str, *, timeout_s: float, size: int = 2) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self._config = {**config, "transaction.timeout.ms": max(10_000, int(timeout_s * 3000))}
        self._config.pop("message.timeout.ms", None)  # a transactional producer's must not exceed the txn's
        self._free: queue.Queue[Producer | None] = queue.Queue()
        for _ in range(size):
            self._free.put(None)  # made on first use
        self._all: list[Producer] = []
        self._lock = threading.Lock()
        self._ready: queue.Queue[Producer] = queue.Queue()  # initialised ahead of the first request
        self._closed = False
        threading.Thread(target=self._warm_up, name="runstream-api-txn-init", daemon=True).start()

    def _warm_up(self) -> None:
        try:
            self._ready.put(self._new_producer())
        except TransactionFailed as exc:  # the first request tries again, and answers 503 if it cannot
            log.warning("transactional producer not ready at start-up: %s", exc)

    def send(self, messages: Sequence[Encoded], on_acked: Callable[[int, int], None]) -> None:
        """Publish every message or none; on_acked(partition, offset) for each, only once committed."""
        producer = self._free.get()
        try:
            if producer is None:
                try:
                    producer = self._ready.get_nowait()
                except queue.Empty:
                    producer = self._new_producer()
            acked: list[tuple[int, int]] = []
            errors: list[str] = []

            def delivered(err: KafkaError | None, msg: Message) -> None:
                if err is not None:
                    errors.append(err.str())
                elif msg.partition() is not None and msg.offset() is not None:
                    acked.append((msg.partition(), msg.offset()))  # type: ignore[arg-type]

            try:
                producer.begin_transaction()
                for key, value in messages:
                    producer.produce(self.topic, value=value, key=key, on_delivery=delivered)
                producer.commit_transaction(self.timeout_s)  # flushes: delivery callbacks run here
            except (KafkaException, BufferError) as exc:
                producer = self._abort(producer, exc)
                raise TransactionFailed(str(exc)) from None
            if errors:  # cannot happen after a successful commit; kept loud rather than silent
                raise TransactionFailed(errors[0])
            for partition, offset in acked:
                on_acked(partition, offset)
        finally:
            self._free.put(producer)

    def _new_producer(self) -> Producer:
        config = {**self._config, "transactional.id": f"runstream-api-{uuid.uuid4().hex}"}
        producer = Producer(config)
        try:
            producer.init_transactions(self.timeout_s)
        except KafkaException as exc:
            raise TransactionFailed(f"Kafka's transaction coordinator did not answer: {exc}") from None
        with self._lock:
            if self._closed:  # closed while the coordinator was being asked: no client left reconnecting
                producer.close()
                raise TransactionFailed("the publisher is closed")
            self._all.append(producer)
        return producer

    def _abort(self, producer: Producer, exc: BaseException) -> Producer | None:
        """Abort the open transaction; a producer that cannot abort (fatal error, fenced) is dropped."""
        error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
        if isinstance(error, KafkaError) and error.fatal():
            log.error("transactional producer failed fatally, replacing it: %s", error)
            return None
        try:
            producer.abort_transaction(self.timeout_s)
            return producer
        except KafkaException as abort_error:
            log.error("could not abort a transaction, replacing its producer: %s", abort_error)
            return None

    def close(self, timeout: float = 5.0) -> None:
        """Stop every producer (an open transaction of a dropped one ends at transaction.timeout.ms)."""
        with self._lock:
            self._closed = True
            producers, self._all = self._all, []
        for producer in producers:
            producer.flush(timeout)
            producer.close()
