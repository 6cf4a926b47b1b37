"""Pure projection functions: decoded events in, columnar blocks per ClickHouse table out.

The events table comes last: it holds the projector's position, so it is written only after every
other table has its rows for the batch.
"""

from consumers.projections import (
    alerts,
    artifacts,
    events,
    experiments,
    gateway,
    metrics,
    models,
    params,
    registry,
    run_state,
    runs,
)
from consumers.projections.base import Block, LoggedEvent, Projection

PROJECTIONS: tuple[Projection, ...] = (
    experiments.PROJECTION,
    experiments.CHANGES,
    experiments.TAGS,
    runs.PROJECTION,
    params.PARAMS,
    params.TAGS,
    run_state.PROJECTION,
    artifacts.ARTIFACTS,
    artifacts.INPUTS,
    artifacts.MODEL_INPUTS,
    metrics.PROJECTION,
    models.MODELS,
    models.KV,
    models.METRICS,
    models.OUTPUTS,
    models.ARTIFACTS,
    registry.PROJECTION,
    alerts.RULES,
    alerts.FIRINGS,
    alerts.DELIVERIES,
    gateway.PROJECTION,
    events.PROJECTION,
)
POSITION_TABLE = events.PROJECTION.table

__all__ = ["POSITION_TABLE", "PROJECTIONS", "Block", "LoggedEvent", "Projection"]
