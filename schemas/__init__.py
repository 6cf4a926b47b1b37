"""Avro run events: the wire contract shared by the SDK, the projector and the API."""

from schemas import metric_columns
from schemas.catalog import SchemaCatalog, default_catalog
from schemas.codec import decode, encode
from schemas.errors import (
    BadMagicError,
    DecodeError,
    InvalidEventError,
    SchemaError,
    TruncatedMessageError,
    UnknownFingerprintError,
)
from schemas.events import (
    EXPERIMENT_EVENTS,
    ArtifactLogged,
    DatasetInput,
    ExperimentCreated,
    ExperimentDeleted,
    ExperimentRenamed,
    ExperimentRestored,
    ExperimentTagDeleted,
    ExperimentTagsSet,
    InputsLogged,
    MetricsLogged,
    ParamsLogged,
    Payload,
    Producer,
    RunDeleted,
    RunEvent,
    RunRenamed,
    RunRestored,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
)
from schemas.validation import points_valid, validate_event

__all__ = [
    "ArtifactLogged", "BadMagicError", "DatasetInput", "DecodeError", "EXPERIMENT_EVENTS", "ExperimentCreated",
    "ExperimentDeleted", "ExperimentRenamed", "ExperimentRestored", "ExperimentTagDeleted", "ExperimentTagsSet",
    "InputsLogged", "InvalidEventError", "MetricsLogged", "ParamsLogged", "Payload", "Producer", "RunDeleted",
    "RunEvent", "RunRenamed", "RunRestored", "RunStarted", "RunStatus", "RunStatusChanged", "SchemaCatalog",
    "SchemaError", "TagDeleted", "TagsSet", "TruncatedMessageError", "UnknownFingerprintError", "decode",
    "default_catalog", "encode", "metric_columns", "points_valid", "validate_event",
]
