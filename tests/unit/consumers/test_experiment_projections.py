"""Experiment lifecycle events and run renames become rows of their tables."""

from __future__ import annotations

from datetime import UTC, datetime

from consumers.projections import experiments, runs
from consumers.projections.base import LoggedEvent
from schemas import (
    ExperimentCreated,
    ExperimentDeleted,
    ExperimentRenamed,
    ExperimentRestored,
    ExperimentTagDeleted,
    ExperimentTagsSet,
    Producer,
    RunEvent,
    RunRenamed,
)

AT = datetime(2026, 11, 30, tzinfo=UTC)


def logged(payload: object, offset: int, run_id: str = "") -> LoggedEvent:
    event = RunEvent(f"00000000-0000-0000-0000-{offset:012d}", run_id, "42", 1, AT, Producer("h", 1, "u", "v"),
                     payload)  # type: ignore[arg-type]
    return LoggedEvent(event, 0, offset, "fp")


def rows(projection: object, *events: LoggedEvent) -> list[tuple[object, ...]]:
    block = projection.block(events)  # type: ignore[attr-defined]
    return list(zip(*block.data, strict=True))


def test_experiment_changes() -> None:
    got = rows(experiments.CHANGES, logged(ExperimentCreated("e"), 1), logged(ExperimentRenamed("f"), 2),
               logged(ExperimentDeleted(), 3), logged(ExperimentRestored(), 4), logged(ExperimentTagsSet({}), 5))
    assert [(r[1], r[3], r[4], r[-1]) for r in got] == [
        ("ExperimentRenamed", "f", None, 2), ("ExperimentDeleted", None, 1, 3), ("ExperimentRestored", None, 0, 4)]


def test_experiment_tags_from_creation_set_and_delete() -> None:
    got = rows(experiments.TAGS, logged(ExperimentCreated("e", tags={"a": "1"}), 1),
               logged(ExperimentTagsSet({"b": "2", "c": "3"}), 2), logged(ExperimentTagDeleted("a"), 3))
    assert [(r[1], r[2], r[3], r[-1]) for r in got] == [("a", "1", 0, 1), ("b", "2", 0, 2), ("c", "3", 0, 2),
                                                        ("a", "", 1, 3)]


def test_a_rename_changes_only_the_name() -> None:
    (row,) = rows(runs.PROJECTION, logged(RunRenamed("better"), 9, run_id="a" * 32))
    named = dict(zip(runs.COLUMNS, row, strict=True))
    assert named["event_type"] == "RunRenamed" and named["name"] == "better"
    assert all(named[c] is None for c in ("user", "status", "start_time", "end_time", "deleted"))
