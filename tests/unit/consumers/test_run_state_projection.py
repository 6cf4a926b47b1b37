"""run_state's rows: one per event that changes a run's attributes, params or tags, each value versioned so that
the engine's max keeps the latest change (consumers/projections/run_state.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from consumers.projections import run_state
from consumers.projections.base import LoggedEvent
from schemas import (
    MetricsLogged,
    ParamsLogged,
    Producer,
    RunDeleted,
    RunEvent,
    RunRenamed,
    RunRestored,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
)

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
RUN_ID = "ab" * 16


def logged(payload: Any, *, seq: int = 3, offset: int = 7, at: datetime = T0) -> LoggedEvent:
    event = RunEvent(str(uuid.uuid4()), RUN_ID, "e" * 32, seq, at, Producer("h", 1, "u", "0"), payload)
    return LoggedEvent(event, 2, offset, "f")


def row(payload: Any, **kwargs: Any) -> dict[str, Any] | None:
    block = run_state.PROJECTION.block([logged(payload, **kwargs)])
    if not len(block):
        return None
    return {column: values[0] for column, values in zip(block.columns, block.data, strict=True)}


def test_a_version_orders_as_text_as_its_event_time_and_seq_do() -> None:
    instants = [datetime(1901, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                datetime(1970, 1, 1, tzinfo=UTC), T0, T0 + timedelta(microseconds=1), datetime(2262, 1, 1, tzinfo=UTC)]
    pairs = [(t, s) for t in instants for s in (-(2**63), -5, -1, 0, 1, 2, 10, 2**63 - 1)]
    texts = [run_state.version(t, s) for t, s in pairs]
    assert all(len(t) == run_state.VERSION_CHARS for t in texts)
    assert sorted(pairs) == [pairs[texts.index(t)] for t in sorted(texts)]
    assert run_state.version(datetime(1970, 1, 1, tzinfo=UTC), 0) == "8000000000000000" * 2


def test_run_started_sets_its_attributes_and_leaves_the_rest_unset() -> None:
    r = row(RunStarted("trial", "ana", parent_run_id="p" * 32, source="git:1", description="d"), seq=1, offset=40)
    assert r is not None
    assert (r["experiment_id"], r["run_id"], r["kafka_partition"], r["kafka_offset"]) == ("e" * 32, RUN_ID, 2, 40)
    assert r["name"] == (T0, 1, "trial") and r["user"] == (T0, 1, "ana") and r["status"] == (T0, 1, "RUNNING")
    assert r["parent_run_id"] == (T0, 1, "p" * 32) and r["source"] == (T0, 1, "git:1")
    assert r["start_time"] == T0 and r["first_offset"] == 40 and r["updated_time"] == T0
    assert r["end_time"] == run_state.UNSET and r["deleted"] == run_state.UNSET
    assert r["params"] == {} and r["tags"] == {}


def test_status_rename_delete_and_restore_change_only_their_attribute() -> None:
    end = T0 + timedelta(hours=1)
    finished = row(RunStatusChanged(RunStatus.FINISHED, end), seq=9)
    assert finished is not None and finished["status"] == (T0, 9, "FINISHED") and finished["end_time"] == (T0, 9, end)
    assert finished["name"] == run_state.UNSET and finished["start_time"] is None
    renamed = row(RunRenamed("better"), seq=4)
    assert renamed is not None and renamed["name"] == (T0, 4, "better") and renamed["status"] == run_state.UNSET
    deleted, restored = row(RunDeleted("x"), seq=5), row(RunRestored(), seq=6)
    assert deleted is not None and restored is not None
    assert deleted["deleted"] == (T0, 5, 1) and restored["deleted"] == (T0, 6, 0)
    assert all(r["first_offset"] == 7 and r["updated_time"] == T0 for r in (finished, renamed, deleted, restored))


def test_params_and_tags_carry_their_version_and_no_attribute() -> None:
    at = run_state.version(T0, 3)
    params = row(ParamsLogged({"lr": "0.1", "empty": ""}))
    assert params is not None and params["params"] == {"lr": at + "0.1", "empty": at} and params["tags"] == {}
    assert params["name"] == run_state.UNSET and params["first_offset"] is None and params["updated_time"] is None
    tags = row(TagsSet({"team": "vision"}))
    assert tags is not None and tags["tags"] == {"team": at + "0vision"} and tags["params"] == {}
    gone = row(TagDeleted("team"))
    assert gone is not None and gone["tags"] == {"team": at + "1"}
    assert gone["tags"]["team"] > tags["tags"]["team"]  # a deletion and a set at the same instant: deleted wins


def test_a_later_change_outranks_an_earlier_one_in_any_column() -> None:
    early, late = row(TagsSet({"k": "zzz"}), seq=2), row(TagsSet({"k": "aaa"}), seq=3)
    assert early is not None and late is not None and max(early["tags"]["k"], late["tags"]["k"]).endswith("aaa")
    first, second = row(RunRenamed("zzz"), seq=2), row(RunRenamed("aaa"), seq=2, at=T0 + timedelta(microseconds=1))
    assert first is not None and second is not None and max(first["name"], second["name"])[2] == "aaa"
    assert max(run_state.UNSET, (datetime(1900, 1, 1, 0, 0, 1, tzinfo=UTC), -(2**63), None)) != run_state.UNSET


def test_events_that_change_no_run_state_make_no_row() -> None:
    batch = MetricsLogged(names=["loss"], name_index=[0], steps=[1], timestamps=[0], values=[0.5])
    assert row(batch) is None
