"""Times leave the API as ISO-8601 UTC strings; ClickHouse hands them over as epoch integers."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_from_micros(micros: int | None) -> str | None:
    """ISO-8601 with a Z for an epoch-microseconds value; None stays None."""
    if micros is None:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, UTC).isoformat().replace("+00:00", "Z")


EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC)


def utc_instant(value: datetime | None) -> datetime | None:
    """A query time in UTC (no zone means UTC), clamped to the span event times can have (1970-2262):
    nothing happened before, and ClickHouse's DateTime64 cannot hold the year 300 a caller may send."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return min(max(value, EARLIEST), LATEST)
