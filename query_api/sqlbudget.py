"""Bounds on analyst SQL across the process: a memory budget shared by concurrent queries, and a wall-clock deadline.

ClickHouse enforces `max_memory_usage` per query, so four concurrent queries at a 2 GiB limit could take the
process to 8 GiB; each query here first reserves its limit from one budget and waits (bounded) for room.
ClickHouse checks `max_execution_time` between blocks, so a single block that computes for long (one huge array
expression) overruns it; the client is answered at the deadline regardless, and the query's reservation is
held until it really ends, so what overran still counts against the budget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import TypeVar

from query_api.errors import ApiError

T = TypeVar("T")


class BudgetExhausted(ApiError):
    status_code = 429
    error_code = "RESOURCE_EXHAUSTED"


class DeadlinePassed(Exception):
    """The call did not finish in time; it goes on in its thread and releases what it holds when it ends."""


class MemoryBudget:
    """Bytes reserved by running queries never exceed `total`."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._used = 0
        self._changed = threading.Condition()

    @property
    def used(self) -> int:
        with self._changed:
            return self._used

    def acquire(self, amount: int, timeout: float) -> None:
        """Reserve `amount` (at most `total`), waiting up to `timeout` s; BudgetExhausted when no room was made."""
        amount = min(amount, self.total)
        with self._changed:
            if not self._changed.wait_for(lambda: self._used + amount <= self.total, timeout):
                raise BudgetExhausted(
                    f"analyst SQL is at its memory budget ({self.total} bytes across concurrent queries, "
                    f"{self._used} in use); try again when the running queries have finished")
            self._used += amount

    def release(self, amount: int) -> None:
        with self._changed:
            self._used -= min(amount, self.total)
            self._changed.notify_all()

    @contextmanager
    def reserved(self, amount: int, timeout: float) -> Iterator[None]:
        self.acquire(amount, timeout)
        try:
            yield
        finally:
            self.release(amount)


class SqlGuard:
    """The process-wide budget and the threads analyst queries run on (at most `workers` at once)."""

    def __init__(self, memory_bytes: int, *, workers: int = 8) -> None:
        self.budget = MemoryBudget(memory_bytes)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runstream-sql")

    def run(self, call: Callable[[], T], *, memory: int, wait_s: float, deadline_s: float) -> T:
        """call() under a reservation of `memory`; DeadlinePassed when it has not returned after `deadline_s`."""
        self.budget.acquire(memory, wait_s)

        def reserved() -> T:
            try:
                return call()
            finally:
                self.budget.release(memory)

        try:
            future: Future[T] = self._executor.submit(reserved)
        except BaseException:
            self.budget.release(memory)
            raise
        try:
            return future.result(timeout=deadline_s)
        except FutureTimeout:
            raise DeadlinePassed(f"no answer within {deadline_s:g} s") from None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
