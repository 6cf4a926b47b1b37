"""The live projector's inserts run on a thread of their own while the next batch is decoded: every table still
gets its blocks in offset order, a group's events rows still come after its other tables', screening that asks
ClickHouse waits for what is in flight, and a failed insert stops everything after it."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from consumers.errors import SinkError
from consumers.projections import Block
from consumers.writer import BatchResult, BatchWriter, OverlappedWriter
from schemas import MetricsLogged, RunStarted, encode
from tests.unit.consumers.test_projection_rules import RUN, FakeMessage, RecordingSink, logged


class GatedSink(RecordingSink):
    """Records inserts; holds each metrics insert until the test opens the gate, and can fail one table."""

    def __init__(self, fail: str = "") -> None:
        super().__init__()
        self.gate = threading.Event()
        self.in_flight = threading.Event()
        self.fail = fail
        self.asked_while_in_flight: list[bool] = []

    def insert(self, block: Block, *, token: str) -> None:
        if block.table == "metric_chunks":
            self.in_flight.set()
            assert self.gate.wait(10)
            self.in_flight.clear()
        if block.table == self.fail:
            raise SinkError(f"insert into {block.table} failed")
        super().insert(block, token=token)

    def first_experiments(self, partition: int, run_ids: list[str], before: int, **kw: Any) -> dict[str, str]:
        self.asked_while_in_flight.append(self.in_flight.is_set())
        return super().first_experiments(partition, run_ids, before, **kw)


class KeyedMessage(FakeMessage):
    def __init__(self, value: bytes, offset: int, run_id: str) -> None:
        super().__init__(value, offset)
        self.run_id = run_id

    def key(self) -> bytes:
        return self.run_id.encode()


def batch(first: int, count: int, run_id: str = RUN) -> dict[int, list[FakeMessage]]:
    points = MetricsLogged(["loss"], [0], [0], [0], [1.0])
    return {0: [KeyedMessage(encode(logged(points, seq=i + 1, run_id=run_id).event), i, run_id)
                for i in range(first, first + count)]}


def writer_for(sink: GatedSink, *, whole: bool) -> BatchWriter:
    writer = BatchWriter(sink)  # type: ignore[arg-type]
    writer.load_positions([0])
    if not whole:
        writer.whole.clear()
    return writer


def test_the_next_batch_is_decoded_while_one_is_inserted_and_tables_get_their_blocks_in_order() -> None:
    sink = GatedSink()
    overlapped = OverlappedWriter(writer_for(sink, whole=True))
    results: list[BatchResult] = []
    overlapped.submit(batch(0, 3), results.append)  # type: ignore[arg-type]
    assert sink.in_flight.wait(10)
    overlapped.writer.chunk_bytes = 1  # the second batch: one group per message
    decoded = threading.Thread(target=overlapped.submit, args=(batch(3, 2), results.append))
    decoded.start()
    decoded.join(0.5)
    assert decoded.is_alive(), "waits for the batch in flight only after decoding its first group"
    assert sink.inserted == [], "nothing written while the metrics insert is held"
    sink.gate.set()
    decoded.join(10)
    overlapped.drain()
    assert [r.points for r in results] == [3, 2]
    tables = [table for table, _ in sink.inserted]
    assert tables == ["metric_chunks", "run_metric_summary", "events", "event_offsets"] * 3
    for table in ("metric_chunks", "events"):
        assert [o for t, offsets in sink.inserted if t == table for o in offsets] == [0, 1, 2, 3, 4]
    assert overlapped.writer.positions["events"][0] == 4
    overlapped.close()


def test_screening_that_asks_clickhouse_waits_for_the_insert_in_flight() -> None:
    sink = GatedSink()
    overlapped = OverlappedWriter(writer_for(sink, whole=False))
    overlapped.submit(batch(0, 2), lambda _: None)  # type: ignore[arg-type]
    assert sink.in_flight.wait(10)
    second = threading.Thread(target=overlapped.submit, args=(batch(2, 2, run_id="cd" * 16), lambda _: None))
    second.start()
    second.join(0.3)
    sink.gate.set()
    second.join(10)
    overlapped.close()
    assert sink.asked_while_in_flight == [False, False], "never asked while an insert was in flight"


def test_a_failed_insert_is_raised_by_the_next_call_and_nothing_after_it_is_written() -> None:
    sink = GatedSink(fail="run_metric_summary")
    sink.gate.set()
    overlapped = OverlappedWriter(writer_for(sink, whole=True))
    done: list[BatchResult] = []
    overlapped.submit(batch(0, 2), done.append)  # type: ignore[arg-type]
    with pytest.raises(SinkError):
        overlapped.submit(batch(2, 2), done.append)  # type: ignore[arg-type]
    overlapped.close()
    assert done == []
    assert [table for table, _ in sink.inserted] == ["metric_chunks"], "neither its events rows nor the next batch"


def test_metrics_go_through_the_side_sink_beside_the_other_tables_and_the_events_table_waits_for_both() -> None:
    main, side = GatedSink(), GatedSink(fail="")
    main.gate.set()
    writer = BatchWriter(main, side=side)  # type: ignore[arg-type]
    writer.load_positions([0])
    points = MetricsLogged(["loss"], [0], [0], [0], [1.0])
    messages = [KeyedMessage(encode(logged(RunStarted("r", "u"), seq=1).event), 0, RUN),
                *(KeyedMessage(encode(logged(points, seq=i + 1).event), i, RUN) for i in (1, 2))]
    applied = threading.Thread(target=writer.write_all, args=({0: messages},))
    applied.start()
    assert side.in_flight.wait(10)
    deadline = time.monotonic() + 10
    while "runs" not in [t for t, _ in main.inserted] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "runs" in [t for t, _ in main.inserted], "the runs table is inserted while metrics is held"
    assert "events" not in [t for t, _ in main.inserted]
    side.gate.set()
    applied.join(10)
    assert [t for t, _ in side.inserted] == ["metric_chunks", "run_metric_summary"]
    assert [t for t, _ in main.inserted][-2:] == ["events", "event_offsets"]
    assert "metric_chunks" not in [t for t, _ in main.inserted]
    assert writer.positions["metric_chunks"][0] == writer.positions["events"][0] == 2


def test_a_failed_side_insert_keeps_the_events_table_unwritten() -> None:
    main, side = GatedSink(), GatedSink(fail="metric_chunks")
    main.gate.set()
    side.gate.set()
    writer = BatchWriter(main, side=side)  # type: ignore[arg-type]
    writer.load_positions([0])
    with pytest.raises(SinkError):
        writer.write_all(batch(0, 2))  # type: ignore[arg-type]
    assert "events" not in [t for t, _ in main.inserted]
    assert writer.positions["events"].get(0, -1) == -1


def test_closing_the_side_ends_its_thread_and_later_metrics_go_through_the_main_sink() -> None:
    before = set(threading.enumerate())  # side threads of other tests' writers may still be ending
    main, side = GatedSink(), GatedSink()
    main.gate.set()
    side.gate.set()
    writer = BatchWriter(main, side=side)  # type: ignore[arg-type]
    writer.load_positions([0])
    writer.write_all(batch(0, 2))  # type: ignore[arg-type]
    assert [t for t, _ in side.inserted][:1] == ["metric_chunks"]
    threads = [t for t in threading.enumerate() if t.name.startswith("runstream-side-inserts") and t not in before]
    assert threads, "the side inserts ran on a thread of their own"
    writer.close_side()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    writer.write_all(batch(2, 2))  # type: ignore[arg-type]
    assert "metric_chunks" in [t for t, _ in main.inserted]
    assert writer.positions["metric_chunks"][0] == writer.positions["events"][0] == 3
