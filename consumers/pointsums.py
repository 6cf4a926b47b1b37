"""Per-run checksums of metric points, computed with numpy from a replay's blocks and with SQL from a stored table.

Verify compares the live metric points (`metric_chunks`, whose arrays hold them) with the log replayed. Inserting
the replayed points into ClickHouse only
to hash them there (a Null table whose view sums `cityHash64` per run) cost about as much CPU as storing them;
hashing the block's numpy columns costs a fraction of it. Both sides use the same row hash, written once in numpy
(`row_hashes`) and once as a SQL expression (`row_hash_sql`): 64-bit integer arithmetic that wraps alike in both
(two rounds of MurmurHash3's finalizer over the fields), with the strings as their `cityHash64`, which
ClickHouse computes for the few distinct strings a block holds (`StringHashes`). Per run: the row count and the
wrapping sum of the row hashes, so a doubled, missing or changed row changes it and the order of rows does not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import numpy as np
from clickhouse_connect.driver.client import Client

from consumers.projections.metrics import CHUNK_COLUMNS, COLUMNS, KeyOrdered, MetricBlock, PointColumns

TYPES = {  # the metrics columns the row hash is written for; another shape is checksummed the generic way
    "experiment_id": "String", "run_id": "String", "key": "LowCardinality(String)", "step": "Int64",
    "ts": "DateTime64(3, 'UTC')", "value": "Float64", "kafka_partition": "UInt32", "kafka_offset": "UInt64",
    "point_index": "UInt32",
}
CHUNK_TYPES = {  # metric_chunks: the same points, one row per event and key, as arrays
    "experiment_id": "String", "run_id": "String", "key": "LowCardinality(String)", "first_step": "Int64",
    "kafka_partition": "UInt32", "kafka_offset": "UInt64", "step": "Array(Int64)",
    "ts": "Array(DateTime64(3, 'UTC'))", "value": "Array(Float64)", "point_index": "Array(UInt32)",
}
_MIX = (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53)  # MurmurHash3's fmix64
_FIRST = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)  # experiment, key, step, ts
_SECOND = (0xA0761D6478BD642F, 0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3, 0x589965CC75374CC3)  # value, partition,
# offset, point index

Checksums = dict[str, list[int]]
"""Per run: [rows, hash] (the hash a Python int below 2**64)."""


def matches(columns: Iterable[tuple[str, str]]) -> bool:
    """Whether a table's (name, type) columns are those the row hash is written for (one row per point, or the
    points as metric_chunks' arrays), in order."""
    found = list(columns)
    return found in ([(c, TYPES[c]) for c in COLUMNS], [(c, CHUNK_TYPES[c]) for c in CHUNK_COLUMNS])


def _fmix(x: np.ndarray) -> np.ndarray:
    x ^= x >> np.uint64(33)
    x *= np.uint64(_MIX[0])
    x ^= x >> np.uint64(33)
    x *= np.uint64(_MIX[1])
    x ^= x >> np.uint64(33)
    return x


def _combine(columns: Iterable[np.ndarray], factors: Iterable[int]) -> np.ndarray:
    out: np.ndarray | None = None
    for column, factor in zip(columns, factors, strict=True):
        term = column * np.uint64(factor)
        out = term if out is None else np.add(out, term, out=out)
    assert out is not None
    return out


def row_hashes(experiment: np.ndarray, key: np.ndarray, step: np.ndarray, ts: np.ndarray, value: np.ndarray,
               partition: np.ndarray, offset: np.ndarray, index: np.ndarray) -> np.ndarray:
    """One uint64 per point; `experiment` and `key` are the cityHash64 of each point's strings."""
    u = np.uint64
    with np.errstate(over="ignore"):
        first = _fmix(_combine((experiment.astype(u, copy=False), key.astype(u, copy=False), step.view(u),
                                ts.view(u)), _FIRST))
        second = _combine((value.view(u), partition.astype(u), offset.astype(u, copy=False), index.astype(u)),
                          _SECOND)
        return _fmix(np.bitwise_xor(first, second, out=first))


def _sql_terms(columns: tuple[str, ...], factors: tuple[int, ...]) -> str:
    return " + ".join(f"{c} * toUInt64({f})" for c, f in zip(columns, factors, strict=True))


def row_hash_sql() -> str:
    """`row_hashes` as a SQL expression over the metrics columns."""
    first = _sql_terms(("cityHash64(experiment_id)", "cityHash64(key)", "reinterpretAsUInt64(step)",
                        "reinterpretAsUInt64(toUnixTimestamp64Milli(ts))"), _FIRST)
    second = _sql_terms(("reinterpretAsUInt64(value)", "toUInt64(kafka_partition)", "kafka_offset",
                         "toUInt64(point_index)"), _SECOND)
    x = f"({first}) AS _ph_x"
    a = f"(bitXor({x}, bitShiftRight(_ph_x, 33)) * toUInt64({_MIX[0]})) AS _ph_a"
    b = f"(bitXor({a}, bitShiftRight(_ph_a, 33)) * toUInt64({_MIX[1]})) AS _ph_b"
    f = f"bitXor({b}, bitShiftRight(_ph_b, 33)) AS _ph_f"
    y = f"bitXor(({f}), {second}) AS _ph_y"
    c = f"(bitXor({y}, bitShiftRight(_ph_y, 33)) * toUInt64({_MIX[0]})) AS _ph_c"
    d = f"(bitXor({c}, bitShiftRight(_ph_c, 33)) * toUInt64({_MIX[1]})) AS _ph_d"
    return f"bitXor({d}, bitShiftRight(_ph_d, 33))"


