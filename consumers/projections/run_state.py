"""Each run as it stands now, one row per run once merged: attributes, params and tags of the run's events.

The table (`run_state`, migration 0018) is an AggregatingMergeTree whose every column is a duplicate-proof
aggregate: an attribute is the greatest (event_time, seq, value) tuple, so the latest change wins as in the fold
of `runs` (argMax by (event_time, seq)), whatever order rows arrive or merge in and however often one is
re-applied; params and tags are maps merged key by key the same way (maxMap), each value led by its `version`
(so text order is (event_time, seq) order). An event that does not set an attribute writes UNSET for it, which
every real change outranks. Readers merge with FINAL or GROUP BY (query_api/queries/run_state.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from consumers.projections.base import Block, LoggedEvent, Projection
from schemas import (
    ParamsLogged,
    RunDeleted,
    RunRenamed,
    RunRestored,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
)

COLUMNS = (
    "experiment_id", "run_id", "kafka_partition", "name", "user", "parent_run_id", "source", "description",
    "status", "start_time", "end_time", "deleted", "updated_time", "first_offset", "params", "tags", "kafka_offset",
)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)  # DateTime64's first instant: before any event
UNSET: tuple[Any, ...] = (EARLIEST, -(2**63), None)
"""An attribute this event does not change: loses to every real change."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SIGN = 2**63
VERSION_CHARS = 32


def version(event_time: datetime, seq: int) -> str:
    """(event_time, seq) as 32 hex digits whose text order is their order: microseconds since the epoch, then
    seq, each an Int64 with its sign bit flipped (migration 0018 computes the same in SQL)."""
    micros = (event_time - EPOCH) // timedelta(microseconds=1)
    return f"{micros + SIGN:016X}{seq + SIGN:016X}"


def _attributes(logged: LoggedEvent) -> tuple[Any, ...] | None:
    """(name, user, parent, source, description, status, start, end, deleted) as the runs projection reads the
    event (None: the event changes no attribute)."""
    p = logged.event.payload
    if isinstance(p, RunStarted):
        return (p.name, p.user, p.parent_run_id, p.source, p.description, str(RunStatus.RUNNING),
                p.start_time or logged.event.event_time, None, None)
    if isinstance(p, RunStatusChanged):
        return (None, None, None, None, None, str(p.status), None, p.end_time, None)
    if isinstance(p, RunRenamed):
        return (p.name, None, None, None, None, None, None, None, None)
    if isinstance(p, RunDeleted | RunRestored):
        return (None, None, None, None, None, None, None, None, int(isinstance(p, RunDeleted)))
    return None


def _keyed(logged: LoggedEvent) -> tuple[dict[str, str], dict[str, str]] | None:
    """The params and tags the event sets, each value with its version (None: it sets neither)."""
    e = logged.event
    p = e.payload
    if not isinstance(p, ParamsLogged | TagsSet | TagDeleted):
        return None
    at = version(e.event_time, e.seq)
    if isinstance(p, ParamsLogged):
        return {k: at + v for k, v in p.params.items()}, {}
    if isinstance(p, TagsSet):
        return {}, {k: f"{at}0{v}" for k, v in p.tags.items()}
    return {}, {p.key: f"{at}1"}


def project(logged: LoggedEvent, block: Block) -> None:
    e = logged.event
    head = (e.experiment_id, e.run_id, logged.partition)
    attributes = _attributes(logged)
    if attributes is not None:
        name, user, parent, source, description, status, start, end, deleted = attributes
        versioned = [UNSET if value is None else (e.event_time, e.seq, value)
                     for value in (name, user, parent, source, description, status)]
        block.append(*head, *versioned, start, UNSET if end is None else (e.event_time, e.seq, end),
                     UNSET if deleted is None else (e.event_time, e.seq, deleted), e.event_time, logged.offset,
                     {}, {}, logged.offset)
        return
    keyed = _keyed(logged)
    if keyed is not None:
        block.append(*head, *([UNSET] * 6), None, UNSET, UNSET, None, None, *keyed, logged.offset)


PROJECTION = Projection("run_state", COLUMNS, project, merged=True, payloads=(
    RunStarted, RunStatusChanged, RunRenamed, RunDeleted, RunRestored, ParamsLogged, TagsSet, TagDeleted))
