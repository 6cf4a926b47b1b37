"""The ranges an event's values must lie in to be stored and read back: checked before anything is inserted.

A value outside its ClickHouse column's range either fails the insert (a pid of -1 in UInt32, a size of -1
in UInt64: the projector retried and stopped) or is stored and breaks every later read (an event time in
year 1 or 9999, a metric timestamp of 2^63-1 ms: DECIMAL_OVERFLOW in as-of and diff). Integers that readers
do arithmetic on or render as JSON numbers (seq, steps) stay within what a double holds exactly, so a
JavaScript client reads the step it was given and `seq + 1` never overflows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.errors import InvalidEventError
from schemas.events import ArtifactLogged, MetricsLogged, RunEvent, RunStatusChanged

# DateTime64's documented range starts in 1900; 2262-01-01 is the "end of time" of the runs_current view
# (and DateTime64(9) ends in April 2262), so a later time would be invisible to the fold.
TIME_MIN = datetime(1900, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(2262, 1, 1, tzinfo=UTC)  # exclusive
TIME_MIN_MS = int(TIME_MIN.timestamp() * 1000)
TIME_MAX_MS = int(TIME_MAX.timestamp() * 1000)  # exclusive
JSON_SAFE_INT = 2**53 - 1  # the largest integer a double (a JSON number in JavaScript) holds exactly
SEQ_MAX = JSON_SAFE_INT
STEP_MIN, STEP_MAX = -JSON_SAFE_INT, JSON_SAFE_INT
UINT32_MAX = 2**32 - 1  # producer_pid, point_index
UINT64_MAX = 2**64 - 1  # artifact size
NIL_EVENT_ID = "00000000-0000-0000-0000-000000000000"  # marks DeadLetter and Duplicate rows


class OutOfRangeError(InvalidEventError):
    """A value of the event lies outside what its column holds or its readers can use."""

    reason = "out_of_range"


def check_time(what: str, value: datetime) -> None:
    if not TIME_MIN <= value < TIME_MAX:
        raise OutOfRangeError(f"{what} {value.isoformat()} is outside [{TIME_MIN.year}, {TIME_MAX.year})")


def check_int(what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise OutOfRangeError(f"{what} {value} is outside [{low}, {high}]")


def check_ranges(event: RunEvent, *, points: bool = True) -> RunEvent:
    """Return the event unchanged, or raise OutOfRangeError naming the first value out of range (`points=False`:
    not looking at a metric batch's steps and timestamps, see `validation.points_valid`)."""
    if event.event_id == NIL_EVENT_ID:
        raise OutOfRangeError("event_id is the nil UUID, which marks dead letters and duplicates")
    check_int("seq", event.seq, 1, SEQ_MAX)
    check_time("event_time", event.event_time)
    check_int("producer pid", event.producer.pid, 0, UINT32_MAX)
    payload = event.payload
    if isinstance(payload, MetricsLogged) and len(payload):
        check_int("metric batch size", len(payload), 0, UINT32_MAX)
        if not points:
            return event
        # numpy's min/max (the builtins make a Python object per point of these numpy columns)
        check_int("step", int(payload.steps.min()), STEP_MIN, STEP_MAX)
        check_int("step", int(payload.steps.max()), STEP_MIN, STEP_MAX)
        check_int("metric timestamp (ms)", int(payload.timestamps.min()), TIME_MIN_MS, TIME_MAX_MS - 1)
        check_int("metric timestamp (ms)", int(payload.timestamps.max()), TIME_MIN_MS, TIME_MAX_MS - 1)
    elif isinstance(payload, ArtifactLogged):
        check_int("artifact size", payload.size, 0, UINT64_MAX)
    elif isinstance(payload, RunStatusChanged) and payload.end_time is not None:
        check_time("end_time", payload.end_time)
    return event
