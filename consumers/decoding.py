"""Turning a raw Kafka message into a logged event, or into the reason it is a dead letter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from consumers.logged import LoggedEvent
from consumers.screening import MAX_KEY_CHARS, check_key
from schemas import DecodeError, InvalidEventError, decode, validate_event
from schemas.codec import read_fingerprint


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int
    offset: int
    key: str
    reason: str
    message: str
    fingerprint: str
    time: datetime = datetime(1970, 1, 1, tzinfo=UTC)
    """When the broker took the message (its Kafka timestamp): a replay records the same row again."""


def classify(value: bytes | None, key: bytes | None, partition: int, offset: int,
             timestamp_ms: int | None = None, *, points: bool = True) -> LoggedEvent | DeadLetter:
    """Decode and validate one message; never raises for bad bytes. `points=False`: a metric batch's point rules
    are left to the caller (`schemas.points_valid`, see `validate_event`)."""
    fingerprint = ""
    key_text = (key or b"").decode("utf-8", "replace")
    try:
        fingerprint = read_fingerprint(value or b"").hex()
        event = check_key(validate_event(decode(value or b""), points=points), key_text)
    except (DecodeError, InvalidEventError) as exc:
        at = datetime.fromtimestamp(max(timestamp_ms or 0, 0) / 1000, UTC)
        return DeadLetter(partition, offset, key_text[:MAX_KEY_CHARS], exc.reason, str(exc), fingerprint, at)
    return LoggedEvent(event, partition, offset, fingerprint)
