"""The rules of an event's place in the log: its Kafka key and its run's experiment (consumers.screening), and
how the writer turns an event of a run under another experiment into a dead letter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from consumers.chunks import prepare_chunk
from consumers.decoding import DeadLetter, classify
from consumers.projections import Block
from consumers.screening import MAX_KEY_CHARS, misfiled
from consumers.writer import BatchWriter
from schemas import ExperimentCreated, MetricsLogged, Producer, RunEvent, TagsSet, encode
from schemas.model_events import REGISTRY_KEY, RegisteredModelCreated

RUN, OTHER = "ab" * 16, "cd" * 16
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def event(payload: Any, *, run_id: str = RUN, experiment_id: str = "exp-a", seq: int = 1) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, experiment_id, seq, NOW, Producer("h", 1, "u", "v"), payload)


def test_a_run_event_keyed_by_another_id_is_a_dead_letter() -> None:
    result = classify(encode(event(TagsSet({"k": "v"}))), OTHER.encode(), 0, 3)
    assert isinstance(result, DeadLetter) and result.reason == "wrong_key" and OTHER in result.message


def test_experiment_events_are_keyed_by_their_experiment() -> None:
    created = encode(event(ExperimentCreated("x"), run_id=""))
    assert not isinstance(classify(created, b"exp-a", 0, 1), DeadLetter)
    wrong = classify(created, RUN.encode(), 0, 1)
    assert isinstance(wrong, DeadLetter) and wrong.reason == "wrong_key"


def test_registry_events_are_keyed_by_the_registry() -> None:
    created = encode(event(RegisteredModelCreated("rm-1", "churn"), run_id="", experiment_id=""))
    assert not isinstance(classify(created, REGISTRY_KEY.encode(), 0, 1), DeadLetter)
    wrong = classify(created, b"elsewhere", 0, 1)
    assert isinstance(wrong, DeadLetter) and wrong.reason == "wrong_key"


def test_a_dead_letter_keeps_at_most_1024_characters_of_its_key() -> None:
    result = classify(b"\x00garbage", b"k" * 1_000_000, 0, 1)
    assert isinstance(result, DeadLetter) and result.reason == "bad_magic"
    assert result.key == "k" * MAX_KEY_CHARS


def test_a_run_belongs_to_the_experiment_of_its_first_event() -> None:
    owners: dict[str, str] = {OTHER: "exp-b"}
    wrong = misfiled([(1, RUN, "exp-a"), (2, RUN, "exp-a"), (3, RUN, "exp-b"), (4, OTHER, "exp-a"),
                      (5, OTHER, "exp-b"), (6, "", "exp-z")], owners)
    assert sorted(wrong) == [3, 4]
    assert "belongs to experiment 'exp-a'" in wrong[3] and "names experiment 'exp-b'" in wrong[3]
    assert owners == {RUN: "exp-a", OTHER: "exp-b"}


class OwnersSink:
    """Answers the writer's question about earlier offsets from a fixed table; records what it was asked."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners
        self.asked: list[list[str]] = []

    def first_experiments(self, partition: int, run_ids: list[str], before: int, **_: Any) -> dict[str, str]:
        self.asked.append(run_ids)
        return {r: self.owners[r] for r in run_ids if r in self.owners}


def raw(e: RunEvent, offset: int) -> tuple[bytes, bytes, int, int]:
    return encode(e), e.run_id.encode(), offset, 1_700_000_000_000


def rows(block: Block) -> list[dict[str, Any]]:
    return [dict(zip(block.columns, values, strict=True)) for values in zip(*block.data, strict=True)]


def test_the_writer_dead_letters_events_under_another_experiment_and_asks_once_per_run() -> None:
    sink = OwnersSink({RUN: "exp-a"})  # RUN's first event, at an earlier offset, was under exp-a
    writer = BatchWriter(sink)  # type: ignore[arg-type]
    points = MetricsLogged(["loss"], [0, 0], [1, 2], [0, 0], [0.5, 0.4])
    chunk = [raw(event(points, experiment_id="exp-b", seq=2), 10), raw(event(TagsSet({"a": "1"}), seq=3), 11),
             raw(event(TagsSet({"b": "2"}), run_id=OTHER, experiment_id="exp-b"), 12)]
    prepared = writer.screen(prepare_chunk(0, chunk, writer.tables.projections))
    assert [(d.offset, d.reason, d.key) for d in prepared.dead] == [(10, "experiment_mismatch", RUN)]
    by_table = {b.table: rows(b) for b in prepared.blocks}
    assert by_table["metric_chunks"] == [], "the misfiled batch's points are not projected"
    assert [(r["kafka_offset"], r["event_type"]) for r in by_table["events"]] == [
        (11, "TagsSet"), (12, "TagsSet"), (10, "DeadLetter")]
    assert [e[0] for e in prepared.events] == [11, 12]
    assert sink.asked == [[RUN, OTHER]]
    writer.screen(prepare_chunk(0, [raw(event(TagsSet({"c": "3"}), run_id=OTHER, seq=2), 13)],
                                writer.tables.projections))
    assert sink.asked == [[RUN, OTHER]], "owners are remembered"


@pytest.mark.parametrize("first_experiment", ["exp-a", None])
def test_the_first_event_of_a_run_in_a_chunk_decides_when_clickhouse_knows_none(first_experiment: str | None
                                                                                ) -> None:
    sink = OwnersSink({RUN: first_experiment} if first_experiment else {})
    writer = BatchWriter(sink)  # type: ignore[arg-type]
    chunk = [raw(event(TagsSet({"a": "1"}), experiment_id="exp-a"), 0),
             raw(event(TagsSet({"a": "2"}), experiment_id="exp-b", seq=2), 1)]
    prepared = writer.screen(prepare_chunk(0, chunk, writer.tables.projections))
    assert [d.offset for d in prepared.dead] == [1]
