"""Pure projection functions, message classification, migrations, and the projector's positions."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from consumers.decoding import DeadLetter, classify
from consumers.migrate import migrations
from consumers.projections import PROJECTIONS, Block, LoggedEvent, metrics, params, runs
from consumers.projections import events as events_projection
from consumers.projector import Projector
from consumers.settings import ProjectorSettings
from consumers.writer import BatchWriter
from schemas import (
    MetricsLogged,
    ParamsLogged,
    Producer,
    RunDeleted,
    RunEvent,
    RunRestored,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
    encode,
)
from schemas.codec import MAGIC

RUN = "ab" * 16
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def logged(payload: Any, offset: int = 7, seq: int = 3, run_id: str = RUN) -> LoggedEvent:
    e = RunEvent(str(uuid.uuid4()), run_id, "exp", seq, NOW, Producer("h", 1, "u", "v"), payload)
    return LoggedEvent(e, 2, offset, "ff" * 8)


def rows(block: Block) -> list[dict[str, Any]]:
    return [dict(zip(block.columns, values, strict=True)) for values in zip(*block.data, strict=True)]


def test_a_metric_batch_becomes_one_row_per_point() -> None:
    batch = MetricsLogged(["loss", "acc"], [0, 1, 0], [5, 5, 6], [1000, 1000, 2000], [0.5, 0.9, 0.4])
    out = rows(metrics.PROJECTION.block([logged(batch)]))
    assert [(r["key"], r["step"], r["ts"], r["value"], r["point_index"]) for r in out] == [
        ("loss", 5, 1000, 0.5, 0), ("acc", 5, 1000, 0.9, 1), ("loss", 6, 2000, 0.4, 2)]
    assert {(r["kafka_partition"], r["kafka_offset"], r["run_id"]) for r in out} == {(2, 7, RUN)}


def test_run_rows_fold_attributes() -> None:
    out = rows(runs.PROJECTION.block([
        logged(RunStarted("trial", "alice", parent_run_id="cd" * 16)),
        logged(RunStatusChanged(RunStatus.FAILED, end_time=NOW)),
        logged(RunDeleted()), logged(RunRestored()), logged(ParamsLogged({"a": "1"})),
    ]))
    assert [(r["event_type"], r["status"], r["deleted"]) for r in out] == [
        ("RunStarted", "RUNNING", None), ("RunStatusChanged", "FAILED", None), ("RunDeleted", None, 1),
        ("RunRestored", None, 0)]
    assert out[0]["name"] == "trial" and out[0]["start_time"] == NOW and out[0]["parent_run_id"] == "cd" * 16
    assert out[1]["end_time"] == NOW and out[1]["name"] is None


def test_tags_carry_a_deleted_flag() -> None:
    out = rows(params.TAGS.block([logged(TagsSet({"a": "1", "b": "2"})), logged(TagDeleted("a"))]))
    assert [(r["key"], r["value"], r["deleted"]) for r in out] == [("a", "1", 0), ("b", "2", 0), ("a", "", 1)]


def test_the_audit_row_summarises_metric_batches() -> None:
    batch = MetricsLogged(["loss"], [0] * 3, [4, 2, 9], [0] * 3, [1.0] * 3)
    (row,) = rows(events_projection.PROJECTION.block([logged(batch)]))
    assert json.loads(row["payload"]) == {"keys": ["loss"], "points": 3, "min_step": 2, "max_step": 9}
    assert row["event_type"] == "MetricsLogged" and row["kafka_offset"] == 7


def test_events_is_the_last_projection() -> None:
    assert PROJECTIONS[-1].table == "events"


@pytest.mark.parametrize(("value", "reason"), [
    (os.urandom(40), "bad_magic"),
    (b"", "truncated"),
    (MAGIC + b"\x01" * 8 + b"\x00", "unknown_fingerprint"),
    (encode(logged(TagsSet({"k": "v"})).event)[:-4], "truncated"),
    (encode(logged(TagsSet({"k": "v"}), run_id="").event), "invalid"),
    (encode(logged(RunStatusChanged(RunStatus.UNKNOWN)).event), "invalid"),
])
def test_bad_messages_are_dead_letters_with_a_reason(value: bytes, reason: str) -> None:
    result = classify(value, b"key", 1, 99)
    assert isinstance(result, DeadLetter)
    assert (result.reason, result.partition, result.offset, result.key) == (reason, 1, 99, "key")
    assert result.message


def test_a_good_message_is_a_logged_event() -> None:
    event = logged(TagsSet({"k": "v"})).event
    result = classify(encode(event), RUN.encode(), 0, 5)
    assert isinstance(result, LoggedEvent) and result.event == event and len(result.fingerprint) == 16


def test_every_table_keeps_a_deduplication_window() -> None:
    versions = migrations()
    assert [v for v, _, _ in versions] == sorted({v for v, _, _ in versions}) and versions[0][0] == 1
    creates = [s for _, _, statements in versions for s in statements if s.startswith("CREATE TABLE")]
    assert len(creates) >= 10
    assert all("non_replicated_deduplication_window" in s for s in creates)


class FakeMessage:
    def __init__(self, value: bytes, offset: int, partition: int = 0) -> None:
        self._value, self._offset, self._partition = value, offset, partition

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return RUN.encode()

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return "t"

    def timestamp(self) -> tuple[int, int]:
        return 1, 1_700_000_000_000


class RecordingSink:
    def __init__(self) -> None:
        self.inserted: list[tuple[str, list[int]]] = []
        self.by_sql: list[str] = []
        self.asked: list[str] = []
        self.stored: dict[str, dict[int, int]] = {}

    def seen_event_ids(self, before: dict[int, int], run_ids: list[str], event_ids: list[str],
                       **_: Any) -> dict[int, set[str]]:
        self.asked.append("seen_event_ids")
        return {}

    def first_experiments(self, partition: int, run_ids: list[str], before: int, **_: Any) -> dict[str, str]:
        self.asked.append("first_experiments")
        return {}

    def positions(self, table: str, partitions: list[int]) -> dict[int, int]:
        return dict(self.stored.get(table, {}))

    def positions_of(self, tables: list[str], partitions: list[int]) -> dict[str, dict[int, int]]:
        return {table: self.positions(table, partitions) for table in tables}

    def derive(self, derived: Any, partition: int, after: int, upto: int, **_: Any) -> None:
        self.inserted.append((derived.table, list(range(after + 1, upto + 1))))
        self.by_sql.append(derived.table)

    def insert(self, block: Block, *, token: str) -> None:
        to_arrow = getattr(block, "to_arrow", None)
        offsets = to_arrow().column("kafka_offset").to_pylist() if to_arrow else \
            block.data[block.columns.index("kafka_offset")]
        self.inserted.append((block.table, sorted(set(offsets))))


def test_a_table_ahead_of_the_batch_skips_what_it_has_and_never_moves_back() -> None:
    settings = ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1")
    sink = RecordingSink()
    projector = Projector(settings, client=None, sink=sink)  # type: ignore[arg-type]
    projector._commit = lambda offsets: None  # type: ignore[method-assign]  # no broker in unit tests
    projector.positions["metric_chunks"][0] = 5  # metrics got offsets 0-5 before a crash; events did not
    batch = MetricsLogged(["loss"], [0], [0], [0], [1.0])
    first = [FakeMessage(encode(logged(batch, seq=i + 1).event), i) for i in range(3)]
    second = [FakeMessage(encode(logged(batch, seq=i + 1).event), i) for i in range(3, 8)]
    projector.process(first)  # type: ignore[arg-type]
    projector.process(second)  # type: ignore[arg-type]
    projector.drain()  # the inserts run on the projector's insert thread
    by_table: dict[str, list[int]] = {}
    for table, offsets in sink.inserted:
        by_table.setdefault(table, []).extend(offsets)
    assert by_table["metric_chunks"] == [6, 7], "offsets 0-5 are not inserted twice"
    assert by_table["events"] == list(range(8))
    assert by_table["run_metric_summary"] == list(range(8)), "derived from metrics (SQL) while metrics is ahead"
    assert by_table["event_offsets"] == [2, 7], "one row per batch, built from the events block, at its last offset"
    assert projector.positions["metric_chunks"][0] == 7
    assert projector.positions["run_metric_summary"][0] == projector.positions["event_offsets"][0] == 7


def test_derived_tables_in_step_with_their_source_take_their_rows_from_the_block() -> None:
    settings = ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1")
    sink = RecordingSink()
    projector = Projector(settings, client=None, sink=sink)  # type: ignore[arg-type]
    projector._commit = lambda offsets: None  # type: ignore[method-assign]  # no broker in unit tests
    batch = MetricsLogged(["loss", "acc"], [0, 1, 0], [0, 0, 1], [0, 0, 0], [1.0, 2.0, 3.0])
    projector.process([FakeMessage(encode(logged(batch, seq=i + 1).event), i) for i in range(4)])  # type: ignore[arg-type]
    projector.process([FakeMessage(encode(logged(TagsSet({"k": "v"}), seq=5).event), 4)])  # type: ignore[arg-type]
    projector.drain()
    assert sink.by_sql == [], "nothing read back from ClickHouse"
    derived = ("run_metric_summary", "event_offsets")
    inserted = [(table, offsets) for table, offsets in sink.inserted if table in derived]
    assert inserted == [("run_metric_summary", [3]), ("event_offsets", [3]), ("event_offsets", [4])]
    assert projector.positions["run_metric_summary"][0] == 4, "a batch without points moves the position too"


def test_a_batch_of_several_partitions_is_one_insert_per_table_and_each_partition_keeps_its_position() -> None:
    settings = ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1")
    sink = RecordingSink()
    projector = Projector(settings, client=None, sink=sink)  # type: ignore[arg-type]
    projector._commit = lambda offsets: None  # type: ignore[method-assign]  # no broker in unit tests
    projector.positions["metric_chunks"][1] = 11  # partition 1's metrics already hold offsets up to 11
    batch = MetricsLogged(["loss"], [0], [0], [0], [1.0])
    messages = [FakeMessage(encode(logged(batch, seq=i + 1).event), 10 + i, partition=p) for p in (0, 1, 2)
                for i in range(3)]
    projector.process(messages)  # type: ignore[arg-type]
    projector.drain()
    tables = [table for table, _ in sink.inserted]
    assert tables.count("metric_chunks") == tables.count("events") == tables.count("event_offsets") == 1
    assert tables[-2:] == ["events", "event_offsets"], "the events table (the position) is written last"
    metrics = next(offsets for table, offsets in sink.inserted if table == "metric_chunks")
    assert metrics == [10, 11, 12], "partition 1 skipped what it held (offsets are per partition)"
    assert sink.by_sql == ["run_metric_summary"], "partition 1's summary was behind its metrics: SQL for it only"
    tables = ("metric_chunks", "events", "run_metric_summary")
    assert {p: projector.positions[t][p] for t in tables for p in (0, 1, 2)} \
        == {0: 12, 1: 12, 2: 12}


def test_a_partition_seen_from_its_start_is_screened_from_memory_and_one_restarted_midway_asks() -> None:
    batch = MetricsLogged(["loss"], [0], [0], [0], [1.0])
    first = logged(batch, seq=1).event
    again = [FakeMessage(encode(first), 0), FakeMessage(encode(logged(batch, seq=2).event), 1),
             FakeMessage(encode(first), 2)]  # offset 2 re-sends offset 0's event
    fresh = RecordingSink()
    writer = BatchWriter(fresh)  # type: ignore[arg-type]
    writer.load_positions([0])
    assert writer.whole == {0}, "empty tables: the writer sees partition 0 from its first offset"
    result = writer.write(0, again[:2]), writer.write(0, again[2:])  # type: ignore[arg-type]
    assert fresh.asked == [], "no question to ClickHouse: owners and earlier event ids are in memory"
    assert [r.duplicates for r in result] == [0, 1], "the re-sent event counted once"

    resumed = RecordingSink()
    resumed.stored = {"events": {0: 1}}  # a restart after offset 1: earlier events are only in ClickHouse
    writer = BatchWriter(resumed)  # type: ignore[arg-type]
    writer.load_positions([0])
    assert writer.whole == set()
    writer.write(0, again[2:])  # type: ignore[arg-type]
    assert resumed.asked == ["first_experiments", "seen_event_ids"]


def test_a_replay_keeps_derived_rows_from_its_blocks_for_one_insert_at_the_end() -> None:
    sink = RecordingSink()
    writer = BatchWriter(sink, defer_derived=True)  # type: ignore[arg-type]
    writer.load_positions([0])
    batch = MetricsLogged(["loss"], [0], [0], [0], [1.0])
    for offset in range(3):
        writer.write(0, [FakeMessage(encode(logged(batch, seq=offset + 1).event), offset)])  # type: ignore[list-item]
    derived = ("run_metric_summary", "event_offsets")
    assert [t for t, _ in sink.inserted if t in derived] == [], "nothing derived while replaying"
    writer.derive_pending({0: 2})
    assert [(t, o) for t, o in sink.inserted if t in derived] == [("run_metric_summary", [0, 1, 2]),
                                                                  ("event_offsets", [0, 1, 2])], "one insert each"
    assert sink.by_sql == [], "in step: no SQL after the rows kept from the blocks"
