"""Turning a raw Kafka message into a logged event, or into the reason it is a dead letter."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.projections import LoggedEvent
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


def classify(value: bytes | None, key: bytes | None, partition: int, offset: int) -> LoggedEvent | DeadLetter:
    """Decode and validate one message; never raises for bad bytes."""
    fingerprint = ""
    key_text = (key or b"").decode("utf-8", "replace")
    try:
        fingerprint = read_fingerprint(value or b"").hex()
        event = validate_event(decode(value or b""))
    except (DecodeError, InvalidEventError) as exc:
        return DeadLetter(partition, offset, key_text, exc.reason, str(exc), fingerprint)
    return LoggedEvent(event, partition, offset, fingerprint)
