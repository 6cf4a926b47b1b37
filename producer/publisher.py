"""The Kafka edge of the SDK: a write-ahead spool on disk feeding an idempotent producer keyed by run_id.

A log call only appends to the spool and returns; a sender thread hands events to librdkafka in spool
order, and an event leaves the spool when the broker acknowledges it. While the broker is away events wait
on disk (up to spool_max_bytes); events left when the process ends are sent by the next Tracker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from confluent_kafka import KafkaError, Message, Producer

from producer.settings import TrackerSettings
from producer.spool import Segment, claim_orphans, read_records, record_head

log = logging.getLogger("runstream.producer")
ROTATE_BYTES = 64 * 1024 * 1024
REPORT_EVERY_S = 10.0


@dataclass(eq=False)
class _SegmentState:
    path: Path
    segment: Segment | None = None  # ours, being written
    orphan: BinaryIO | None = None  # another process's, locked while we deliver it
    written: int = 0
    acked: int = 0

    def done(self) -> bool:
        return self.acked == self.written


@dataclass(eq=False)
class _Entry:
    key: str
    value: bytes
    size: int
    state: _SegmentState = field(repr=False)


class Publisher:
    """Spools, sends, remembers what the broker acknowledged, and reports what it could not do."""

    def __init__(self, settings: TrackerSettings, *, extra_config: dict[str, Any] | None = None) -> None:
        self._topic = settings.topic
        self._dir = settings.spool_dir.expanduser() / settings.topic
        self._max_bytes = settings.spool_max_bytes
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
        self._cv = threading.Condition()
        self._pending: deque[_Entry] = deque()
        self._current: _SegmentState | None = None
        self._unacked_events = 0
        self._unacked_bytes = 0
        self._closing = False
        self._last_ack = time.monotonic()
        self._last_report = 0.0
        self.acked_offsets: dict[int, int] = {}
        self.delivered = 0
        self.dropped = 0
        self.recovered = 0
        self.failed: list[str] = []
        self._recover()
        self._sender = threading.Thread(target=self._send_loop, name="runstream-sender", daemon=True)
        self._sender.start()

    # -- called by the Tracker ----------------------------------------------------------------------------
    def send(self, key: str, value: bytes) -> None:
        """Append the event to the spool and queue it; never waits for the broker."""
        head = record_head(key, value)
        size = len(head) + len(value)
        with self._cv:
            if self._unacked_bytes + size > self._max_bytes:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    log.error("runstream spool %s is full (%d bytes waiting for Kafka): %d events dropped so far",
                              self._dir, self._unacked_bytes, self.dropped)
                return
            state = self._writable_segment()
            assert state.segment is not None
            state.segment.append(head, value)
            state.written += 1
            self._queue(_Entry(key, value, size, state))
            self._cv.notify()

    def poll(self, timeout: float = 0.0) -> None:
        self._producer.poll(timeout)

    def flush(self, timeout: float) -> int:
        """Wait until every spooled event is acknowledged; return how many are still waiting."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._pending and time.monotonic() < deadline:
                self._cv.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        self._producer.flush(max(0.0, deadline - time.monotonic()))
        return self.pending()

    def pending(self) -> int:
        with self._cv:
            return self._unacked_events

    def depth(self) -> tuple[int, int]:
        """(events, bytes) spooled and not yet acknowledged."""
        with self._cv:
            return self._unacked_events, self._unacked_bytes

    def close(self, timeout: float) -> int:
        """Deliver what can be within timeout; what cannot stays in the spool for the next Tracker."""
        remaining = self.flush(timeout)
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        self._sender.join(5)
        # What the broker has not acknowledged by now stays in the spool for the next Tracker: drop it from
        # librdkafka (its reports are purge errors, not failures) so the client closes now instead of retrying
        # in the background for as long as the process lives.
        self._producer.purge(in_queue=True, in_flight=True, blocking=True)
        self._producer.poll(0)
        self._producer.close()
        with self._cv:
            if self._current is not None and self._current.segment is not None:
                self._current.segment.close(delete=self._current.done())
            if remaining:
                log.warning("%d runstream events stay spooled in %s; the next Tracker (or `runstream spool "
                            "flush`) sends them", remaining, self._dir)
        return remaining

    # -- internals -----------------------------------------------------------------------------------------
    def _queue(self, entry: _Entry) -> None:
        self._pending.append(entry)
        self._unacked_events += 1
        self._unacked_bytes += entry.size

    def _writable_segment(self) -> _SegmentState:
        current = self._current
        if current is not None and current.segment is not None and current.segment.bytes >= ROTATE_BYTES \
                and current.done():
            current.segment.close(delete=True)
            current = None
        if current is None:
            segment = Segment.create(self._dir)
            current = self._current = _SegmentState(segment.path, segment=segment)
        return current

    def _recover(self) -> None:
        """Queue the records of segments left by ended processes, before anything new."""
        for path, stream in claim_orphans(self._dir):
            state = _SegmentState(path, orphan=stream)
            for key, value in read_records(stream):
                state.written += 1
                self._queue(_Entry(key, value, len(value) + len(key) + 10, state))
            self.recovered += state.written
            if state.written == 0:
                self._finish_orphan(state)
        if self.recovered:
            log.warning("runstream: sending %d events spooled by an earlier process", self.recovered)

    def _finish_orphan(self, state: _SegmentState) -> None:
        state.path.unlink(missing_ok=True)
        if state.orphan is not None:
            state.orphan.close()

    def _send_loop(self) -> None:
        while True:
            with self._cv:
                if not self._pending and not self._closing:
                    self._cv.wait(0.1)
                    self._report()
                if self._closing:
                    return
                entry = self._pending.popleft() if self._pending else None
            if entry is None:  # idle: delivery reports still arrive (acknowledged offsets, the spool trimmed)
                self._producer.poll(0)
                continue
            try:
                self._producer.produce(self._topic, value=entry.value, key=entry.key,
                                       on_delivery=partial(self._on_delivery, entry))
            except BufferError:  # librdkafka's queue is full: the broker is slow or away; keep the order
                with self._cv:
                    self._pending.appendleft(entry)
                self._producer.poll(0.1)
            self._producer.poll(0)
            with self._cv:
                self._report()

    def _report(self) -> None:
        now = time.monotonic()
        if self._unacked_events and now - self._last_ack > REPORT_EVERY_S and now - self._last_report > REPORT_EVERY_S:
            self._last_report = now
            log.warning("runstream: %d events (%.1f MB) spooled in %s, waiting for Kafka", self._unacked_events,
                        self._unacked_bytes / 1e6, self._dir)

    def _on_delivery(self, entry: _Entry, err: KafkaError | None, msg: Message) -> None:
        if err is not None and err.code() in (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT):
            return  # purged at close: the event stays spooled, for the next Tracker
        if err is not None:
            # With an unbounded message timeout only a permanent error lands here; the event stays spooled.
            message = f"event for run {entry.key} not delivered: {err.str()}"
            log.error(message)
            with self._cv:
                self.failed.append(message)
            return
        with self._cv:
            self.delivered += 1
            self._last_ack = time.monotonic()
            self._unacked_events -= 1
            self._unacked_bytes -= entry.size
            state = entry.state
            state.acked += 1
            partition, offset = msg.partition(), msg.offset()
            if partition is not None and offset is not None and offset > self.acked_offsets.get(partition, -1):
                self.acked_offsets[partition] = offset
            if state.orphan is not None and state.done():
                self._finish_orphan(state)
            self._cv.notify_all()
