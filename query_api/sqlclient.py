"""A ClickHouse client of its own for each analyst query, closed afterwards.

Analyst SQL never runs on the API's shared client. With embedded chdb a client is a connection handle with
session state, and a query that fails after sending its first block (a timeout in the second half of a UNION ALL,
`throwIf` on a later row) leaves that handle answering the *next* query with garbage; settings sent through the
client's SET path would also stay on the handle. A throwaway client keeps both away from every other route.
Opening one costs a few milliseconds (chdb shares the process's engine; over HTTP it is a new connection pool).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from consumers.clickhouse import open_client
from consumers.settings import ProjectorSettings
from query_api.settings import ApiSettings
from query_api.sqlbudget import SqlGuard


def query_limits(settings: ApiSettings) -> dict[str, Any]:
    """The bounds of every query the API runs for a request (analyst SQL has its own, tighter ones)."""
    return {"max_execution_time": settings.query_max_execution_time_s, "timeout_overflow_mode": "throw",
            "max_memory_usage": settings.query_max_memory_bytes}


@dataclass(frozen=True)
class SqlBackend:
    """What the SQL route needs: the server's settings, the memory budget, and a way to open a client of its own."""

    api: ApiSettings
    store: ProjectorSettings
    guard: SqlGuard

    @contextmanager
    def connect(self) -> Iterator[Client]:
        dsn = self.api.sql_clickhouse_dsn
        client = open_client(dsn.get_secret_value() if dsn else self.store.clickhouse_url,
                             self.store.clickhouse_database)
        try:
            yield client
        finally:
            client.close()
