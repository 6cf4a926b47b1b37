"""Experiments: their creation, later changes (rename, delete, restore) and tags."""

from consumers.projections.base import COORDINATES, Block, LoggedEvent, Projection, coordinates
from schemas import (
    ExperimentCreated,
    ExperimentDeleted,
    ExperimentRenamed,
    ExperimentRestored,
    ExperimentTagDeleted,
    ExperimentTagsSet,
)

COLUMNS = ("experiment_id", "name", "artifact_location", "created_time", *COORDINATES)
CHANGE_COLUMNS = ("experiment_id", "event_type", "event_time", "name", "deleted", *COORDINATES)
TAG_COLUMNS = ("experiment_id", "key", "value", "deleted", "event_time", *COORDINATES)


def project(logged: LoggedEvent, block: Block) -> None:
    e = logged.event
    if isinstance(e.payload, ExperimentCreated):
        block.append(e.experiment_id, e.payload.name, e.payload.artifact_location, e.event_time, *coordinates(logged))


def project_changes(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, ExperimentRenamed):
        block.append(e.experiment_id, e.type, e.event_time, p.name, None, *coordinates(logged))
    elif isinstance(p, ExperimentDeleted | ExperimentRestored):
        block.append(e.experiment_id, e.type, e.event_time, None, int(isinstance(p, ExperimentDeleted)),
                     *coordinates(logged))


def project_tags(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, ExperimentCreated | ExperimentTagsSet):
        for key, value in p.tags.items():
            block.append(e.experiment_id, key, value, 0, e.event_time, *coordinates(logged))
    elif isinstance(p, ExperimentTagDeleted):
        block.append(e.experiment_id, p.key, "", 1, e.event_time, *coordinates(logged))


PROJECTION = Projection("experiments", COLUMNS, project, payloads=(ExperimentCreated,))
CHANGES = Projection("experiment_changes", CHANGE_COLUMNS, project_changes,
                     payloads=(ExperimentRenamed, ExperimentDeleted, ExperimentRestored))
TAGS = Projection("experiment_tags", TAG_COLUMNS, project_tags,
                  payloads=(ExperimentCreated, ExperimentTagsSet, ExperimentTagDeleted))
