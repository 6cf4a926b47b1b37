"""consumers.projections.summary: run_metric_summary rows built from a chunk's points, against a plain reference."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from consumers.derived import OFFSETS, SUMMARY, offsets_block
from consumers.projections import events as events_projection
from consumers.projections.base import LoggedEvent
from consumers.projections.metrics import MetricBlock
from consumers.projections.summary import ARG_MAX_STATE, COLUMNS, _aggregate, _empty, summary_block
from schemas import MetricsLogged, Producer, RunEvent

PRODUCER = Producer("host", 1, "user", "0.1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# -- the summary from a block's Arrow table: the way rows were built before `summary_block` read the numpy
# columns; kept here as a second implementation the new one must agree with.
def summarize(points: pa.Table) -> pa.Table:
    """The summary rows of a chunk's metric points (a `MetricBlock.to_arrow()` table), in group order."""
    if points.num_rows == 0:
        return _empty()
    rows, firsts = _aggregate(_group_ids(points), _numpy(points, "step", np.int64), _numpy(points, "ts", np.int64),
                              _numpy(points, "value", np.float64), _numpy(points, "kafka_offset", np.uint64),
                              _numpy(points, "point_index", np.uint32),
                              _numpy(points, "kafka_partition", np.uint32))
    for name in ("experiment_id", "key", "run_id"):
        rows[name] = _labels(points, name, pa.array(firsts))
    return pa.table({c: rows[c] for c in COLUMNS})


def _group_ids(points: pa.Table) -> np.ndarray:
    """A number per row, equal for rows of the same (experiment, run, key, partition), from the columns'
    dictionary codes (mixed radix: no string is compared)."""
    groups = np.zeros(points.num_rows, dtype=np.int64)
    for name in ("experiment_id", "run_id", "key", "kafka_partition"):
        column = points.column(name).combine_chunks()
        if isinstance(column, pa.DictionaryArray):
            codes, size = column.indices.to_numpy(zero_copy_only=False).astype(np.int64), len(column.dictionary)
        else:
            distinct, codes = np.unique(column.to_numpy(zero_copy_only=False), return_inverse=True)
            size = len(distinct)
        groups = groups * size + codes.reshape(-1)
    return groups


def _labels(points: pa.Table, name: str, rows: pa.Array) -> pa.Array:
    """The values of a string column at these rows, as plain strings."""
    array = points.column(name).combine_chunks().take(rows)
    return array.dictionary_decode() if isinstance(array, pa.DictionaryArray) else array


def _numpy(points: pa.Table, name: str, dtype: type) -> np.ndarray:
    column = points.column(name).combine_chunks()
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.int64())
    return column.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def logged(payload: MetricsLogged, *, run_id: str, experiment_id: str = "exp", offset: int,
           partition: int = 4) -> LoggedEvent:
    event = RunEvent(str(uuid.uuid4()), run_id, experiment_id, offset, T0, PRODUCER, payload)
    return LoggedEvent(event, partition, offset, "fp")


def reference(block: MetricBlock) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    """What summary_select's SQL computes, one point at a time in Python."""
    out: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for row in zip(*block.data, strict=True):
        point = dict(zip(block.columns, row, strict=True))
        group = (point["experiment_id"], point["key"], point["run_id"], point["kafka_partition"])
        order = (point["step"], point["ts"], point["kafka_offset"], point["point_index"])
        value = point["value"]
        g = out.setdefault(group, {"order": None, "last": None, "min": None, "max": None, "sum": 0.0,
                                   "value_count": 0, "point_count": 0, "last_step": None, "last_ts": None,
                                   "offset": 0})
        if g["order"] is None or order > g["order"]:
            g["order"], g["last"] = order, value
        if not math.isnan(value):
            g["min"] = value if g["min"] is None else min(g["min"], value)
            g["max"] = value if g["max"] is None else max(g["max"], value)
            g["sum"] += value
            g["value_count"] += 1
        g["point_count"] += 1
        g["last_step"] = point["step"] if g["last_step"] is None else max(g["last_step"], point["step"])
        g["last_ts"] = point["ts"] if g["last_ts"] is None else max(g["last_ts"], point["ts"])
        g["offset"] = max(g["offset"], point["kafka_offset"])
    return out


