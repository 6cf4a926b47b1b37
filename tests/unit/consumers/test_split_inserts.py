"""A large group's metrics go as two statements at once through two sinks, each holding whole partitions; the
events table waits for both, and a failure of one leaves its partitions' positions (and every events position)
where they were."""

from __future__ import annotations

import threading
import time

import pytest

from consumers.errors import SinkError
from consumers.projections import Block
from consumers.writer import BatchWriter
from schemas import MetricsLogged, RunStarted, encode
from tests.unit.consumers.test_overlapped_writer import GatedSink
from tests.unit.consumers.test_projection_rules import FakeMessage, logged

RUNS = {0: "a0" * 16, 1: "b1" * 16, 2: "c2" * 16}


class TokenSink(GatedSink):
    def __init__(self, fail: str = "") -> None:
        super().__init__(fail)
        self.tokens: list[tuple[str, str]] = []

    def insert(self, block: Block, *, token: str) -> None:
        super().insert(block, token=token)
        self.tokens.append((block.table, token))


class PartitionMessage(FakeMessage):
    def __init__(self, value: bytes, offset: int, partition: int) -> None:
        super().__init__(value, offset, partition)

    def key(self) -> bytes:
        return RUNS[self._partition].encode()


def group(points: dict[int, int]) -> dict[int, list[FakeMessage]]:
    """Per partition a run start, then that many one-point metric batches."""
    batch = MetricsLogged(["loss"], [0], [0], [0], [1.0])
    out: dict[int, list[FakeMessage]] = {}
    for partition, count in points.items():
        run = RUNS[partition]
        out[partition] = [PartitionMessage(encode(logged(RunStarted("r", "u"), seq=1, run_id=run).event), 0, partition),
                          *(PartitionMessage(encode(logged(batch, seq=i + 2, run_id=run).event), i + 1, partition)
                            for i in range(count))]
    return out


def split_writer(main: GatedSink, side: GatedSink, split: GatedSink, min_points: int = 1) -> BatchWriter:
    writer = BatchWriter(main, side=side, split=split, split_min_points=min_points)  # type: ignore[arg-type]
    writer.load_positions([0, 1, 2])
    return writer


def metrics_partitions(sink: TokenSink) -> set[str]:
    return {token for table, token in sink.tokens if table == "metrics"}


def test_a_large_group_goes_as_two_concurrent_statements_each_holding_whole_partitions() -> None:
    main, side, split = TokenSink(), TokenSink(), TokenSink()
    main.gate.set()
    writer = split_writer(main, side, split)
    applied = threading.Thread(target=writer.write_all, args=(group({0: 3, 1: 2, 2: 1}),))
    applied.start()
    deadline = time.monotonic() + 10
    while not (side.in_flight.is_set() and split.in_flight.is_set()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert side.in_flight.is_set() and split.in_flight.is_set(), "both statements are in flight at once"
    assert "events" not in [t for t, _ in main.inserted]
    side.gate.set()
    split.gate.set()
    applied.join(10)
    # balanced by points: partition 0 (3) on one side, partitions 1 and 2 (2 + 1) on the other
    assert metrics_partitions(side) == {":0:0-3"}
    assert metrics_partitions(split) == {":1:0-2,2:0-1"}
    assert [t for t, _ in side.inserted] == [t for t, _ in split.inserted] == ["metrics", "run_metric_summary"]
    assert "metrics" not in [t for t, _ in main.inserted]
    assert [t for t, _ in main.inserted][-2:] == ["events", "event_offsets"]
    for partition, last in ((0, 3), (1, 2), (2, 1)):
        for table in ("metrics", "run_metric_summary", "events", "event_offsets"):
            assert writer.positions[table][partition] == last


def test_a_failed_statement_leaves_its_partitions_and_every_events_position_behind() -> None:
    main, side, split = TokenSink(), TokenSink(), TokenSink(fail="metrics")
    for sink in (main, side, split):
        sink.gate.set()
    writer = split_writer(main, side, split)
    with pytest.raises(SinkError):
        writer.write_all(group({0: 3, 1: 2, 2: 1}))  # type: ignore[arg-type]
    assert "events" not in [t for t, _ in main.inserted]
    assert writer.positions["metrics"][0] == 3, "the other statement landed: its partition moved"
    assert writer.positions["metrics"].get(1, -1) == writer.positions["metrics"].get(2, -1) == -1
    assert writer.positions["run_metric_summary"].get(1, -1) == -1
    assert all(writer.positions["events"].get(p, -1) == -1 for p in (0, 1, 2))
    # the retry of the same messages (a projector taking over) writes only what is missing
    split.fail = ""
    before = len(side.tokens), len(split.tokens)
    inserted = len(side.inserted), len(split.inserted)
    writer.write_all(group({0: 3, 1: 2, 2: 1}))  # type: ignore[arg-type]
    again = [[token for table, token in sink.tokens[n:] if table == "metrics"]
             for sink, n in zip((side, split), before, strict=True)]
    assert all(len(tokens) == 1 for tokens in again), "partitions 1 and 2 (the rows left) are still split"
    assert not any(":1:" in a[0] and ":2:" in a[0] for a in again)
    rows = [offsets for table, offsets in side.inserted[inserted[0]:] + split.inserted[inserted[1]:]
            if table == "metrics"]
    assert sorted(rows) == [[1], [1, 2]], "partition 0's rows are not sent again"
    for partition, last in ((0, 3), (1, 2), (2, 1)):
        assert writer.positions["metrics"][partition] == writer.positions["events"][partition] == last


def test_a_small_group_or_one_partition_is_one_statement() -> None:
    main, side, split = TokenSink(), TokenSink(), TokenSink()
    for sink in (main, side, split):
        sink.gate.set()
    writer = split_writer(main, side, split, min_points=10)
    writer.write_all(group({0: 3, 1: 2, 2: 1}))  # type: ignore[arg-type]
    writer.split_min_points = 1
    writer.write_all({0: group({0: 5})[0][4:]})  # type: ignore[dict-item]
    assert split.inserted == []
    assert metrics_partitions(side) == {":0:0-3,1:0-2,2:0-1", ":0:4-5"}
