"""Packed metric columns: every schema version carries the same batch, and the builders agree."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest

from schemas import MetricsLogged, Producer, RunEvent, decode, default_catalog, encode, metric_columns
from schemas.codec import HEADER_LEN

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
RUN_ID = "0123456789abcdef0123456789abcdef"


def event(payload: MetricsLogged) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), RUN_ID, "exp", 1, NOW, Producer("h", 1, "u", "v"), payload)


def sample() -> MetricsLogged:
    return metric_columns.from_points([("loss", 0, 1000, 0.5), ("acc", 0, 1000, math.nan), ("loss", 1, 1001, -math.inf),
                                       ("loss", 2**62, 2**41, 1e308)])


@pytest.mark.parametrize("version", [v.version for v in default_catalog().versions])
def test_every_schema_version_carries_the_same_batch(version: int) -> None:
    writer = next(v for v in default_catalog().versions if v.version == version)
    message = encode(event(sample()), version=writer)
    assert message[2:HEADER_LEN] == writer.fingerprint
    decoded = decode(message).payload
    assert isinstance(decoded, MetricsLogged)
    assert decoded == sample()
    assert [(k, s, t) for k, s, t, _ in decoded.points()] == [
        ("loss", 0, 1000), ("acc", 0, 1000), ("loss", 1, 1001), ("loss", 2**62, 2**41)]


def test_the_current_version_packs_points_as_little_endian_bytes() -> None:
    record = metric_columns.pack(sample())
    assert record["steps"] == [] and record["values"] == []
    assert record["packed_steps"] == np.array([0, 0, 1, 2**62], dtype="<i8").tobytes()
    assert record["packed_name_index"] == b"\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    assert len(record["packed_values"]) == 4 * 8
    # packed is smaller than Avro arrays of varints and doubles would be for large numbers, and never larger
    # than 28 bytes a point plus the names
    assert sum(len(record[f]) for f in metric_columns.PACKED) == 4 * 28


def test_decoded_columns_are_numpy_views_not_python_objects() -> None:
    decoded = decode(encode(event(sample()))).payload
    assert isinstance(decoded, MetricsLogged)
    for column, dtype in (("name_index", "<i4"), ("steps", "<i8"), ("timestamps", "<i8"), ("values", "<f8")):
        array = getattr(decoded, column)
        assert isinstance(array, np.ndarray) and array.dtype == np.dtype(dtype)
    assert not decoded.values.flags.owndata  # a view of the message's bytes


def test_series_builds_one_key_and_checks_lengths() -> None:
    batch = metric_columns.series("lr", np.arange(3), [0.1, 0.2, 0.3], [5, 6, 7])
    assert list(batch.points()) == [("lr", 0, 5, 0.1), ("lr", 1, 6, 0.2), ("lr", 2, 7, 0.3)]
    with pytest.raises(ValueError, match="differ in length"):
        metric_columns.series("lr", [1, 2], [0.1], [5, 6])


def test_equality_compares_columns_with_nan_equal_to_nan() -> None:
    assert sample() == sample()
    other = metric_columns.from_points([("loss", 0, 1000, 0.5)])
    assert sample() != other
