"""Connecting to ClickHouse, embedded (chdb://path) or a server (http://host:8123), the same way everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

_IN_MEMORY = ("chdb://memory", "chdb://:memory:")


def _normalized(dsn: str, *, create: bool) -> tuple[str, dict[str, Any]]:
    parsed = urlparse(dsn)
    if parsed.scheme == "chdb" and dsn not in _IN_MEMORY:
        path = Path(dsn.removeprefix("chdb://")).expanduser().resolve()
        if create:
            path.mkdir(parents=True, exist_ok=True)
        dsn = f"chdb://{path}"
    # Over HTTP, no session id: one client then serves the API's worker threads concurrently.
    extra: dict[str, Any] = {"autogenerate_session_id": False} if parsed.scheme in ("http", "https") else {}
    return dsn, extra


def open_client(dsn: str, database: str, limits: dict[str, Any] | None = None) -> Client:
    """A new client bound to an existing `database` (no DDL); `limits` are settings sent with every query
    (a query's own settings override them)."""
    dsn, extra = _normalized(dsn, create=False)
    return clickhouse_connect.get_client(dsn=dsn, database=database, settings=limits or {}, **extra)


def connect(dsn: str, database: str) -> Client:
    """A client bound to `database`, which is created if missing (database is a checked identifier)."""
    dsn, extra = _normalized(dsn, create=True)
    admin = clickhouse_connect.get_client(dsn=dsn, **extra)
    admin.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    admin.close()
    return clickhouse_connect.get_client(dsn=dsn, database=database, **extra)
