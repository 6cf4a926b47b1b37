"""Rules of meaning that a well-formed Avro event must also obey."""

from __future__ import annotations

from schemas.errors import InvalidEventError
from schemas.events import RUNLESS_EVENTS, MetricsLogged, RunEvent, RunStatus, RunStatusChanged
from schemas.gateway_events import GATEWAY_EVENTS
from schemas.ids import RUN_ID
from schemas.model_events import REGISTRY_EVENTS
from schemas.ranges import check_ranges


def validate_event(event: RunEvent) -> RunEvent:
    """Return the event unchanged, or raise InvalidEventError naming the broken rule (ranges included)."""
    payload = event.payload
    if not event.experiment_id and not isinstance(payload, (*REGISTRY_EVENTS, *GATEWAY_EVENTS)):
        raise InvalidEventError("experiment_id is empty")
    if not isinstance(payload, RUNLESS_EVENTS) and not RUN_ID.fullmatch(event.run_id):
        raise InvalidEventError(f"run_id {event.run_id!r} is not 32 lowercase hex characters")
    if event.seq < 1:
        raise InvalidEventError(f"seq {event.seq} is not positive")
    if isinstance(payload, RunStatusChanged) and payload.status == RunStatus.UNKNOWN:
        raise InvalidEventError("run status is UNKNOWN")
    if isinstance(payload, MetricsLogged):
        n = len(payload.values)
        if not (len(payload.name_index) == len(payload.steps) == len(payload.timestamps) == n):
            raise InvalidEventError("MetricsLogged arrays differ in length")
        if n and (payload.name_index.min() < 0 or payload.name_index.max() >= len(payload.names)):
            raise InvalidEventError("MetricsLogged name_index points outside names")
        if any(not name for name in payload.names):
            raise InvalidEventError("MetricsLogged has an empty metric key")
    return check_ranges(event)
