"""consumers.projections.metrics.MetricBlock.to_arrow_in_key_order: metric rows sent in the table's sorting-key
order."""

from __future__ import annotations

import random
import uuid
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from consumers.projections.base import LoggedEvent
from consumers.projections.metrics import SORTING_KEY, KeyOrdered, MetricBlock, _key_ordered, _point_columns
from schemas import MetricsLogged, Producer, RunEvent

PRODUCER = Producer("host", 1, "user", "0.1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def block_of(seed: int) -> MetricBlock:
    """Events of several experiments, runs and keys (ASCII case, non-ASCII, prefixes), steps in any order, ties,
    one run in two partitions."""
    rng = random.Random(seed)
    block = MetricBlock("metrics")
    for offset in range(rng.randint(1, 25)):
        keys = rng.sample(["loss", "Loss", "lo", "été", "z", "acc/top-1", "a\u00e9", "a\uffff"], rng.randint(1, 5))
        n = rng.randint(1, 30)
        batch = MetricsLogged(keys, [rng.randrange(len(keys)) for _ in range(n)],  # type: ignore[arg-type]
                              [rng.randint(-2, 6) for _ in range(n)], [rng.randint(0, 3) for _ in range(n)],
                              [rng.random() for _ in range(n)])
        run = rng.choice(["ab" * 16, "AB" * 16, "cd" * 16, "a" * 31 + "0"])
        experiment = rng.choice(["exp", "exp2", "Exp", "ex"])
        event = RunEvent(str(uuid.uuid4()), run, experiment, offset + 1, T0, PRODUCER, batch)
        block.add(LoggedEvent(event, rng.choice([1, 4]), offset * 2, "fp"))
    return block


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def clickhouse_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """The sorting key as ClickHouse compares it: Strings by their UTF-8 bytes."""
    return tuple(row[c].encode() if isinstance(row[c], str) else row[c] for c in SORTING_KEY)


def test_rows_come_in_the_sorting_key_order_and_are_the_same_rows() -> None:
    for seed in range(60):
        block = block_of(seed)
        table = block.to_arrow()
        ordered = block.to_arrow_in_key_order()
        assert ordered.schema == table.schema, seed
        got = rows(ordered)
        assert [clickhouse_key(r) for r in got] == sorted(clickhouse_key(r) for r in got), seed
        points = [tuple(r[c] for c in table.column_names) for r in got]
        assert sorted(points) == sorted(tuple(r[c] for c in table.column_names) for r in rows(table)), seed


def test_the_sorted_points_are_made_once_and_an_empty_block_has_none() -> None:
    block = block_of(3)
    assert block.to_arrow_in_key_order() is block.to_arrow_in_key_order()
    assert block.key_ordered() is block.key_ordered()
    assert MetricBlock("metrics").to_arrow_in_key_order().num_rows == 0


def test_a_block_out_of_step_order_within_a_group_is_still_sorted() -> None:
    """Steps going backwards inside one (experiment, key, run): the stable sort is not enough, the full sort runs."""
    block = MetricBlock("metrics")
    for offset, steps in enumerate([[5, 6, 7], [1, 2, 3], [4, 4, 0]]):
        batch = MetricsLogged(["loss"], [0, 0, 0], steps, [0, 0, 0], [0.1, 0.2, 0.3])  # type: ignore[arg-type]
        block.add(LoggedEvent(RunEvent(str(uuid.uuid4()), "ab" * 16, "exp", offset + 1, T0, PRODUCER, batch), 1,
                              offset, "fp"))
    got = rows(block.to_arrow_in_key_order())
    assert [clickhouse_key(r) for r in got] == sorted(clickhouse_key(r) for r in got)
    assert [r["step"] for r in got] == [0, 1, 2, 3, 4, 4, 5, 6, 7]


def test_a_block_names_every_series_it_holds_points_of() -> None:
    for seed in range(20):
        block = block_of(seed)
        held = {(r["experiment_id"], r["run_id"], r["key"]) for r in rows(block.to_arrow())}
        assert held <= block.series()
        named = {(p.experiment_id, p.run_id, n) for p in block.parts for n in p.batch.names}
        assert block.series() == named


def coalesced_block_of(seed: int) -> MetricBlock:
    """`block_of` for metric_chunks, with events whose keys come grouped (series sent together) besides
    interleaved ones, keys named but without points, and a run's events in two partitions."""
    rng = random.Random(seed)
    block = MetricBlock("metric_chunks")
    for offset in range(rng.randint(1, 25)):
        keys = rng.sample(["loss", "Loss", "lo", "été", "z", "acc/top-1", "a\u00e9", "a\uffff"], rng.randint(1, 5))
        n = rng.randint(1, 30)
        index = [rng.randrange(len(keys)) for _ in range(n)]
        if rng.random() < 0.5:
            index.sort()
        batch = MetricsLogged(keys, index, [rng.randint(-2, 6) for _ in range(n)],  # type: ignore[arg-type]
                              [rng.randint(0, 3) for _ in range(n)], [rng.random() for _ in range(n)])
        run = rng.choice(["ab" * 16, "AB" * 16, "cd" * 16, "a" * 31 + "0"])
        experiment = rng.choice(["exp", "exp2", "Exp", "ex"])
        event = RunEvent(str(uuid.uuid4()), run, experiment, offset + 1, T0, PRODUCER, batch)
        block.add(LoggedEvent(event, rng.choice([1, 4]), offset * 2 + rng.randint(0, 1), "fp"))
    return block


def test_chunks_are_ordered_as_the_points_sorted_one_by_one_would_be() -> None:
    """metric_chunks' blocks sort chunks, not points (`_chunk_ordered`): every column, group start and list of
    names is what sorting each point gives."""
    for seed in range(200):
        block = coalesced_block_of(seed)
        assert block.chunked
        fast = block.key_ordered()
        slow = _key_ordered(_point_columns(block.parts), by_step=False)
        for field in fields(KeyOrdered):
            got, want = getattr(fast, field.name), getattr(slow, field.name)
            if isinstance(want, np.ndarray):
                assert got.dtype == want.dtype and np.array_equal(got, want), (seed, field.name)
            else:
                assert got == want, (seed, field.name)


def test_chunks_of_a_block_too_large_for_the_radix_sort_are_ordered_as_the_points_sorted_one_by_one() -> None:
    """More events x keys than 16 bits hold: `_chunk_ordered` sorts (event, key) as int64, with the same result."""
    rng = random.Random(5)
    keys = ["loss", "acc", "lr", "z", "été"]
    block = MetricBlock("metric_chunks")
    for offset in range(2**16 // len(keys) + 50):
        batch = MetricsLogged(keys, [rng.randrange(len(keys)) for _ in range(3)],  # type: ignore[arg-type]
                              [rng.randint(0, 5) for _ in range(3)], [0, 1, 2], [rng.random() for _ in range(3)])
        event = RunEvent(str(uuid.uuid4()), rng.choice(["ab" * 16, "cd" * 16]), "exp", offset + 1, T0, PRODUCER,
                         batch)
        block.add(LoggedEvent(event, 1, offset, "fp"))
    fast = block.key_ordered()
    slow = _key_ordered(_point_columns(block.parts), by_step=False)
    for field in fields(KeyOrdered):
        got, want = getattr(fast, field.name), getattr(slow, field.name)
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and np.array_equal(got, want), field.name
        else:
            assert got == want, field.name
