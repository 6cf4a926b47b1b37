"""Run attributes: one row per event that changes them; runs_current folds the latest by (event_time, seq)."""

from typing import Any

from consumers.projections.base import COORDINATES, Block, LoggedEvent, Projection, coordinates
from schemas import RunDeleted, RunRenamed, RunRestored, RunStarted, RunStatus, RunStatusChanged

COLUMNS = (
    "experiment_id", "run_id", "event_type", "event_time", "seq", "name", "user", "parent_run_id", "source",
    "description", "status", "start_time", "end_time", "deleted", *COORDINATES,
)


def project(logged: LoggedEvent, block: Block) -> None:
    e = logged.event
    p = e.payload
    row: tuple[Any, ...]
    head = (e.experiment_id, e.run_id, e.type, e.event_time, e.seq)
    if isinstance(p, RunStarted):
        row = (p.name, p.user, p.parent_run_id, p.source, p.description, str(RunStatus.RUNNING),
               p.start_time or e.event_time, None, None)
    elif isinstance(p, RunStatusChanged):
        row = (None, None, None, None, None, str(p.status), None, p.end_time, None)
    elif isinstance(p, RunRenamed):
        row = (p.name, None, None, None, None, None, None, None, None)
    elif isinstance(p, RunDeleted | RunRestored):
        row = (None, None, None, None, None, None, None, None, int(isinstance(p, RunDeleted)))
    else:
        return
    block.append(*head, *row, *coordinates(logged))


PROJECTION = Projection("runs", COLUMNS, project,
                        payloads=(RunStarted, RunStatusChanged, RunRenamed, RunDeleted, RunRestored))
