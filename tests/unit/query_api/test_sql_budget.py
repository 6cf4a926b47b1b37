"""The analyst-SQL memory budget across concurrent queries, and the deadline the client is answered at."""

from __future__ import annotations

import threading
import time

import pytest

from query_api.sqlbudget import BudgetExhausted, DeadlinePassed, MemoryBudget, SqlGuard

GIB = 1024**3


def test_four_concurrent_2_gib_queries_never_reserve_more_than_the_budget() -> None:
    guard = SqlGuard(4 * GIB)
    running, peak, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def query() -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(5)
        with lock:
            running[0] -= 1
        return 1

    results: list[object] = []

    def call() -> None:
        try:
            results.append(guard.run(query, memory=2 * GIB, wait_s=5, deadline_s=10))
        except BudgetExhausted as exc:
            results.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    assert guard.budget.used == 4 * GIB and peak[0] == 2, "two run, two wait"
    release.set()
    for t in threads:
        t.join(10)
    assert results == [1, 1, 1, 1] and peak[0] == 2 and guard.budget.used == 0


def test_no_room_within_the_wait_is_a_429() -> None:
    budget = MemoryBudget(2 * GIB)
    budget.acquire(2 * GIB, 0)
    started = time.monotonic()
    with pytest.raises(BudgetExhausted) as caught:
        budget.acquire(1, 0.2)
    assert caught.value.status_code == 429 and 0.15 < time.monotonic() - started < 2
    budget.release(2 * GIB)
    with budget.reserved(2 * GIB, 0):
        assert budget.used == 2 * GIB
    assert budget.used == 0


def test_a_query_that_overruns_is_answered_at_the_deadline_and_keeps_its_reservation_until_it_ends() -> None:
    guard = SqlGuard(GIB)
    done = threading.Event()
    started = time.monotonic()
    with pytest.raises(DeadlinePassed):
        guard.run(lambda: done.wait(5), memory=GIB, wait_s=0, deadline_s=0.2)
    assert time.monotonic() - started < 1
    assert guard.budget.used == GIB, "what overran still counts"
    with pytest.raises(BudgetExhausted):
        guard.run(lambda: 1, memory=1, wait_s=0.1, deadline_s=1)
    done.set()
    assert guard.run(lambda: 2, memory=GIB, wait_s=2, deadline_s=1) == 2
    assert guard.budget.used == 0


def test_an_error_in_the_query_releases_its_reservation() -> None:
    guard = SqlGuard(GIB)

    def fails() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError):
        guard.run(fails, memory=GIB, wait_s=0, deadline_s=1)
    assert guard.budget.used == 0
