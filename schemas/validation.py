"""Rules of meaning that a well-formed Avro event must also obey."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schemas.errors import InvalidEventError
from schemas.events import RUNLESS_EVENTS, MetricsLogged, RunEvent, RunStatus, RunStatusChanged
from schemas.gateway_events import GATEWAY_EVENTS
from schemas.ids import RUN_ID
from schemas.model_events import REGISTRY_EVENTS
from schemas.ranges import STEP_MAX, STEP_MIN, TIME_MAX_MS, TIME_MIN_MS, check_ranges


def validate_event(event: RunEvent, *, points: bool = True) -> RunEvent:
    """Return the event unchanged, or raise InvalidEventError naming the broken rule (ranges included).

    `points=False` leaves out the rules about a metric batch's points (name indexes within its names, steps and
    timestamps in range), for a caller that checks many batches at once with `points_valid` and validates
    again with them wherever that or this fails (so the rule named is always the one this names)."""
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
        if points and n and (payload.name_index.min() < 0 or payload.name_index.max() >= len(payload.names)):
            raise InvalidEventError("MetricsLogged name_index points outside names")
        if any(not name for name in payload.names):
            raise InvalidEventError("MetricsLogged has an empty metric key")
    return check_ranges(event, points=points)


def points_valid(batches: Sequence[MetricsLogged]) -> bool:
    """Whether every batch passes the point rules `validate_event(points=False)` leaves out, checked over all the
    batches' points at once (a handful of numpy reductions instead of six per batch)."""
    batches = [b for b in batches if len(b)]
    if not batches:
        return True
    counts = np.fromiter((len(b) for b in batches), dtype=np.int64, count=len(batches))
    index = np.concatenate([b.name_index for b in batches])
    bound = np.repeat(np.fromiter((len(b.names) for b in batches), dtype=np.int64, count=len(batches)), counts)
    if int(index.min()) < 0 or bool((index >= bound).any()):
        return False
    steps = np.concatenate([b.steps for b in batches])
    stamps = np.concatenate([b.timestamps for b in batches])
    return bool(int(steps.min()) >= STEP_MIN and int(steps.max()) <= STEP_MAX
                and int(stamps.min()) >= TIME_MIN_MS and int(stamps.max()) <= TIME_MAX_MS - 1)
