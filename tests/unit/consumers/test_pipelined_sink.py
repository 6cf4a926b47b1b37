"""consumers.sink.PipelinedSink.later: rows made on an insert thread, in turn with the inserts."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from consumers.projections import Block
from consumers.sink import PipelinedSink


class FailingClient:
    """A client whose every statement fails with a non-ClickHouse error (not retried)."""

    def insert(self, *args: Any, **kwargs: Any) -> None:
        raise OSError("disk on fire")

    def query(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError("disk on fire")


def rows_of(source: list[int]) -> Block:
    block = Block("derived", ("kafka_offset", "thread"))
    for offset in source:
        block.append(offset, threading.current_thread().name)
    return block


def test_rows_are_made_on_an_insert_thread() -> None:
    sink = PipelinedSink(FailingClient(), retries=0)  # type: ignore[arg-type]
    try:
        made = sink.later(rows_of, [1, 2, 3])
        sink.flush()
        assert made.done()
        block = made.result()
        assert block.data[0] == [1, 2, 3]
        assert all(name.startswith("runstream-inserts-") for name in block.data[1])
    finally:
        sink.close()


def test_after_a_failed_insert_rows_raise_its_error() -> None:
    sink = PipelinedSink(FailingClient(), retries=0, hold_rows=0)  # type: ignore[arg-type]
    try:
        block = Block("events", ("kafka_offset",))
        block.append(1)
        sink.insert(block, token="t")
        sink._queue.join()  # the insert failed on its thread
        with pytest.raises(OSError, match="disk on fire"):
            sink.later(rows_of, [1])  # refused at once
    finally:
        sink.close()
