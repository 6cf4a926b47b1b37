"""schemas.ranges: every value an event carries fits its ClickHouse column and its readers, or the event is
refused with reason out_of_range (the projector dead-letters it instead of failing the insert)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import (
    ArtifactLogged,
    InvalidEventError,
    MetricsLogged,
    Producer,
    RunEvent,
    RunStatus,
    RunStatusChanged,
    TagsSet,
    validate_event,
)
from schemas.ranges import TIME_MAX, TIME_MAX_MS, TIME_MIN, TIME_MIN_MS, OutOfRangeError, check_ranges

RUN_ID = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def event(payload: Any = None, *, seq: int = 1, at: datetime = NOW, pid: int = 1, event_id: str | None = None
          ) -> RunEvent:
    return RunEvent(event_id or str(uuid.uuid4()), RUN_ID, "exp", seq, at, Producer("h", pid, "u", "0.1"),
                    payload if payload is not None else TagsSet({"k": "v"}))


def points(steps: list[int], timestamps: list[int]) -> MetricsLogged:
    n = len(steps)
    return MetricsLogged(["loss"], [0] * n, steps, timestamps, [0.5] * n)


OUT_OF_RANGE = {
    "pid -1": event(pid=-1),
    "pid 2^32": event(pid=2**32),
    "artifact size -1": event(ArtifactLogged("a.txt", "file:///a.txt", -1, "sha256:00")),
    "seq 2^63-1": event(seq=2**63 - 1),
    "seq 2^53": event(seq=2**53),
    "event_time year 1": event(at=datetime(1, 1, 1, tzinfo=UTC)),
    "event_time year 9999": event(at=datetime(9999, 12, 31, tzinfo=UTC)),
    "event_time 1899": event(at=TIME_MIN - timedelta(microseconds=1)),
    "event_time 2262": event(at=TIME_MAX),
    "end_time year 9999": event(RunStatusChanged(RunStatus.FINISHED, datetime(9999, 1, 1, tzinfo=UTC))),
    "metric timestamp 2^63-1": event(points([0, 1], [1_700_000_000_000, 2**63 - 1])),
    "metric timestamp -2^63": event(points([0], [-(2**63)])),
    "metric timestamp before 1900": event(points([0], [TIME_MIN_MS - 1])),
    "metric timestamp at 2262": event(points([0], [TIME_MAX_MS])),
    "step 2^63-1": event(points([0, 2**63 - 1], [0, 0])),
    "step -2^63": event(points([-(2**63)], [0])),
    "step 2^53": event(points([2**53], [0])),
    "nil event_id": event(event_id="00000000-0000-0000-0000-000000000000"),
}


@pytest.mark.parametrize("name", OUT_OF_RANGE)
def test_values_outside_their_columns_are_out_of_range(name: str) -> None:
    with pytest.raises(OutOfRangeError) as info:
        validate_event(OUT_OF_RANGE[name])
    assert info.value.reason == "out_of_range"
    assert isinstance(info.value, InvalidEventError)  # the projector dead-letters every InvalidEventError


IN_RANGE = {
    "pid 0": event(pid=0),
    "pid 2^32-1": event(pid=2**32 - 1),
    "artifact size 0": event(ArtifactLogged("a", "u", 0, "d")),
    "artifact size 2^63-1": event(ArtifactLogged("a", "u", 2**63 - 1, "d")),
    "seq 2^53-1": event(seq=2**53 - 1),
    "event_time 1900": event(at=TIME_MIN),
    "event_time just before 2262": event(at=TIME_MAX - timedelta(microseconds=1)),
    "end_time None": event(RunStatusChanged(RunStatus.KILLED)),
    "metric timestamps at both ends": event(points([0, 1], [TIME_MIN_MS, TIME_MAX_MS - 1])),
    "metric timestamp 0": event(points([0], [0])),
    "steps at both ends": event(points([-(2**53 - 1), 2**53 - 1], [0, 0])),
    "empty metric batch": event(MetricsLogged([], [], [], [], [])),
}


@pytest.mark.parametrize("name", IN_RANGE)
def test_values_inside_their_ranges_pass_unchanged(name: str) -> None:
    assert check_ranges(IN_RANGE[name]) is IN_RANGE[name]
    assert validate_event(IN_RANGE[name]) is IN_RANGE[name]


def test_the_message_names_the_value() -> None:
    with pytest.raises(OutOfRangeError, match=r"producer pid -1 is outside \[0, 4294967295\]"):
        check_ranges(event(pid=-1))
    with pytest.raises(OutOfRangeError, match="event_time 0001-01-01"):
        check_ranges(event(at=datetime(1, 1, 1, tzinfo=UTC)))
