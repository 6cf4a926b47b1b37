"""One way to make an event: the envelope (id, run, experiment, seq, time, producer) around a payload.

The SDK and the MLflow front door both make their events here, so an event means the same whichever door it
came through."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from schemas.events import Payload, Producer, RunEvent
from schemas.ids import new_event_id


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventFactory:
    """Makes RunEvents for one producer identity (host, pid, user, software)."""

    def __init__(self, producer: Producer, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.producer = producer
        self.clock = clock

    def event(self, run_id: str, experiment_id: str, seq: int, payload: Payload, *, event_id: str | None = None,
              user: str | None = None) -> RunEvent:
        """An event with a fresh id (or the given one, for content-derived ids) stamped now; `user` names the
        person behind this event when one producer speaks for many (the HTTP front door)."""
        producer = self.producer if not user else replace(self.producer, user=user)
        return RunEvent(event_id or new_event_id(), run_id, experiment_id, seq, self.clock(), producer, payload)
