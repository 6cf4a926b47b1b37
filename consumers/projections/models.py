"""MLflow 3 logged models: their lifecycle, params and tags, linked metric points, and run outputs."""

from __future__ import annotations

from typing import Any

from consumers.projections.base import COORDINATES, Block, LoggedEvent, Projection, coordinates
from schemas.model_events import (
    LoggedModelArtifactLogged,
    LoggedModelCreated,
    LoggedModelDeleted,
    LoggedModelMetricsLogged,
    LoggedModelParamsLogged,
    LoggedModelStatusChanged,
    LoggedModelTagDeleted,
    LoggedModelTagsSet,
    RunOutputsLogged,
)

MODEL_COLUMNS = (
    "experiment_id", "model_id", "event_type", "event_time", "user", "name", "source_run_id", "model_type",
    "artifact_location", "status", "status_message", "deleted", *COORDINATES,
)
KV_COLUMNS = ("experiment_id", "model_id", "kind", "key", "value", "deleted", "event_time", *COORDINATES)
METRIC_COLUMNS = (
    "experiment_id", "run_id", "model_id", "key", "step", "ts", "value", "dataset_name", "dataset_digest",
    "kafka_partition", "kafka_offset", "point_index",
)
ARTIFACT_COLUMNS = (
    "experiment_id", "model_id", "path", "uri", "size", "digest", "media_type", "event_time", *COORDINATES,
)
OUTPUT_COLUMNS = ("experiment_id", "run_id", "model_id", "step", "event_time", *COORDINATES)
PENDING = "LOGGED_MODEL_PENDING"


def project_models(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    row: tuple[Any, ...]
    if isinstance(p, LoggedModelCreated):
        row = (p.name, p.source_run_id, p.model_type, p.artifact_location, PENDING, None, 0)
    elif isinstance(p, LoggedModelStatusChanged):
        row = (None, None, None, None, p.status, p.status_message, None)
    elif isinstance(p, LoggedModelDeleted):
        row = (None, None, None, None, None, None, 1)
    else:
        return
    block.append(e.experiment_id, p.model_id, e.type, e.event_time, e.producer.user, *row, *coordinates(logged))


def project_kv(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    head = (e.experiment_id,)
    if isinstance(p, LoggedModelCreated | LoggedModelParamsLogged):
        for key, value in p.params.items():
            block.append(*head, p.model_id, "param", key, value, 0, e.event_time, *coordinates(logged))
    if isinstance(p, LoggedModelCreated | LoggedModelTagsSet):
        for key, value in p.tags.items():
            block.append(*head, p.model_id, "tag", key, value, 0, e.event_time, *coordinates(logged))
    elif isinstance(p, LoggedModelTagDeleted):
        block.append(*head, p.model_id, "tag", p.key, "", 1, e.event_time, *coordinates(logged))


def project_metrics(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, LoggedModelMetricsLogged):
        for i, (key, value, ts, step) in enumerate(zip(p.keys, p.values, p.timestamps, p.steps, strict=True)):
            block.append(e.experiment_id, e.run_id, p.model_id, key, step, ts, value, p.dataset_name or "",
                         p.dataset_digest or "", logged.partition, logged.offset, i)


def project_outputs(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, RunOutputsLogged):
        for model_id, step in zip(p.model_ids, p.steps, strict=True):
            block.append(e.experiment_id, e.run_id, model_id, step, e.event_time, *coordinates(logged))


def project_artifacts(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, LoggedModelArtifactLogged):
        block.append(e.experiment_id, p.model_id, p.path, p.uri, p.size, p.digest, p.media_type, e.event_time,
                     *coordinates(logged))


MODELS = Projection("logged_models", MODEL_COLUMNS, project_models,
                    payloads=(LoggedModelCreated, LoggedModelStatusChanged, LoggedModelDeleted))
KV = Projection("logged_model_kv", KV_COLUMNS, project_kv,
                payloads=(LoggedModelCreated, LoggedModelParamsLogged, LoggedModelTagsSet, LoggedModelTagDeleted))
METRICS = Projection("logged_model_metrics", METRIC_COLUMNS, project_metrics, payloads=(LoggedModelMetricsLogged,))
OUTPUTS = Projection("run_outputs", OUTPUT_COLUMNS, project_outputs, payloads=(RunOutputsLogged,))
ARTIFACTS = Projection("logged_model_artifacts", ARTIFACT_COLUMNS, project_artifacts,
                       payloads=(LoggedModelArtifactLogged,))
