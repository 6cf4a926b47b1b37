"""The ClickHouse clients the API's requests share, and side-by-side reads over them.

A clickhouse-connect client over embedded chdb runs one query at a time (a second thread's `SELECT 1` waited
3.7 s behind a 4 s scan on the same client), so one slow request on a single shared client stalled every other
reader. The pool hands each query its own client; when all are busy, a query waits for the first one free.
`Readers` runs the independent queries of one request (a run's shape takes four: attributes, params, tags,
metric summaries) concurrently on the pool: ClickHouse works outside the GIL, so they overlap.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.query import QueryResult

T = TypeVar("T")


class ClientPool:
    """`query` and `command` of clickhouse-connect's Client, each run on a client borrowed from the pool."""

    def __init__(self, factory: Callable[[], Client], size: int) -> None:
        self._all = [factory() for _ in range(size)]
        self._free: queue.Queue[Client] = queue.Queue()
        for client in self._all:
            self._free.put(client)

    def _borrowed(self, method: str, *args: Any, **kwargs: Any) -> Any:
        client = self._free.get()
        try:
            return getattr(client, method)(*args, **kwargs)
        finally:
            self._free.put(client)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        client = self._free.get()
        try:
            result = client.query(*args, **kwargs)
            if isinstance(result, QueryResult):
                _ = result.result_set  # read every block while the client is ours: results stream lazily
            return result
        finally:
            self._free.put(client)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        return self._borrowed("command", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        """Anything else (settings, database, ...) as the first client has it."""
        return getattr(self._all[0], name)

    def close(self) -> None:
        for client in self._all:
            client.close()

    def as_client(self) -> Client:
        """This pool where a Client is expected (callers use query and command)."""
        return cast(Client, self)


class Readers:
    """Runs several calls side by side, each on the pool (so each query borrows a client of its own)."""

    def __init__(self, pool: ClientPool, workers: int = 4) -> None:
        self._pool = pool
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runstream-read")

    def run(self, *calls: Callable[[Client], T]) -> list[T]:
        """Each call concurrently; results in order (the first error is raised)."""
        futures = [self._executor.submit(call, self._pool.as_client()) for call in calls]
        return [future.result() for future in futures]

    def close(self) -> None:
        self._executor.shutdown(wait=True)
