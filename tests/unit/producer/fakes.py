"""A stand-in for the SDK's Kafka edge (producer.publisher.Publisher), shared by the producer unit tests."""

from __future__ import annotations

import threading

from schemas import MetricsLogged, RunEvent, decode


class RecordingPublisher:
    """Stands in for producer.publisher.Publisher: keeps what would have been sent to Kafka."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.acked_offsets: dict[int, int] = {}
        self.failed: list[str] = []
        self.flushes: list[float] = []
        self.closed: list[float] = []
        self._lock = threading.Lock()

    def send(self, key: str, value: bytes) -> None:
        with self._lock:
            self.sent.append((key, value))

    def poll(self, timeout: float = 0.0) -> None:
        return None

    def flush(self, timeout: float) -> int:
        self.flushes.append(timeout)
        return 0

    def pending(self) -> int:
        return 0

    def close(self, timeout: float) -> int:
        self.closed.append(timeout)
        return 0

    def depth(self) -> tuple[int, int]:
        return 0, 0

    # -- helpers for the tests ---------------------------------------------------------------------
    def events(self) -> list[RunEvent]:
        with self._lock:
            sent = list(self.sent)
        return [decode(value) for _, value in sent]

    def run_events(self, run_id: str) -> list[RunEvent]:
        return [e for e in self.events() if e.run_id == run_id]

    def batches(self, run_id: str | None = None) -> list[MetricsLogged]:
        return [e.payload for e in self.events()
                if isinstance(e.payload, MetricsLogged) and (run_id is None or e.run_id == run_id)]
