"""Params and tags: one row per key and event; the latest row by (event_time, seq) wins."""

from consumers.projections.base import COORDINATES, Block, LoggedEvent, Projection, coordinates
from schemas import ParamsLogged, TagDeleted, TagsSet

PARAM_COLUMNS = ("experiment_id", "run_id", "key", "value", "event_time", "seq", *COORDINATES)
TAG_COLUMNS = ("experiment_id", "run_id", "key", "value", "deleted", "event_time", "seq", *COORDINATES)


def project_params(logged: LoggedEvent, block: Block) -> None:
    e = logged.event
    if isinstance(e.payload, ParamsLogged):
        for key, value in e.payload.params.items():
            block.append(e.experiment_id, e.run_id, key, value, e.event_time, e.seq, *coordinates(logged))


def project_tags(logged: LoggedEvent, block: Block) -> None:
    e = logged.event
    if isinstance(e.payload, TagsSet):
        for key, value in e.payload.tags.items():
            block.append(e.experiment_id, e.run_id, key, value, 0, e.event_time, e.seq, *coordinates(logged))
    elif isinstance(e.payload, TagDeleted):
        block.append(e.experiment_id, e.run_id, e.payload.key, "", 1, e.event_time, e.seq, *coordinates(logged))


PARAMS = Projection("params", PARAM_COLUMNS, project_params, payloads=(ParamsLogged,))
TAGS = Projection("tags", TAG_COLUMNS, project_tags, payloads=(TagsSet, TagDeleted))
