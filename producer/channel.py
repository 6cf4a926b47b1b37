"""Where a run's events go: made by the shared event factory, encoded, and handed to the publisher."""

from __future__ import annotations

from datetime import datetime

from producer.publisher import Publisher
from schemas import Payload, encode
from schemas.factory import EventFactory


class EventChannel:
    """Makes, encodes and sends one event at a time; thread-safe as the publisher is."""

    def __init__(self, factory: EventFactory, publisher: Publisher) -> None:
        self.factory = factory
        self.publisher = publisher

    def now(self) -> datetime:
        return self.factory.clock()

    def send(self, run_id: str, experiment_id: str, seq: int, payload: Payload) -> None:
        """Publish one event keyed by its run (experiment events by the experiment)."""
        event = self.factory.event(run_id, experiment_id, seq, payload)
        self.publisher.send(run_id or experiment_id, encode(event))
