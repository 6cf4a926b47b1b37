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
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from fastapi import Depends, Request

from query_api.deps import StateDep
from query_api.settings import ServerSettings
from query_api.sqlbudget import SqlGuard


def open_client(dsn: str, database: str, limits: dict[str, Any] | None = None) -> Client:
    """A new client bound to `database`, the same server as consumers.clickhouse.connect opens (no DDL here);
    `limits` are settings sent with every query (a query's own settings override them)."""
    parsed = urlparse(dsn)
    if parsed.scheme == "chdb" and dsn not in ("chdb://memory", "chdb://:memory:"):
        dsn = f"chdb://{Path(dsn.removeprefix('chdb://')).expanduser().resolve()}"
    extra: dict[str, Any] = {"autogenerate_session_id": False} if parsed.scheme in ("http", "https") else {}
    return clickhouse_connect.get_client(dsn=dsn, database=database, settings=limits or {}, **extra)


def query_limits(settings: ServerSettings) -> dict[str, Any]:
    """The bounds of every query the API runs for a request (analyst SQL has its own, tighter ones)."""
    return {"max_execution_time": settings.query_max_execution_time_s, "timeout_overflow_mode": "throw",
            "max_memory_usage": settings.query_max_memory_bytes}


@dataclass(frozen=True)
class SqlBackend:
    """What the SQL route needs: the server's settings, and a way to open a client of its own."""

    settings: ServerSettings
    guard: SqlGuard

    @contextmanager
    def connect(self) -> Iterator[Client]:
        dsn = self.settings.sql_clickhouse_dsn
        client = open_client(dsn.get_secret_value() if dsn else self.settings.clickhouse_url,
                             self.settings.clickhouse_database)
        try:
            yield client
        finally:
            client.close()


def get_sql_backend(state: StateDep, request: Request) -> SqlBackend:
    """Connects nothing: a request refused by validation never opens a client."""
    return SqlBackend(state.settings, request.app.state.sql_guard)


SqlBackendDep = Annotated[SqlBackend, Depends(get_sql_backend)]
