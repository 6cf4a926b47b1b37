"""Metric points: a columnar MetricsLogged batch becomes one row per point."""

from consumers.projections.base import Block, LoggedEvent, Projection
from schemas import MetricsLogged

COLUMNS = (
    "experiment_id", "run_id", "key", "step", "ts", "value", "kafka_partition", "kafka_offset",
    "point_index",
)


def project(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if not isinstance(p, MetricsLogged):
        return
    n = len(p)
    exp, run, key, step, ts, value, part, off, idx = block.data
    exp.extend([e.experiment_id] * n)
    run.extend([e.run_id] * n)
    key.extend([p.names[i] for i in p.name_index])
    step.extend(p.steps)
    ts.extend(p.timestamps)  # milliseconds: DateTime64(3) takes the raw ticks
    value.extend(p.values)
    part.extend([logged.partition] * n)
    off.extend([logged.offset] * n)
    idx.extend(range(n))


PROJECTION = Projection("metrics", COLUMNS, project)