def _fmix_sql(array: str) -> str:
    """MurmurHash3's fmix64 of every element of a UInt64 array (three maps, each naming its element twice)."""
    a = f"arrayMap(x -> bitXor(x, bitShiftRight(x, 33)) * toUInt64({_MIX[0]}), {array})"
    b = f"arrayMap(x -> bitXor(x, bitShiftRight(x, 33)) * toUInt64({_MIX[1]}), {a})"
    return f"arrayMap(x -> bitXor(x, bitShiftRight(x, 33)), {b})"


def chunk_hash_sql(table: str) -> str:
    """Per metric_chunks row of `table`: its run, its points and the wrapping sum of their `row_hashes`, without
    joining its arrays: the row's strings are hashed once per row (not once per point), and its per-row terms are
    added to each point's."""
    outer = _sql_terms(("cityHash64(experiment_id)", "cityHash64(key)"), _FIRST[:2])
    first = (f"arrayMap((s, t) -> _pc_first + reinterpretAsUInt64(s) * toUInt64({_FIRST[2]}) + "
             f"reinterpretAsUInt64(toUnixTimestamp64Milli(t)) * toUInt64({_FIRST[3]}), step, ts)")
    second = _sql_terms(("toUInt64(kafka_partition)", "kafka_offset"), _SECOND[1:3])
    mixed = (f"arrayMap((f, v, i) -> bitXor(f, _pc_second + reinterpretAsUInt64(v) * toUInt64({_SECOND[0]}) + "
             f"toUInt64(i) * toUInt64({_SECOND[3]})), {_fmix_sql(first)}, value, point_index)")
    return (f"SELECT run_id AS run, length(step) AS points, arraySum({_fmix_sql(mixed)}) AS hash, "
            f"{outer} AS _pc_first, {second} AS _pc_second FROM `{table}`")


def checksum_sql(table: str, *, chunks: bool = False) -> str:
    """Per run of a stored metrics table (named in code; `chunks`: metric_chunks, each row's arrays hashed in
    place, `chunk_hash_sql`): points and the wrapping sum of their row hashes, in `maintenance.checksum_sql`'s
    shape (no floating-point sums: total 0)."""
    if chunks:
        return (f"SELECT run, sum(points) AS rows, sum(hash) AS hash, toFloat64(0) AS total "
                f"FROM ({chunk_hash_sql(table)}) GROUP BY run")
    return (f"SELECT run_id AS run, count() AS rows, sum({row_hash_sql()}) AS hash, toFloat64(0) AS total "
            f"FROM `{table}` GROUP BY run")


class StringHashes:
    """cityHash64 of strings, asked of ClickHouse once per distinct string (`ask` takes a list, returns theirs)."""

    def __init__(self, ask: Callable[[list[str]], list[int]]) -> None:
        self._ask = ask
        self._known: dict[str, int] = {}
        self._lock = threading.Lock()

    def of(self, values: list[str]) -> np.ndarray:
        missing = [v for v in dict.fromkeys(values) if v not in self._known]
        if missing:
            found = self._ask(missing)
            with self._lock:
                self._known.update(zip(missing, found, strict=True))
        return np.array([self._known[v] for v in values], dtype=np.uint64)


class PointSums:
    """The running per-run checksums of the metric blocks handed to `add` (from any thread)."""

    def __init__(self, hashes: StringHashes) -> None:
        self.hashes = hashes
        self.runs: Checksums = {}
        self._lock = threading.Lock()

    def add(self, block: MetricBlock) -> None:
        """Add the block's points: in sorting-key order where the block is inserted sorted (the summary sorted
        them already; each (experiment, key, run) group is one run's), else in event order (each event's points
        are one run's). The sums do not depend on the order."""
        if not len(block):
            return
        p: KeyOrdered | PointColumns
        if block.sorted_insert:
            p = block.key_ordered()
            starts = p.starts
            counts = np.diff(np.r_[starts, len(p.step)])
        else:
            p = block.point_columns()
            counts = p.counts
            starts = np.cumsum(counts) - counts
        experiment = self.hashes.of(p.experiments)[p.experiment]
        key = self.hashes.of(p.keys)[p.key]
        hashes = row_hashes(experiment, key, p.step, p.ts, p.value, p.partition, p.offset, p.point_index)
        with np.errstate(over="ignore"):
            per_group = np.add.reduceat(hashes, starts).tolist()
        first_run = p.run[starts].tolist()
        with self._lock:
            for run_code, count, value in zip(first_run, counts.tolist(), per_group, strict=True):
                sums = self.runs.setdefault(p.runs[run_code], [0, 0])
                sums[0] += count
                sums[1] = (sums[1] + value) & 0xFFFFFFFFFFFFFFFF


def city_hashes(client: Client) -> StringHashes:
    """StringHashes asking ClickHouse through `client`."""
    def ask(values: list[str]) -> list[int]:
        rows = client.query("SELECT s, cityHash64(s) FROM (SELECT arrayJoin({values:Array(String)}) AS s)",
                            parameters={"values": values}).result_rows
        found = {str(value): int(h) for value, h in rows}
        return [found[v] for v in values]
    return StringHashes(ask)
