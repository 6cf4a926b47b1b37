"""Avro single-object encoding of RunEvent: C3 01, 8-byte fingerprint, Avro body."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from schemas import metric_columns
from schemas.catalog import SchemaCatalog, SchemaVersion, current_version, default_catalog
from schemas.errors import BadMagicError, DecodeError, TruncatedMessageError
from schemas.events import (
    PAYLOAD_TYPES,
    DatasetInput,
    MetricsLogged,
    Producer,
    RunEvent,
    RunStatus,
    RunStatusChanged,
)

MAGIC = b"\xc3\x01"
HEADER_LEN = len(MAGIC) + 8
NAMESPACE = "runstream.v1"
_PAYLOAD_BY_NAME = {f"{NAMESPACE}.{cls.__name__}": cls for cls in PAYLOAD_TYPES}


_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (*PAYLOAD_TYPES, Producer, DatasetInput)
}


def _field_names(cls: type) -> tuple[str, ...]:
    return _FIELDS[cls]


def _payload_to_avro(payload: Any, version: int) -> dict[str, Any]:
    if isinstance(payload, MetricsLogged):
        return metric_columns.pack(payload, version)
    record = {name: getattr(payload, name) for name in _field_names(type(payload))}
    if isinstance(payload, RunStatusChanged):
        record["status"] = str(payload.status)
    elif "datasets" in record:
        record["datasets"] = [_dataset_to_avro(d) for d in record["datasets"]]
    return record


def _dataset_to_avro(dataset: DatasetInput) -> dict[str, Any]:
    record = {n: getattr(dataset, n) for n in _field_names(DatasetInput)}
    record["tags"] = [{"key": k, "value": v} for k, v in dataset.tags]  # left out by versions before 7
    return record


def _dataset_from_avro(record: dict[str, Any]) -> DatasetInput:
    tags = tuple((t["key"], t["value"]) for t in record.pop("tags", None) or ())
    return DatasetInput(**record, tags=tags)


def to_avro(event: RunEvent, version: int | None = None) -> dict[str, Any]:
    """The Avro datum (a dict) for an event, with the payload as a (record name, dict) union branch, in the
    shape of a schema version (default: the current one)."""
    version = current_version().version if version is None else version
    return {
        "event_id": event.event_id,
        "run_id": event.run_id,
        "experiment_id": event.experiment_id,
        "seq": event.seq,
        "event_time": event.event_time,
        "producer": {n: getattr(event.producer, n) for n in _field_names(Producer)},
        "payload": (f"{NAMESPACE}.{type(event.payload).__name__}", _payload_to_avro(event.payload, version)),
    }


def from_avro(datum: dict[str, Any]) -> RunEvent:
    """The RunEvent for an Avro datum read with return_record_name=True."""
    name, record = datum["payload"]
    cls = _PAYLOAD_BY_NAME[name]
    if cls is MetricsLogged:
        payload: Any = metric_columns.unpack(record)
    elif cls is RunStatusChanged:
        record["status"] = RunStatus(record["status"])
    elif "datasets" in record:
        record["datasets"] = [_dataset_from_avro(d) for d in record["datasets"]]
    if cls is not MetricsLogged:
        payload = cls(**record)
    return RunEvent(
        event_id=str(datum["event_id"]),
        run_id=datum["run_id"],
        experiment_id=datum["experiment_id"],
        seq=datum["seq"],
        event_time=datum["event_time"],
        producer=Producer(**datum["producer"]),
        payload=payload,
    )


def encode(event: RunEvent, catalog: SchemaCatalog | None = None, *, version: SchemaVersion | None = None) -> bytes:
    """Single-object-encode an event with the current schema (or an older `version`, for tests and tools)."""
    writer = version or (catalog.current if catalog is not None else current_version())
    out = io.BytesIO()
    out.write(MAGIC)
    out.write(writer.fingerprint)
    schemaless_writer(out, writer.parsed, to_avro(event, writer.version))
    return out.getvalue()


def read_fingerprint(message: bytes) -> bytes:
    """The 8-byte fingerprint of a single-object-encoded message; raises on a bad header."""
    if len(message) < HEADER_LEN:
        if message[: len(MAGIC)] != MAGIC[: len(message)]:
            raise BadMagicError(f"message does not start with C3 01 (got {message[:2].hex() or 'nothing'})")
        raise TruncatedMessageError(f"message of {len(message)} bytes is shorter than the 10-byte header")
    if message[:2] != MAGIC:
        raise BadMagicError(f"message does not start with C3 01 (got {message[:2].hex()})")
    return bytes(message[2:HEADER_LEN])


def decode(message: bytes, catalog: SchemaCatalog | None = None) -> RunEvent:
    """Decode a single-object-encoded event written with any known schema version into the current shape."""
    catalog = catalog or default_catalog()
    writer = catalog.writer(read_fingerprint(message))
    reader = None if writer is catalog.current else catalog.current.parsed
    body = io.BytesIO(message)  # shares the message's bytes (a slice would copy a 5,000-point batch's 140 KB)
    body.seek(HEADER_LEN)
    try:
        datum = schemaless_reader(body, writer.parsed, reader, return_record_name=True)
    except (EOFError, StopIteration, IndexError) as exc:
        raise TruncatedMessageError(f"Avro body ended early: {exc or type(exc).__name__}") from exc
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, OverflowError) as exc:
        # OverflowError: a timestamp beyond what Python's datetime holds (a corrupted event_time)
        raise DecodeError(f"Avro body is malformed: {exc}") from exc
    if body.tell() != len(message):
        raise TruncatedMessageError(f"{len(message) - body.tell()} bytes left after the Avro body")
    assert isinstance(datum, dict)
    try:
        return from_avro(datum)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DecodeError(f"Avro body does not make an event: {exc}") from exc
