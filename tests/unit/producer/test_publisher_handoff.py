"""Who hands an event to librdkafka: the log call itself when nothing waits before it, else the sender thread, in
spool order either way (librdkafka stood in for by a fake that can refuse with BufferError, as a full queue does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import producer.publisher as publisher_module
from producer import TrackerSettings
from producer.publisher import Publisher
from producer.spool import read_records


class _Message:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


class FakeProducer:
    """librdkafka's producer as the publisher uses it: produce queues or raises BufferError, poll serves reports."""

    latest: FakeProducer

    def __init__(self, config: dict[str, Any]) -> None:
        self.full = threading.Event()
        self.produced: list[tuple[str, bytes, str]] = []  # key, value, the producing thread's name
        self._reports: list[Callable[[Any, Any], None]] = []
        self._lock = threading.Lock()
        FakeProducer.latest = self

    def produce(self, topic: str, *, value: bytes, key: str, on_delivery: Callable[[Any, Any], None]) -> None:
        if self.full.is_set():
            raise BufferError("Local: Queue full")
        with self._lock:
            self.produced.append((key, value, threading.current_thread().name))
            self._reports.append(on_delivery)

    def poll(self, timeout: float = 0.0) -> int:
        with self._lock:
            reports, self._reports = self._reports, []
            first = len(self.produced) - len(reports)
        for i, report in enumerate(reports):
            report(None, _Message(first + i))
        if not reports and timeout:
            time.sleep(min(timeout, 0.01))
        return len(reports)

    def flush(self, timeout: float = 0.0) -> int:
        deadline = time.monotonic() + timeout
        while self._reports and time.monotonic() < deadline:
            self.poll(0.01)
        return len(self._reports)

    def purge(self, **kwargs: Any) -> None: ...
    def close(self) -> None: ...


@pytest.fixture
def publisher(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Publisher:
    monkeypatch.setattr(publisher_module, "Producer", FakeProducer)
    return Publisher(TrackerSettings(spool_dir=tmp_path))


def test_an_event_with_nothing_before_it_is_handed_over_by_the_log_call(publisher: Publisher) -> None:
    events = [(f"run-{i % 2}", f"event-{i}".encode()) for i in range(20)]
    for key, value in events:
        publisher.send(key, value)
    fake = FakeProducer.latest
    assert [(k, v) for k, v, _ in fake.produced] == events
    assert {thread for _, _, thread in fake.produced} == {threading.current_thread().name}, \
        "no thread switch per event: the caller produced each"
    assert publisher.close(5) == 0


def test_the_order_is_kept_while_librdkafka_is_full_and_after(publisher: Publisher, tmp_path: Path) -> None:
    fake = FakeProducer.latest
    sent = []

    def send(i: int) -> None:
        sent.append((f"run-{i % 3}", f"event-{i}".encode()))
        publisher.send(*sent[-1])

    send(0)
    fake.full.set()  # the broker is slow: librdkafka refuses; the events wait in the spool, in order
    for i in range(1, 30):
        send(i)
    assert len(fake.produced) == 1
    assert publisher.pending() >= 29  # the first may be acknowledged already
    fake.full.clear()
    for i in range(30, 60):  # queued behind the waiting ones (the sender hands them over), never before them
        send(i)
    assert publisher.flush(10) == 0
    for i in range(60, 70):  # nothing waits any more: the caller hands them over again
        send(i)
    assert publisher.flush(10) == 0
    assert [(k, v) for k, v, _ in fake.produced] == sent
    assert {thread for *_, thread in fake.produced[60:]} == {threading.current_thread().name}
    assert "runstream-sender" in {thread for *_, thread in fake.produced[1:30]}
    segment = next((tmp_path / "runstream.events").glob("*.spool"))
    with segment.open("rb") as stream:
        assert list(read_records(stream)) == sent, "every event spooled before it was handed over"
    assert publisher.close(5) == 0


def test_events_from_many_threads_keep_each_threads_order(publisher: Publisher) -> None:
    fake = FakeProducer.latest

    def log(thread: int) -> None:
        for i in range(200):
            if thread == 0 and i % 50 == 0:
                fake.full.set()
            elif thread == 0 and i % 50 == 25:
                fake.full.clear()
            publisher.send(f"run-{thread}", f"{thread}:{i}".encode())

    threads = [threading.Thread(target=log, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fake.full.clear()
    assert publisher.flush(10) == 0
    for t in range(4):
        assert [v for k, v, _ in fake.produced if k == f"run-{t}"] == [f"{t}:{i}".encode() for i in range(200)]
    assert publisher.close(5) == 0
