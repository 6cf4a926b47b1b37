"""schemas.validate_event: the rules of meaning a decodable event must also obey."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import (
    ExperimentCreated,
    InvalidEventError,
    MetricsLogged,
    ParamsLogged,
    Producer,
    RunEvent,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    SchemaError,
    TagsSet,
    validate_event,
)

RUN_ID = "0123456789abcdef0123456789abcdef"


def make_event(payload: Any, *, run_id: str = RUN_ID, experiment_id: str = "exp-1", seq: int = 1) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, experiment_id, seq, datetime(2026, 1, 1, tzinfo=UTC),
                    Producer("h", 1, "u", "0.1.0"), payload)


GOOD_BATCH = MetricsLogged(["loss", "acc"], [0, 1, 1], [0, 0, 1], [1, 2, 3], [0.5, 0.1, 0.2])


@pytest.mark.parametrize("event", [
    make_event(RunStarted("r", "u")),
    make_event(ParamsLogged({"a": "1"}), seq=2),
    make_event(GOOD_BATCH, seq=3),
    make_event(MetricsLogged([], [], [], [], [])),
    make_event(RunStatusChanged(RunStatus.FINISHED), seq=2**53 - 1),  # the largest seq a JSON reader holds exactly
    make_event(ExperimentCreated("x"), run_id=""),
    make_event(ExperimentCreated("x"), run_id=RUN_ID),
], ids=lambda e: e.type)
def test_valid_events_are_returned_unchanged(event: RunEvent) -> None:
    assert validate_event(event) is event


@pytest.mark.parametrize("status", [s for s in RunStatus if s is not RunStatus.UNKNOWN])
def test_every_known_status_is_valid(status: RunStatus) -> None:
    event = make_event(RunStatusChanged(status))
    assert validate_event(event) is event


def test_experiment_events_may_have_an_empty_run_id() -> None:
    assert validate_event(make_event(ExperimentCreated("x"), run_id="")).run_id == ""


@pytest.mark.parametrize("payload", [ExperimentCreated("x"), TagsSet({"k": "v"})], ids=lambda p: type(p).__name__)
def test_an_empty_experiment_id_is_invalid(payload: Any) -> None:
    with pytest.raises(InvalidEventError, match="experiment_id"):
        validate_event(make_event(payload, experiment_id="", run_id=RUN_ID))


@pytest.mark.parametrize("run_id", [
    "", "0123456789ABCDEF0123456789ABCDEF", RUN_ID[:-1], RUN_ID + "0", "g" * 32, str(uuid.UUID(RUN_ID)),
    " " + RUN_ID[1:], RUN_ID + "\n0",
])
def test_a_run_event_needs_a_32_lowercase_hex_run_id(run_id: str) -> None:
    with pytest.raises(InvalidEventError, match="run_id") as info:
        validate_event(make_event(TagsSet({"k": "v"}), run_id=run_id))
    assert info.value.reason == "invalid"
    assert isinstance(info.value, SchemaError)


def test_a_run_id_with_a_trailing_newline_is_invalid() -> None:
    with pytest.raises(InvalidEventError, match="run_id"):
        validate_event(make_event(TagsSet({"k": "v"}), run_id=RUN_ID + "\n"))


@pytest.mark.parametrize("seq", [0, -1, -(2**63)])
def test_seq_must_be_positive(seq: int) -> None:
    with pytest.raises(InvalidEventError, match="seq"):
        validate_event(make_event(TagsSet({"k": "v"}), seq=seq))


def test_status_unknown_is_invalid() -> None:
    with pytest.raises(InvalidEventError, match="UNKNOWN"):
        validate_event(make_event(RunStatusChanged(RunStatus.UNKNOWN)))


@pytest.mark.parametrize("batch", [
    MetricsLogged(["a"], [0, 0], [1], [1], [1.0]),
    MetricsLogged(["a"], [0], [1, 2], [1], [1.0]),
    MetricsLogged(["a"], [0], [1], [1, 2], [1.0]),
    MetricsLogged(["a"], [0], [1], [1], [1.0, 2.0]),
    MetricsLogged(["a"], [], [], [], [1.0]),
])
def test_metric_arrays_of_different_lengths_are_invalid(batch: MetricsLogged) -> None:
    with pytest.raises(InvalidEventError, match="length"):
        validate_event(make_event(batch))


@pytest.mark.parametrize("name_index", [[1], [-1], [0, 2], [2**31 - 1]])
def test_a_name_index_outside_names_is_invalid(name_index: list[int]) -> None:
    n = len(name_index)
    batch = MetricsLogged(["a", "b"][: max(1, n)], name_index, list(range(n)), [0] * n, [0.0] * n)
    with pytest.raises(InvalidEventError, match="name_index"):
        validate_event(make_event(batch))


def test_an_empty_metric_key_is_invalid() -> None:
    with pytest.raises(InvalidEventError, match="empty metric key"):
        validate_event(make_event(MetricsLogged(["loss", ""], [0], [0], [0], [0.0])))