def decoded(block: MetricBlock) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    table = summarize(block.to_arrow())
    assert table.column_names == list(COLUMNS)
    rows = table.to_pylist()
    out = {}
    for row in rows:
        state = np.frombuffer(row["last_value"], dtype=ARG_MAX_STATE)[0]
        assert state["has_value"] == 1 and state["has_key"] == 1
        point = row["last_point"]  # the same point as the argMax state, as a plain tuple (migration 0022)
        assert same((point["step"], int(point["ts"].timestamp() * 1000), point["kafka_offset"],
                     point["point_index"], point["value"]),
                    (int(state["step"]), int(state["ts"]), int(state["kafka_offset"]), int(state["point_index"]),
                     float(state["value"])))
        out[(row["experiment_id"], row["key"], row["run_id"], row["kafka_partition"])] = {
            "order": (int(state["step"]), int(state["ts"]), int(state["kafka_offset"]), int(state["point_index"])),
            "last": float(state["value"]), "min": row["min_value"], "max": row["max_value"],
            "sum": row["sum_value"], "value_count": row["value_count"], "point_count": row["point_count"],
            "last_step": row["last_step"], "last_ts": int(row["last_ts"].timestamp() * 1000),
            "offset": row["kafka_offset"],
        }
    assert len(out) == len(rows), "one row per group"
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def random_block(seed: int, partitions: int = 1) -> MetricBlock:
    """Events of several runs and keys, with ties in step and time, NaN, infinities and repeated steps."""
    rng = random.Random(seed)
    block = MetricBlock("metrics")
    for offset in range(rng.randint(1, 30)):
        keys = rng.sample(["loss", "acc", "lr", "grad/norm"], rng.randint(1, 4))
        n = rng.randint(1, 40)
        values = [rng.choice([math.nan, math.inf, -math.inf, 0.0, -0.5, rng.random(), rng.random() * 1e6])
                  for _ in range(n)]
        batch = MetricsLogged(keys, [rng.randrange(len(keys)) for _ in range(n)],  # type: ignore[arg-type]
                              [rng.randint(-3, 5) for _ in range(n)], [rng.randint(0, 3) for _ in range(n)], values)
        run = f"{rng.randrange(5):032x}"
        block.add(logged(batch, run_id=run, experiment_id=f"exp{int(run, 16) % 2}", offset=offset * 3,
                         partition=4 + rng.randrange(partitions)))
    return block


def test_summary_rows_equal_a_point_by_point_reference() -> None:
    for seed in range(40):
        block = random_block(seed)
        want, got = reference(block), decoded(block)
        assert got.keys() == want.keys(), seed
        for group, expected in want.items():
            for name, value in expected.items():
                assert same(got[group][name], value), (seed, group, name, got[group][name], value)


def test_summary_block_from_numpy_columns_gives_the_rows_of_the_arrow_path() -> None:
    for seed in range(40):
        block = random_block(seed, partitions=3)  # a run in several partitions: a group per partition
        from_arrow = summarize(block.to_arrow()).to_pylist()
        from_columns = summary_block(block).to_arrow()
        assert from_columns.column_names == list(COLUMNS)
        key = lambda row: (row["experiment_id"], row["key"], row["run_id"], row["kafka_partition"])  # noqa: E731
        rows = sorted(from_columns.to_pylist(), key=key)
        assert len(rows) == len(from_arrow), seed
        for got, want in zip(rows, sorted(from_arrow, key=key), strict=True):
            assert got.keys() == want.keys()
            assert all(same(got[c], want[c]) for c in COLUMNS), (seed, got, want)
        assert from_columns.schema == summarize(block.to_arrow()).schema


def test_a_group_of_nan_only_has_null_min_and_max_and_nan_last() -> None:
    block = MetricBlock("metrics")
    block.add(logged(MetricsLogged(["m"], [0, 0], [0, 1], [5, 5], [math.nan, math.nan]), run_id="r" * 32, offset=9))
    (row,) = summarize(block.to_arrow()).to_pylist()
    assert row["min_value"] is None and row["max_value"] is None
    assert row["value_count"] == 0 and row["point_count"] == 2 and row["sum_value"] == 0.0
    assert math.isnan(np.frombuffer(row["last_value"], dtype=ARG_MAX_STATE)[0]["value"])
    assert math.isnan(row["last_point"]["value"]) and row["last_point"]["step"] == 1


def test_the_last_value_is_taken_by_step_then_time_then_log_position() -> None:
    block = MetricBlock("metrics")
    # step 3 twice at the same time: the later offset wins; a higher time at a lower step never does
    block.add(logged(MetricsLogged(["m"], [0, 0], [3, 1], [10, 99], [1.0, 2.0]), run_id="r" * 32, offset=1))
    block.add(logged(MetricsLogged(["m"], [0], [3], [10], [3.0]), run_id="r" * 32, offset=2))
    (row,) = summarize(block.to_arrow()).to_pylist()
    state = np.frombuffer(row["last_value"], dtype=ARG_MAX_STATE)[0]
    assert (float(state["value"]), int(state["kafka_offset"])) == (3.0, 2)
    point = row["last_point"]
    assert (point["step"], point["kafka_offset"], point["point_index"], point["value"]) == (3, 2, 0, 3.0)
    assert row["last_step"] == 3 and row["kafka_offset"] == 2


def test_an_empty_block_has_no_summary_rows() -> None:
    assert summarize(MetricBlock("metrics").to_arrow()).num_rows == 0
    assert len(summary_block(MetricBlock("metrics"))) == 0


def test_the_derived_tables_build_their_rows_from_the_block() -> None:
    assert SUMMARY.from_block is summary_block and OFFSETS.from_block is offsets_block
    events = events_projection.PROJECTION.block([])
    events.append(*events_projection.dead_letter_row(4, 11, "k", "bad", "m", "", T0))
    events.append(*events_projection.dead_letter_row(4, 12, "k", "bad", "m", "", T0))
    events.data[events.columns.index("event_type")][0] = "RunStarted"
    block = offsets_block(events)
    assert block.table == "event_offsets"
    assert [list(c) for c in block.data] == [[4], [12], [2], [1]]
    assert len(offsets_block(events_projection.PROJECTION.block([]))) == 0


