"""MLflow 3 logged models and the model registry as events (schema version 5); names equal the Avro records.

Logged-model events belong to an experiment (run_id ""); registry events belong to no run or experiment
(both ""): they are keyed `REGISTRY_KEY`, so the whole registry sits in one partition and its offsets order it.
A registered model is identified by `registered_model_id`, fixed at creation, since its name can change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REGISTRY_KEY = "mlflow-registry"


@dataclass(frozen=True, slots=True)
class LoggedModelCreated:
    model_id: str
    name: str
    source_run_id: str | None = None
    model_type: str | None = None
    artifact_location: str = ""
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LoggedModelStatusChanged:
    model_id: str
    status: str
    status_message: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedModelTagsSet:
    model_id: str
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class LoggedModelTagDeleted:
    model_id: str
    key: str


@dataclass(frozen=True, slots=True)
class LoggedModelParamsLogged:
    model_id: str
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class LoggedModelDeleted:
    model_id: str


@dataclass(frozen=True, slots=True)
class RunOutputsLogged:
    """Logged models a run produced, with the step of each (a run event)."""

    model_ids: list[str]
    steps: list[int]


@dataclass(frozen=True, slots=True)
class LoggedModelMetricsLogged:
    """Run metric points linked to a logged model and maybe a dataset (a run event; the points are also in
    the run's MetricsLogged)."""

    model_id: str
    dataset_name: str | None
    dataset_digest: str | None
    keys: list[str]
    values: list[float]
    timestamps: list[int]
    steps: list[int]


@dataclass(frozen=True, slots=True)
class RegisteredModelCreated:
    registered_model_id: str
    name: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RegisteredModelRenamed:
    registered_model_id: str
    name: str
    new_name: str


@dataclass(frozen=True, slots=True)
class RegisteredModelDescribed:
    registered_model_id: str
    name: str
    description: str | None


@dataclass(frozen=True, slots=True)
class RegisteredModelDeleted:
    registered_model_id: str
    name: str


@dataclass(frozen=True, slots=True)
class RegisteredModelTagsSet:
    registered_model_id: str
    name: str
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class RegisteredModelTagDeleted:
    registered_model_id: str
    name: str
    key: str


@dataclass(frozen=True, slots=True)
class ModelVersionCreated:
    registered_model_id: str
    name: str
    version: int
    source: str
    run_id: str | None = None
    model_id: str | None = None
    run_link: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    storage_location: str | None = None


@dataclass(frozen=True, slots=True)
class ModelVersionDescribed:
    registered_model_id: str
    name: str
    version: int
    description: str | None


@dataclass(frozen=True, slots=True)
class ModelVersionStageChanged:
    registered_model_id: str
    name: str
    version: int
    stage: str


@dataclass(frozen=True, slots=True)
class ModelVersionDeleted:
    registered_model_id: str
    name: str
    version: int


@dataclass(frozen=True, slots=True)
class ModelVersionTagsSet:
    registered_model_id: str
    name: str
    version: int
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class ModelVersionTagDeleted:
    registered_model_id: str
    name: str
    version: int
    key: str


@dataclass(frozen=True, slots=True)
class ModelAliasSet:
    registered_model_id: str
    name: str
    alias: str
    version: int


@dataclass(frozen=True, slots=True)
class ModelAliasDeleted:
    registered_model_id: str
    name: str
    alias: str


@dataclass(frozen=True, slots=True)
class LoggedModelArtifactLogged:
    """A file stored under a logged model's artifact root (path relative to it)."""

    model_id: str
    path: str
    uri: str
    size: int
    digest: str
    media_type: str | None = None


LOGGED_MODEL_EVENTS: tuple[type, ...] = (
    LoggedModelCreated, LoggedModelStatusChanged, LoggedModelTagsSet, LoggedModelTagDeleted, LoggedModelParamsLogged,
    LoggedModelDeleted, LoggedModelArtifactLogged,
)
REGISTRY_EVENTS: tuple[type, ...] = (
    RegisteredModelCreated, RegisteredModelRenamed, RegisteredModelDescribed, RegisteredModelDeleted,
    RegisteredModelTagsSet, RegisteredModelTagDeleted, ModelVersionCreated, ModelVersionDescribed,
    ModelVersionStageChanged, ModelVersionDeleted, ModelVersionTagsSet, ModelVersionTagDeleted, ModelAliasSet,
    ModelAliasDeleted,
)
# In the order of the schema's payload union (after the v3 branches).
MODEL_PAYLOAD_TYPES: tuple[type, ...] = (
    *LOGGED_MODEL_EVENTS[:-1], RunOutputsLogged, LoggedModelMetricsLogged, *REGISTRY_EVENTS,
    LoggedModelArtifactLogged,
)
ModelPayload = (
    LoggedModelCreated | LoggedModelStatusChanged | LoggedModelTagsSet | LoggedModelTagDeleted
    | LoggedModelParamsLogged | LoggedModelDeleted | RunOutputsLogged | LoggedModelMetricsLogged
    | RegisteredModelCreated | RegisteredModelRenamed | RegisteredModelDescribed | RegisteredModelDeleted
    | RegisteredModelTagsSet | RegisteredModelTagDeleted | ModelVersionCreated | ModelVersionDescribed
    | ModelVersionStageChanged | ModelVersionDeleted | ModelVersionTagsSet | ModelVersionTagDeleted
    | ModelAliasSet | ModelAliasDeleted | LoggedModelArtifactLogged
)
