"""Metric batches as packed little-endian columns: points -> MetricsLogged -> Avro fields, and back.

Since schema version 4 a MetricsLogged batch carries its points in four Avro `bytes` fields, each a packed
little-endian array with one item per point (numpy writes and reads them without a Python object per point).
Older versions carried the same columns as Avro arrays; `unpack` reads either form, so every version decodes
to the same numpy columns. The SDK, the MLflow front door and the projector all go through this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from schemas.errors import DecodeError
from schemas.events import MetricsLogged

PACKED_SINCE_VERSION = 4
PACKED: dict[str, tuple[str, np.dtype]] = {  # Avro field -> (column of MetricsLogged, little-endian dtype)
    "packed_name_index": ("name_index", np.dtype("<i4")),
    "packed_steps": ("steps", np.dtype("<i8")),
    "packed_timestamps": ("timestamps", np.dtype("<i8")),
    "packed_values": ("values", np.dtype("<f8")),
}
ARRAYS = ("name_index", "steps", "timestamps", "values")


def from_columns(names: list[str], name_index: Sequence[int], steps: Sequence[int], timestamps: Sequence[int],
                 values: Sequence[float]) -> MetricsLogged:
    """A batch from parallel sequences (lists or arrays), converted to numpy columns in C loops."""
    return MetricsLogged(names, *(np.asarray(c, dtype=d) for c, (_, d) in zip(
        (name_index, steps, timestamps, values), PACKED.values(), strict=True)))


def from_points(points: Iterable[tuple[str, int, int, float]]) -> MetricsLogged:
    """A batch of (key, step, timestamp_ms, value) points, in order; keys are numbered by first appearance."""
    names: list[str] = []
    index: dict[str, int] = {}
    keys: list[int] = []
    steps: list[int] = []
    stamps: list[int] = []
    values: list[float] = []
    for key, step, ts, value in points:
        i = index.get(key)
        if i is None:
            i = index[key] = len(names)
            names.append(key)
        keys.append(i)
        steps.append(step)
        stamps.append(ts)
        values.append(value)
    return from_columns(names, keys, steps, stamps, values)


def series(key: str, steps: Any, values: Any, timestamps: Any) -> MetricsLogged:
    """One key's points from array-likes of equal length (numpy arrays are used as they are)."""
    steps, values, timestamps = (np.asarray(c) for c in (steps, values, timestamps))
    if not len(steps) == len(values) == len(timestamps):
        raise ValueError(f"steps, values and timestamps differ in length ({len(steps)}, {len(values)}, "
                         f"{len(timestamps)})")
    return MetricsLogged([key], np.zeros(len(values), dtype="<i4"), steps, timestamps, values)


def pack(batch: MetricsLogged, version: int = PACKED_SINCE_VERSION) -> dict[str, Any]:
    """The Avro record of a batch for a schema version: packed bytes (version 4 on), else Avro arrays."""
    if version >= PACKED_SINCE_VERSION:
        record: dict[str, Any] = {"names": list(batch.names), **{a: [] for a in ARRAYS}}
        for field, (column, dtype) in PACKED.items():
            record[field] = np.ascontiguousarray(getattr(batch, column), dtype=dtype).tobytes()
        return record
    return {"names": list(batch.names), **{a: getattr(batch, a).tolist() for a in ARRAYS}}


def unpack(record: dict[str, Any]) -> MetricsLogged:
    """The batch in an Avro record of any version: numpy views of the packed bytes, or the arrays converted.
    Raises DecodeError when a packed field is not a whole number of items, or a batch mixes both forms."""
    packed = {f: record.get(f) or b"" for f in PACKED}
    if not any(packed.values()):
        return MetricsLogged(record["names"], *(record[a] for a in ARRAYS))
    if any(record.get(a) for a in ARRAYS):
        raise DecodeError("MetricsLogged carries points both as arrays and packed")
    columns = {}
    for field, (column, dtype) in PACKED.items():
        raw = packed[field]
        if len(raw) % dtype.itemsize:
            raise DecodeError(f"MetricsLogged.{field} holds {len(raw)} bytes, not a multiple of {dtype.itemsize}")
        columns[column] = np.frombuffer(raw, dtype=dtype)
    return MetricsLogged(record["names"], **columns)