def test_summary_block_from_points_in_key_order_equals_a_point_by_point_reference() -> None:
    for seed in range(40):
        block = random_block(seed)  # one partition: the rows come from the points in sorting-key order
        want = reference(block)
        table = summary_block(block).to_arrow()
        assert table.schema == summarize(block.to_arrow()).schema
        got = {(r["experiment_id"], r["key"], r["run_id"], r["kafka_partition"]): r for r in table.to_pylist()}
        assert got.keys() == want.keys(), seed
        for group, expected in want.items():
            row = got[group]
            state = np.frombuffer(row["last_value"], dtype=ARG_MAX_STATE)[0]
            assert same((int(state["step"]), int(state["ts"]), int(state["kafka_offset"]),
                         int(state["point_index"])), expected["order"]), (seed, group)
            assert same(float(state["value"]), expected["last"]), (seed, group)
            assert same(row["min_value"], expected["min"]) and same(row["max_value"], expected["max"]), seed
            assert same(row["sum_value"], expected["sum"]), (seed, group)
            assert row["point_count"] == expected["point_count"] and row["last_step"] == expected["last_step"]
            assert row["value_count"] == expected["value_count"] and row["kafka_offset"] == expected["offset"]


def test_a_block_not_inserted_sorted_gives_the_same_summary_rows_without_sorting() -> None:
    for seed in range(20):
        block, unsorted = random_block(seed), random_block(seed)
        unsorted.sorted_insert = False  # verify's Null table: grouped from the event-order columns
        key = lambda row: (row["experiment_id"], row["key"], row["run_id"], row["kafka_partition"])  # noqa: E731
        want = sorted(summary_block(block).to_arrow().to_pylist(), key=key)
        got = sorted(summary_block(unsorted).to_arrow().to_pylist(), key=key)
        assert len(got) == len(want) and all(same(g[c], w[c]) for g, w in zip(got, want, strict=True) for c in COLUMNS)
        assert unsorted._ordered is None, "nothing was sorted"


def _same_bits(a: object, b: object) -> bool:
    """Equal to the bit: numpy columns by their bytes (NaN, -0.0), Arrow columns by their buffers' values."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert isinstance(a, pa.Array) and isinstance(b, pa.Array)
    if pa.types.is_struct(a.type):  # last_point: field by field (Arrow's equals takes NaN for unequal)
        return a.type == b.type and all(_same_bits(a.field(i), b.field(i)) for i in range(a.type.num_fields))
    if pa.types.is_floating(a.type):
        return a.type == b.type and a.is_null().equals(b.is_null()) and \
            a.fill_null(0.0).to_numpy().tobytes() == b.fill_null(0.0).to_numpy().tobytes()
    return a.equals(b)


def test_the_summary_shortcuts_give_the_rows_of_the_general_path_to_the_bit() -> None:
    """`_aggregate_sorted`'s shortcuts (steps rising strictly in every group: the last row is the last point; no
    NaN: every value counts) against the general passes, on random groups: rising, tied, falling and repeated
    steps, tied times, NaN, +-inf and -0.0 values, groups of one row."""
    from consumers.projections.summary import _aggregate_sorted

    rng = np.random.default_rng(2026)
    shapes = ("rising", "ties", "any", "one")
    for trial in range(400):
        lengths = rng.integers(1, 40, rng.integers(1, 12))
        shape = shapes[trial % len(shapes)]
        steps = []
        for length in lengths:
            if shape == "rising" or (shape != "any" and rng.random() < 0.5):
                steps.append(np.cumsum(rng.integers(1, 4, length)) + rng.integers(-5, 5))
            elif shape == "ties":
                steps.append(np.sort(rng.integers(0, 4, length)))
            elif shape == "one":
                steps.append(np.full(length, 7))
            else:
                steps.append(rng.integers(-3, 4, length))
        step = np.concatenate(steps).astype(np.int64)
        n = len(step)
        starts = (np.cumsum(lengths) - lengths).astype(np.int64)
        ts = rng.integers(0, 3, n).astype(np.int64)
        value = rng.normal(size=n)
        if trial % 3:
            specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0])
            pick = rng.random(n) < 0.2
            value[pick] = rng.choice(specials, int(pick.sum()))
        offset = np.repeat(np.arange(len(lengths), dtype=np.uint64), lengths) + rng.integers(0, 2, n).astype(np.uint64)
        offset = np.maximum.accumulate(offset)
        index = np.arange(n, dtype=np.uint32)
        partition = np.zeros(n, dtype=np.uint32)
        fast, fast_firsts = _aggregate_sorted(starts, step, ts, value, offset, index, partition)
        slow, slow_firsts = _aggregate_sorted(starts, step, ts, value, offset, index, partition, shortcuts=False)
        assert np.array_equal(fast_firsts, slow_firsts)
        assert fast.keys() == slow.keys()
        for name in fast:
            assert _same_bits(fast[name], slow[name]), (trial, shape, name)
