"""Avro run events: the wire contract shared by the SDK, the projector and the API."""

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
    ArtifactLogged,
    DatasetInput,
    ExperimentCreated,
    InputsLogged,
    MetricsLogged,
    ParamsLogged,
    Payload,
    Producer,
    RunDeleted,
    RunEvent,
    RunRestored,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
)
from schemas.validation import validate_event

__all__ = [
    "ArtifactLogged", "BadMagicError", "DatasetInput", "DecodeError", "ExperimentCreated", "InputsLogged",
    "InvalidEventError", "MetricsLogged", "ParamsLogged", "Payload", "Producer", "RunDeleted", "RunEvent",
    "RunRestored", "RunStarted", "RunStatus", "RunStatusChanged", "SchemaCatalog", "SchemaError", "TagDeleted",
    "TagsSet", "TruncatedMessageError", "UnknownFingerprintError", "decode", "default_catalog", "encode",
    "validate_event",
]
