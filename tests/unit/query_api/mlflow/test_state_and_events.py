"""The write-side pieces of the MLflow front door that need no services."""

from __future__ import annotations

import math
import threading

import pytest

from query_api.consistency import ProjectorBehind, ReadBarrier, reached
from query_api.mlflow.state import StateCache
from query_api.mlflow.writer import content_event_id, metrics_payload

POINTS = [("loss", 0.5, 1000, 0), ("acc", 0.9, 1000, 0), ("loss", 0.4, 1001, 1)]


def test_a_metric_batch_is_columnar_with_each_key_once() -> None:
    batch = metrics_payload(POINTS)
    assert batch.names == ["loss", "acc"] and batch.name_index.tolist() == [0, 1, 0]
    assert batch.steps.tolist() == [0, 0, 1] and batch.timestamps.tolist() == [1000, 1000, 1001]
    assert batch.values.tolist() == [0.5, 0.9, 0.4]
    assert list(batch.points()) == [("loss", 0, 1000, 0.5), ("acc", 0, 1000, 0.9), ("loss", 1, 1001, 0.4)]


def test_a_metric_batch_id_comes_from_its_content() -> None:
    assert content_event_id("r" * 32, POINTS) == content_event_id("r" * 32, list(POINTS))
    assert content_event_id("r" * 32, POINTS) != content_event_id("s" * 32, POINTS)
    assert content_event_id("r" * 32, POINTS) != content_event_id("r" * 32, POINTS[:2])
    assert content_event_id("r" * 32, [("m", math.nan, 1, 0)]) == content_event_id("r" * 32, [("m", math.nan, 1, 0)])
    assert content_event_id("r" * 32, [("m", 0.1, 1, 0)]) != content_event_id("r" * 32, [("m", 0.1, 2, 0)])


def test_the_state_cache_loads_once_and_keeps_what_writes_changed() -> None:
    loads: list[str] = []

    def load(key: str) -> dict[str, int] | None:
        loads.append(key)
        return None if key == "missing" else {"seq": 1}

    cache: StateCache[dict[str, int]] = StateCache(load, max_entries=2)
    first = cache.get("a")
    assert first is not None
    first["seq"] = 5
    assert cache.get("a") == {"seq": 5} and loads == ["a"]
    assert cache.get("missing") is None and cache.get("missing") is None and loads.count("missing") == 2
    cache.get("b")
    cache.get("c")  # evicts a, the least recently used
    assert cache.get("a") == {"seq": 1} and loads.count("a") == 2


def test_reached_compares_every_partition() -> None:
    assert reached({0: 5, 1: 3}, {0: 5})
    assert not reached({0: 5}, {0: 5, 1: 0})
    assert reached({}, {})


def test_the_barrier_returns_once_positions_pass_the_acknowledged_offsets() -> None:
    positions = {0: 1}
    polls = []

    def read_positions() -> dict[int, int]:
        polls.append(1)
        if len(polls) == 3:
            positions[0] = 7
        return dict(positions)

    barrier = ReadBarrier(lambda: {0: 7}, read_positions, timeout_s=5, interval_s=0.001)
    barrier.wait()
    assert len(polls) == 3
    barrier.wait()
    assert len(polls) == 3, "positions already seen past the target need no query"


def test_the_barrier_says_it_is_passed_only_from_positions_already_seen() -> None:
    queries: list[int] = []
    acked = {0: 7}

    def read_positions() -> dict[int, int]:
        queries.append(1)
        return {0: 7}

    barrier = ReadBarrier(lambda: dict(acked), read_positions, timeout_s=5, interval_s=0.001)
    assert not barrier.passed() and queries == [], "passed() never queries: the API asks it on the event loop"
    barrier.wait()
    assert barrier.passed() and len(queries) == 1
    acked[0] = 8  # a newer write of this instance
    assert not barrier.passed() and len(queries) == 1


def test_the_barrier_gives_up_after_its_bound() -> None:
    barrier = ReadBarrier(lambda: {0: 7, 2: 1}, lambda: {0: 9}, timeout_s=0.05, interval_s=0.01)
    with pytest.raises(ProjectorBehind, match=r"partitions \[2\]") as info:
        barrier.wait()
    assert info.value.status_code == 503


def test_the_barrier_without_writes_never_queries() -> None:
    def fail() -> dict[int, int]:
        raise AssertionError("no query expected")

    ReadBarrier(dict, fail).wait()


def test_concurrent_barrier_waits() -> None:
    barrier = ReadBarrier(lambda: {0: 3}, lambda: {0: 3}, timeout_s=1, interval_s=0.001)
    threads = [threading.Thread(target=barrier.wait) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads)


def test_metric_points_parse_alike_on_the_fast_and_the_checked_path() -> None:
    from query_api.mlflow.protocol import MlflowError
    from query_api.mlflow.validation import check_point

    known: set[str] = set()
    sent = [{"key": "loss", "value": 1, "timestamp": 5, "step": 2}, {"key": "loss", "value": 1, "timestamp": 5,
                                                                     "step": 2},
            {"key": "loss", "value": "NaN", "timestamp": "7"}, {"key": "acc", "value": 0.5, "timestamp": 5}]
    got = [check_point(m, i, known) for i, m in enumerate(sent)]
    assert got[0] == got[1] == ("loss", 1.0, 5, 2) and got[3] == ("acc", 0.5, 5, 0)
    assert got[2][0] == "loss" and math.isnan(got[2][1]) and got[2][2:] == (7, 0)
    for bad in ({"key": "loss", "value": True, "timestamp": 5}, {"key": "loss", "value": 1, "timestamp": -1},
                {"key": "loss", "value": 1, "timestamp": 5, "step": 2**63}, "not a metric"):
        with pytest.raises(MlflowError, match=r"metrics\[3\]"):
            check_point(bad, 3, known)


def test_the_barrier_prefers_the_local_projector_and_still_asks_clickhouse() -> None:
    local = {0: 1}
    queries = []

    def clickhouse() -> dict[int, int]:
        queries.append(1)
        return {0: 1, 1: 9}  # partition 1 is projected by another process

    def local_positions() -> dict[int, int]:
        local[0] += 1
        return dict(local)

    barrier = ReadBarrier(lambda: {0: 30, 1: 9}, clickhouse, local=local_positions, timeout_s=5, interval_s=0.01)
    barrier.wait()
    assert local[0] >= 30 and 1 <= len(queries) < 10, "memory is polled finely, ClickHouse seldom"
    stale = ReadBarrier(lambda: {0: 5}, lambda: {0: 5}, local=lambda: {0: 1}, timeout_s=2, interval_s=0.01)
    stale.wait()  # a local view that lags (a revoked partition) does not hide ClickHouse's answer
