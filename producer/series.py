"""A whole series of one metric key, checked column-wise and cut into columnar batches (no per-point loop)."""

from __future__ import annotations

from typing import Any

import numpy as np

from producer import validation as v
from schemas import MetricsLogged, metric_columns

SERIES_BATCH_POINTS = 25_000
"""Points per MetricsLogged event of a series: 28 bytes a point keeps an event at ~700 KB, under Kafka's 1 MB."""


def _integers(what: str, column: Any) -> np.ndarray:
    array = np.asarray(column)
    if array.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {array.shape}")
    if len(array) and array.dtype.kind not in "iu":
        raise ValueError(f"{what} must be integers, got {array.dtype}")
    if array.dtype.kind == "u" and len(array) and array.max() > v.INT64_MAX:
        raise ValueError(f"{what} {int(array.max())} does not fit in 64 bits")
    return array.astype(np.int64, copy=False)


def check_series(key: str, steps: Any, values: Any, timestamps: Any, now_ms: int) -> MetricsLogged:
    """One key's points as a batch, or ValueError naming what is wrong (nothing is logged then).
    Values are numbers (NaN and infinities allowed), steps and timestamps (ms, default now) integers."""
    key = v.check_key("metric", key)
    value_array = np.asarray(values)
    if value_array.ndim != 1:
        raise ValueError(f"metric {key!r} values must be one-dimensional, got shape {value_array.shape}")
    if len(value_array) and value_array.dtype.kind not in "iuf":
        raise ValueError(f"metric {key!r} values must be numbers, got {value_array.dtype}")
    step_array = _integers("steps", steps)
    if timestamps is None:
        stamps = np.full(len(value_array), now_ms, dtype=np.int64)
    else:
        stamps = _integers("timestamps", timestamps)
        if len(stamps) and stamps.min() < 0:
            raise ValueError(f"timestamp {int(stamps.min())} is before 1970; pass milliseconds since the epoch")
    return metric_columns.series(key, step_array, value_array.astype(np.float64, copy=False), stamps)


def split(batch: MetricsLogged, size: int = SERIES_BATCH_POINTS) -> list[MetricsLogged]:
    """The batch in consecutive pieces of at most `size` points (views, not copies; the batch itself when it fits)."""
    if 0 < len(batch) <= size:
        return [batch]
    return [MetricsLogged(batch.names, batch.name_index[i:i + size], batch.steps[i:i + size],
                          batch.timestamps[i:i + size], batch.values[i:i + size]) for i in range(0, len(batch), size)]


def merge(batches: list[MetricsLogged]) -> MetricsLogged:
    """One batch of the points of several, in order (their keys once each; the first batch itself when alone)."""
    if len(batches) == 1:
        return batches[0]
    index: dict[str, int] = {}
    name_index = []
    for batch in batches:
        mapping = np.array([index.setdefault(name, len(index)) for name in batch.names], dtype="<i4")
        name_index.append(mapping[batch.name_index])
    steps, timestamps, values = (np.concatenate([getattr(b, column) for b in batches])
                                 for column in ("steps", "timestamps", "values"))
    return MetricsLogged(list(index), np.concatenate(name_index), steps, timestamps, values)
