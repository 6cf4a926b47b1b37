"""What the projector has done, for /metrics: counters, a recent rate, and insert latencies."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from prometheus_client import Histogram

RATE_WINDOW_S = 30.0


def _latency() -> Histogram:
    # Not registered anywhere: the API's collector reads it (nothing global is created at import time).
    return Histogram("runstream_projector_insert_seconds", "ClickHouse insert latency per table block",
                     ["table"], registry=None, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


DELAY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)


def _delay(name: str, what: str) -> Histogram:
    return Histogram(name, what, registry=None, buckets=DELAY_BUCKETS)


@dataclass
class ProjectorStats:
    events: int = 0
    points: int = 0
    dead_letters: int = 0
    duplicates: int = 0
    batches: int = 0
    insert_seconds: float = 0.0
    last_batch_at: float | None = None
    assigned: list[int] = field(default_factory=list)
    topic_partitions: int = 0
    """The topic's partition count as the last assignment saw it (0: unknown)."""
    insert_latency: Histogram = field(default_factory=_latency)
    skipped_messages: int = 0
    consumers_replaced: int = 0
    """Consumers replaced after staying out of their group too long (consumers/groupwatch.py)."""
    """Offsets the consumer could not read, skipped into dead letters (also counted in dead_letters)."""
    skips: deque[dict[str, object]] = field(default_factory=lambda: deque(maxlen=20))
    waited: Histogram = field(default_factory=lambda: _delay(
        "runstream_projector_waited_seconds",
        "Per consumed batch: from its oldest message's Kafka timestamp to the batch in the projector's hands"))
    written: Histogram = field(default_factory=lambda: _delay(
        "runstream_projector_write_seconds", "Per consumed batch: from its consumption to every table written"))
    visible: Histogram = field(default_factory=lambda: _delay(
        "runstream_projector_visible_age_seconds",
        "Per consumed batch: from its oldest message's Kafka timestamp to every table written"))
    _window: deque[tuple[float, int, int]] = field(default_factory=deque)

    def record_batch(self, *, events: int, points: int, dead_letters: int, duplicates: int) -> None:
        now = time.monotonic()
        self.events += events
        self.points += points
        self.dead_letters += dead_letters
        self.duplicates += duplicates
        self.batches += 1
        self.last_batch_at = time.time()
        self._window.append((now, self.events, self.points))
        while self._window and now - self._window[0][0] > RATE_WINDOW_S:
            self._window.popleft()

    def record_timing(self, *, oldest_ms: int | None, consumed: float, written: float) -> None:
        """Where a batch's time went: waiting (log -> consumed) and writing (consumed -> written); epoch seconds."""
        self.written.observe(max(written - consumed, 0.0))
        if oldest_ms is not None:
            self.waited.observe(max(consumed - oldest_ms / 1000, 0.0))
            self.visible.observe(max(written - oldest_ms / 1000, 0.0))

    def record_skip(self, partition: int, first: int, last: int, error: str) -> None:
        self.skipped_messages += last - first + 1
        self.skips.append({"partition": partition, "first_offset": first, "last_offset": last, "error": error,
                           "at": time.time()})

    def rates(self) -> tuple[float, float]:
        """(events/s, points/s) over the last RATE_WINDOW_S seconds of batches."""
        if len(self._window) < 2:
            return 0.0, 0.0
        (t0, e0, p0), (t1, e1, p1) = self._window[0], self._window[-1]
        now = time.monotonic()
        if now - t1 > RATE_WINDOW_S:
            return 0.0, 0.0
        span = max(now - t0, 1e-6)
        return (e1 - e0) / span, (p1 - p0) / span
