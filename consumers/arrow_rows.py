"""A block of Python rows as an Arrow table, for the tables whose column types Arrow carries exactly.

clickhouse-connect's native insert turns every value into bytes in Python (a DateTime64 tick, a UUID's halves, a
string's length and bytes): ~15% of the live drain's GIL time went to the small tables' few thousand rows per 1M
points. pyarrow builds the same columns from the Python lists in C, and ClickHouse casts each Arrow column to the
table's type on insert (String to UUID, LowCardinality and Nullable; struct to Tuple; map to Map): the rows land
identical (tests/unit/consumers/test_arrow_rows.py inserts both ways and compares every table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

UNSUPPORTED = None

_SCALARS: dict[str, pa.DataType] = {
    "String": pa.string(), "UUID": pa.string(),
    "Int8": pa.int8(), "Int16": pa.int16(), "Int32": pa.int32(), "Int64": pa.int64(),
    "UInt8": pa.uint8(), "UInt16": pa.uint16(), "UInt32": pa.uint32(), "UInt64": pa.uint64(),
    "Float32": pa.float32(), "Float64": pa.float64(),
    # microseconds: what a Python datetime holds, so no value is rounded on the way (DateTime64(3) is not sent
    # this way: pyarrow would refuse a datetime with microseconds, clickhouse-connect truncates it)
    "DateTime64(6, 'UTC')": pa.timestamp("us", tz="UTC"),
}
_WRAPPERS = ("LowCardinality(", "Nullable(")


def _arguments(text: str) -> list[str]:
    """The top-level comma-separated arguments of a type's parentheses: `A, Tuple(B, C)` -> [A, Tuple(B, C)]."""
    out, depth, start, quoted = [], 0, 0, False
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return out


def arrow_type(kind: str) -> pa.DataType | None:
    """The Arrow type a ClickHouse column of type `kind` is sent as, or None where it is not sent as Arrow."""
    kind = kind.strip()
    if kind in _SCALARS:
        return _SCALARS[kind]
    for wrapper in _WRAPPERS:
        if kind.startswith(wrapper) and kind.endswith(")"):
            return arrow_type(kind[len(wrapper):-1])
    if kind.startswith("SimpleAggregateFunction(") and kind.endswith(")"):
        args = _arguments(kind[len("SimpleAggregateFunction("):-1])
        return arrow_type(args[1]) if len(args) == 2 else UNSUPPORTED
    if kind.startswith("Array(") and kind.endswith(")"):
        item = arrow_type(kind[len("Array("):-1])
        return pa.list_(item) if item is not None else UNSUPPORTED
    if kind.startswith("Map(") and kind.endswith(")"):
        args = _arguments(kind[len("Map("):-1])
        if len(args) != 2 or args[0] != "String":
            return UNSUPPORTED
        value = arrow_type(args[1])
        return pa.map_(pa.string(), value) if value is not None else UNSUPPORTED
    if kind.startswith("Tuple(") and kind.endswith(")"):
        items = [arrow_type(a) for a in _arguments(kind[len("Tuple("):-1])]
        if any(i is None for i in items):  # a named element ("name Type") is no type here either
            return UNSUPPORTED
        return pa.struct([(str(n), t) for n, t in enumerate(items, start=1)])
    return UNSUPPORTED


def schema_of(columns: Sequence[str], kinds: Sequence[str]) -> pa.Schema | None:
    """The Arrow schema of these columns of a table, or None if any of their types is not sent as Arrow."""
    types = [arrow_type(k) for k in kinds]
    if any(t is None for t in types):
        return None
    return pa.schema([pa.field(c, t) for c, t in zip(columns, types, strict=True)])


def to_arrow(data: Sequence[list[Any]], schema: pa.Schema) -> pa.Table | None:
    """The block's columns as an Arrow table of `schema`, or None where a value does not convert exactly (a
    bool in an integer column, a str where a number goes): the caller then inserts it natively. A naive datetime
    is taken as UTC, as clickhouse-connect takes it on a machine in UTC; the projections make only aware ones."""
    try:
        arrays = [pa.array(values, type=field.type, from_pandas=False) for values, field in zip(data, schema,
                                                                                                  strict=True)]
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError, ValueError):
        return None
    return pa.Table.from_arrays(arrays, schema=schema)
