"""A replay's chunks prepared in worker processes (consumers.prepare_pool) are the chunks prepared in-process, and
a worker that dies is an error, never a silently shorter replay."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from consumers.chunks import PreparedChunk, RawMessage, prepare_chunk
from consumers.prepare_pool import PreparePool, PrepareWorkerError, RawGroup
from consumers.derived import DERIVED
from consumers.projections import PROJECTIONS, Projection
from consumers.projections.summary import summary_block
from schemas import MetricsLogged, ParamsLogged, Producer, RunEvent, TagsSet, encode

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RUNS = ["ab" * 16, "cd" * 16, "ef" * 16]


def event(payload: Any, run_id: str, seq: int) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, "exp-a", seq, NOW, Producer("h", 1, "u", "v"), payload)


def raws(partition: int, count: int, rng: np.random.Generator) -> list[RawMessage]:
    out: list[RawMessage] = []
    for offset in range(count):
        run = RUNS[(offset + partition) % len(RUNS)]
        kind = offset % 4
        if kind == 3:
            out.append((b"\x00not avro", run.encode(), offset, 1_700_000_000_000 + offset))  # a dead letter
            continue
        n = int(rng.integers(1, 300))
        payload: Any = (MetricsLogged(["loss", "acc", "lr"], rng.integers(0, 3, n), np.arange(n) + offset * 1000,
                                      np.full(n, 1_700_000_000_000 + offset), rng.normal(size=n))
                        if kind < 2 else TagsSet({"k": str(offset)}) if kind == 2 else ParamsLogged({"p": "1"}))
        out.append((encode(event(payload, run, offset + 1)), run.encode(), offset, 1_700_000_000_000 + offset))
    return out


def same(pooled: PreparedChunk, local: PreparedChunk) -> None:
    assert (pooled.partition, pooled.first, pooled.last) == (local.partition, local.first, local.last)
    assert pooled.events == local.events
    assert pooled.dead == local.dead
    assert [type(b) for b in pooled.blocks] == [type(b) for b in local.blocks]
    for a, b in zip(pooled.blocks, local.blocks, strict=True):
        assert (a.table, a.columns, a.data) == (b.table, b.columns, b.data), a.table
    assert dict(pooled.duplicate_rows) == dict(local.duplicate_rows)


@pytest.fixture(scope="module")
def pool() -> Iterator[PreparePool]:
    pool = PreparePool(PROJECTIONS, 2, DERIVED)
    pool.ready()
    yield pool
    pool.close()


def test_chunks_prepared_by_workers_equal_chunks_prepared_in_process(pool: PreparePool) -> None:
    rng = np.random.default_rng(7)
    groups: list[RawGroup] = [[(0, raws(0, 40, rng)), (3, raws(3, 25, rng))], [(1, raws(1, 60, rng))]]
    futures = [pool.submit(group) for group in groups]
    for future, group in zip(futures, groups, strict=True):
        pooled = PreparePool.result(future, group)
        assert len(pooled) == len(group)
        for chunk, (partition, messages) in zip(pooled, group, strict=True):
            local = prepare_chunk(partition, messages, PROJECTIONS)
            assert local.dead and local.events and any(len(b) for b in local.blocks if b.table == "metrics")
            same(chunk, local)
            metrics = next(b for b in chunk.blocks if b.table == "metrics")
            assert metrics.to_arrow().equals(next(b for b in local.blocks if b.table == "metrics").to_arrow())
            made = chunk.derived["run_metric_summary"].rows  # the summary rows, made by the worker
            expected = summary_block(next(b for b in local.blocks if b.table == "metrics")).rows
            assert made.num_rows == expected.num_rows > 0
            assert made.sort_by([("run_id", "ascending"), ("key", "ascending")]).equals(
                expected.sort_by([("run_id", "ascending"), ("key", "ascending")]))


def test_a_duplicates_events_row_is_made_again_from_its_message(pool: PreparePool) -> None:
    group: RawGroup = [(2, raws(2, 12, np.random.default_rng(1)))]
    chunk = PreparePool.result(pool.submit(group), group)[0]
    local = prepare_chunk(2, group[0][1], PROJECTIONS)
    assert sorted(chunk.duplicate_rows) == sorted(local.duplicate_rows) == [e.offset for e in local.events]
    for offset in local.duplicate_rows:
        assert chunk.duplicate_rows[offset] == local.duplicate_rows[offset]
    with pytest.raises(KeyError):
        chunk.duplicate_rows[3]  # a dead letter has no such row


def test_a_worker_that_dies_is_an_error_naming_what_it_was_preparing() -> None:
    pool = PreparePool(PROJECTIONS, 1)
    try:
        pool.ready()
        group: RawGroup = [(5, raws(5, 8, np.random.default_rng(2)))]
        assert PreparePool.result(pool.submit(group), group)
        for pid in pool.pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        with pytest.raises(PrepareWorkerError, match="worker died"):
            PreparePool.result(pool.submit(group), group)
    finally:
        pool.close()


def test_workers_that_cannot_start_are_reported() -> None:
    unsendable = Projection("t", ("a",), lambda logged, block: None)  # a lambda cannot be pickled to a worker
    with pytest.raises(PrepareWorkerError, match="could not start"):
        PreparePool([unsendable], 1)
