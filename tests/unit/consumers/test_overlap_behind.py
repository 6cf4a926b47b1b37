"""With `overlap_from_bytes`, only a large consumed batch (a backlog's) is inserted while the next is decoded; a
small one is written before `process` returns, so the next consumed batch grows meanwhile."""

from __future__ import annotations

import threading

from consumers.projector import Projector
from consumers.settings import ProjectorSettings
from schemas import MetricsLogged, encode
from tests.unit.consumers.test_overlapped_writer import GatedSink
from tests.unit.consumers.test_projection_rules import FakeMessage, logged


def projector_with(sink: GatedSink, from_bytes: int) -> Projector:
    settings = ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1", overlap_inserts=True,
                                 overlap_from_bytes=from_bytes)
    projector = Projector(settings, client=None, sink=sink)  # type: ignore[arg-type]
    projector._commit = lambda offsets: None  # type: ignore[method-assign]  # no broker in unit tests
    projector.writer.load_positions([0])
    return projector


def messages(first: int, count: int) -> list[FakeMessage]:
    batch = MetricsLogged(["loss"], [0], [0], [0], [1.0])
    return [FakeMessage(encode(logged(batch, seq=i + 1).event), i) for i in range(first, first + count)]


def test_a_large_batch_returns_while_its_metrics_are_inserted_and_a_small_one_waits_for_them() -> None:
    small, large = messages(0, 2), messages(2, 20)
    limit = sum(len(m.value()) for m in large)
    sink = GatedSink()
    projector = projector_with(sink, limit)
    processed = threading.Event()

    def process_small() -> None:
        projector.process(small)  # type: ignore[arg-type]
        processed.set()

    thread = threading.Thread(target=process_small)
    thread.start()
    assert sink.in_flight.wait(10)
    assert not processed.wait(0.3), "a small batch is written before process returns"
    sink.gate.set()
    thread.join(10)
    assert processed.is_set() and projector.positions["events"][0] == 1
    sink.gate.clear()
    projector.process(large)  # type: ignore[arg-type]  # returns with its metrics insert held at the gate
    assert sink.in_flight.wait(10)
    assert projector.positions["events"][0] == 1
    sink.gate.set()
    projector.drain()
    assert projector.positions["events"][0] == projector.positions["metrics"][0] == 21
    projector.overlapped.close()  # type: ignore[union-attr]


def test_without_a_bound_every_batch_is_overlapped() -> None:
    sink = GatedSink()
    projector = projector_with(sink, 0)
    projector.process(messages(0, 2))  # type: ignore[arg-type]
    assert sink.in_flight.wait(10)
    sink.gate.set()
    projector.drain()
    assert projector.positions["events"][0] == 1
    projector.overlapped.close()  # type: ignore[union-attr]
