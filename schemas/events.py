"""Python shapes of the Avro records; each class name equals its Avro record name."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from schemas.alerts import (
    ALERT_EVENTS,
    AlertDelivered,
    AlertFired,
    AlertRuleChanged,
    AlertRuleCreated,
    AlertRuleDeleted,
)
from schemas.gateway_events import GATEWAY_EVENTS, GatewayPayload
from schemas.model_events import LOGGED_MODEL_EVENTS, MODEL_PAYLOAD_TYPES, REGISTRY_EVENTS, ModelPayload


class RunStatus(enum.StrEnum):
    UNKNOWN = "UNKNOWN"
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


@dataclass(frozen=True, slots=True)
class Producer:
    host: str
    pid: int
    user: str
    sdk_version: str


@dataclass(frozen=True, slots=True)
class ExperimentCreated:
    name: str
    artifact_location: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunStarted:
    name: str
    user: str
    parent_run_id: str | None = None
    source: str | None = None
    description: str | None = None
    start_time: datetime | None = None  # the client's (MLflow's start_time); None: the event's time


@dataclass(frozen=True, slots=True)
class ParamsLogged:
    params: dict[str, str]


@dataclass(frozen=True, slots=True, eq=False)
class MetricsLogged:
    """A columnar batch of points: point i is (names[name_index[i]], steps[i], timestamps[i], values[i]).

    The four point columns are numpy arrays (int32, int64, int64 ms, float64), whatever sequence they were made
    from: a batch never holds a Python object per point. `schemas.metric_columns` builds and packs them."""

    names: list[str]
    name_index: np.ndarray
    steps: np.ndarray
    timestamps: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        for name, dtype in _COLUMN_DTYPES.items():
            column = getattr(self, name)
            if not isinstance(column, np.ndarray) or column.dtype != dtype:
                object.__setattr__(self, name, np.asarray(column, dtype=dtype))

    def __len__(self) -> int:
        return len(self.values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricsLogged):
            return NotImplemented
        return list(self.names) == list(other.names) and all(
            np.array_equal(getattr(self, n), getattr(other, n), equal_nan=n == "values") for n in _COLUMN_DTYPES)

    __hash__ = None  # type: ignore[assignment]

    def points(self) -> Iterator[tuple[str, int, int, float]]:
        """Yield (key, step, timestamp_ms, value) for every point, in batch order (for tests and tools: the
        projector reads the columns)."""
        names = self.names
        columns = (self.name_index.tolist(), self.steps.tolist(), self.timestamps.tolist(), self.values.tolist())
        for i, step, ts, value in zip(*columns, strict=True):
            yield names[i], step, ts, value


_COLUMN_DTYPES: dict[str, np.dtype] = {
    "name_index": np.dtype("<i4"), "steps": np.dtype("<i8"), "timestamps": np.dtype("<i8"), "values": np.dtype("<f8"),
}


@dataclass(frozen=True, slots=True)
class TagsSet:
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class TagDeleted:
    key: str


@dataclass(frozen=True, slots=True)
class ArtifactLogged:
    path: str
    uri: str
    size: int
    digest: str
    media_type: str | None = None


@dataclass(frozen=True, slots=True)
class DatasetInput:
    name: str
    digest: str
    source_type: str | None = None
    source: str | None = None
    context: str | None = None
    schema: str | None = None
    profile: str | None = None
    tags: tuple[tuple[str, str], ...] = ()  # v7: the input's tags as sent, in order (context included); older: ()


@dataclass(frozen=True, slots=True)
class InputsLogged:
    datasets: list[DatasetInput]
    model_ids: list[str] = field(default_factory=list)  # v7: logged models the run took as inputs; older: []


@dataclass(frozen=True, slots=True)
class RunStatusChanged:
    status: RunStatus
    end_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunDeleted:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RunRestored:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RunRenamed:
    name: str


@dataclass(frozen=True, slots=True)
class ExperimentRenamed:
    name: str


@dataclass(frozen=True, slots=True)
class ExperimentDeleted:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ExperimentRestored:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ExperimentTagsSet:
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class ExperimentTagDeleted:
    key: str


# Experiment-level events: run_id is empty and the Kafka key is the experiment id.
EXPERIMENT_EVENTS: tuple[type, ...] = (
    ExperimentCreated, ExperimentRenamed, ExperimentDeleted, ExperimentRestored, ExperimentTagsSet,
    ExperimentTagDeleted,
)

Payload = (
    ExperimentCreated | RunStarted | ParamsLogged | MetricsLogged | TagsSet | TagDeleted | ArtifactLogged
    | InputsLogged | RunStatusChanged | RunDeleted | RunRestored | RunRenamed | ExperimentRenamed
    | ExperimentDeleted | ExperimentRestored | ExperimentTagsSet | ExperimentTagDeleted | ModelPayload
    | AlertRuleCreated | AlertRuleChanged | AlertRuleDeleted | AlertFired | AlertDelivered | GatewayPayload
)

PAYLOAD_TYPES: tuple[type, ...] = (
    ExperimentCreated, RunStarted, ParamsLogged, MetricsLogged, TagsSet, TagDeleted, ArtifactLogged,
    InputsLogged, RunStatusChanged, RunDeleted, RunRestored, RunRenamed, ExperimentRenamed, ExperimentDeleted,
    ExperimentRestored, ExperimentTagsSet, ExperimentTagDeleted, *MODEL_PAYLOAD_TYPES, *ALERT_EVENTS,
    *GATEWAY_EVENTS,
)
# Events that belong to no run (run_id ""): experiments', logged models', the registry's, alerts', the gateway's.
RUNLESS_EVENTS: tuple[type, ...] = (
    *EXPERIMENT_EVENTS, *LOGGED_MODEL_EVENTS, *REGISTRY_EVENTS, *ALERT_EVENTS, *GATEWAY_EVENTS,
)


@dataclass(frozen=True, slots=True)
class RunEvent:
    """The envelope: who, when, which run, and one payload."""

    event_id: str
    run_id: str
    experiment_id: str
    seq: int
    event_time: datetime
    producer: Producer
    payload: Payload

    @property
    def type(self) -> str:
        return type(self.payload).__name__
