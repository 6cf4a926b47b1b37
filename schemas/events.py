"""Python shapes of the Avro records; each class name equals its Avro record name."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from schemas.alerts import (
    ALERT_EVENTS,
    AlertDelivered,
    AlertFired,
    AlertRuleChanged,
    AlertRuleCreated,
    AlertRuleDeleted,
)


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


@dataclass(frozen=True, slots=True)
class ParamsLogged:
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class MetricsLogged:
    """A columnar batch of points: point i is (names[name_index[i]], steps[i], timestamps[i], values[i])."""

    names: list[str]
    name_index: list[int]
    steps: list[int]
    timestamps: list[int]
    values: list[float]

    def __len__(self) -> int:
        return len(self.values)

    def points(self) -> Iterator[tuple[str, int, int, float]]:
        """Yield (key, step, timestamp_ms, value) for every point, in batch order."""
        names = self.names
        for i, step, ts, value in zip(self.name_index, self.steps, self.timestamps, self.values, strict=True):
            yield names[i], step, ts, value


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


@dataclass(frozen=True, slots=True)
class InputsLogged:
    datasets: list[DatasetInput]


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
    | ExperimentDeleted | ExperimentRestored | ExperimentTagsSet | ExperimentTagDeleted
    | AlertRuleCreated | AlertRuleChanged | AlertRuleDeleted | AlertFired | AlertDelivered
)

PAYLOAD_TYPES: tuple[type, ...] = (
    ExperimentCreated, RunStarted, ParamsLogged, MetricsLogged, TagsSet, TagDeleted, ArtifactLogged,
    InputsLogged, RunStatusChanged, RunDeleted, RunRestored, RunRenamed, ExperimentRenamed, ExperimentDeleted,
    ExperimentRestored, ExperimentTagsSet, ExperimentTagDeleted, *ALERT_EVENTS,
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
