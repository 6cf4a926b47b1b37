"""A few ClickHouse clients of the API's own, for independent queries of one request run side by side.

The chdb backend serializes the queries of one client, and a run's shape takes four (attributes, params, tags,
metric summaries): on separate clients they overlap (ClickHouse works outside the GIL).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from clickhouse_connect.driver.client import Client

from consumers.clickhouse import open_client

T = TypeVar("T")


class Readers:
    def __init__(self, dsn: str, database: str, size: int = 4, limits: dict[str, Any] | None = None) -> None:
        self._clients: queue.Queue[Client] = queue.Queue()
        for _ in range(size):
            self._clients.put(open_client(dsn, database, limits))
        self._size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="runstream-read")

    def run(self, *calls: Callable[[Client], T]) -> list[T]:
        """Each call with a client of its own, concurrently; results in order (the first error is raised)."""
        futures = [self._executor.submit(self._borrow, call) for call in calls]
        return [future.result() for future in futures]

    def _borrow(self, call: Callable[[Client], T]) -> T:
        client = self._clients.get()
        try:
            return call(client)
        finally:
            self._clients.put(client)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        for _ in range(self._size):
            self._clients.get().close()
