"""Times leave the API as ISO-8601 UTC strings; ClickHouse hands them over as epoch integers."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_from_micros(micros: int | None) -> str | None:
    """ISO-8601 with a Z for an epoch-microseconds value; None stays None."""
    if micros is None:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, UTC).isoformat().replace("+00:00", "Z")
