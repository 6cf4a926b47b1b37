"""The ClickHouse clients analyst queries run on: kept apart from the API's own, reused while they stay clean.

Analyst SQL never runs on the API's shared clients. With embedded chdb a client is a connection handle with
session state, and a query that fails after sending its first block (a timeout in the second half of a UNION ALL,
`throwIf` on a later row) leaves that handle answering the *next* query with garbage; settings sent through the
client's SET path (`command(..., settings=...)`) would also stay on the handle. So a client that saw any error is
closed, never reused, and the route sends its limits only with `query()` (a SETTINGS clause of that statement; the
gate refuses SET, USE and SETTINGS in the analyst's text), so a client that answered cleanly holds no state of the
query's. Such a client is kept for the next query: opening one costs ~15 ms of CPU (clickhouse-connect reads the
server's version, time zone and settings), half of what a whole call cost when each query opened its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from consumers.clickhouse import open_client
from consumers.settings import ProjectorSettings
from query_api.settings import ApiSettings
from query_api.sqlbudget import SqlGuard

IDLE_CLIENTS = 4  # clean clients kept between analyst queries (more concurrent queries open more, then close them)


def query_limits(settings: ApiSettings) -> dict[str, Any]:
    """The bounds of every query the API runs for a request (analyst SQL has its own, tighter ones)."""
    return {"max_execution_time": settings.query_max_execution_time_s, "timeout_overflow_mode": "throw",
            "max_memory_usage": settings.query_max_memory_bytes}


class SqlClients:
    """Clients for analyst queries, each lent to one query at a time; one that saw an error is closed."""

    def __init__(self, factory: Callable[[], Client], *, idle: int = IDLE_CLIENTS) -> None:
        self._factory = factory
        self._max_idle = idle
        self._idle: list[Client] = []
        self._lock = threading.Lock()
        self._closed = False
        self.opened = 0  # clients made so far (tests, and to see reuse)

    @contextmanager
    def lend(self) -> Iterator[Client]:
        """A client of this query's own for the block; kept for the next query only if the block raised nothing."""
        with self._lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            client = self._factory()
            with self._lock:
                self.opened += 1
        try:
            yield client
        except BaseException:
            client.close()
            raise
        with self._lock:
            if not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(client)
                return
        client.close()

    def close(self) -> None:
        """Close the idle clients; one still lent is closed when its query ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for client in idle:
            client.close()


def sql_clients(api: ApiSettings, store: ProjectorSettings) -> SqlClients:
    """The analyst clients of an app: its own DSN for analyst SQL if one is set, else the store's."""
    dsn = api.sql_clickhouse_dsn
    url = dsn.get_secret_value() if dsn else store.clickhouse_url
    return SqlClients(lambda: open_client(url, store.clickhouse_database))


@dataclass(frozen=True)
class SqlBackend:
    """What the SQL route needs: the server's settings, the memory budget, and the clients to run queries on."""

    api: ApiSettings
    store: ProjectorSettings
    guard: SqlGuard
    clients: SqlClients

    @contextmanager
    def connect(self) -> Iterator[Client]:
        with self.clients.lend() as client:
            yield client
