"""Experiments, from ExperimentCreated events."""

from consumers.projections.base import COORDINATES, Block, LoggedEvent, Projection, coordinates
from schemas import ExperimentCreated

COLUMNS = ("experiment_id", "name", "artifact_location", "created_time", *COORDINATES)


def project(logged: LoggedEvent, block: Block) -> None:
    e = logged.event
    if isinstance(e.payload, ExperimentCreated):
        block.append(e.experiment_id, e.payload.name, e.payload.artifact_location, e.event_time, *coordinates(logged))


PROJECTION = Projection("experiments", COLUMNS, project)
