"""Versioned SQL migrations, applied at start-up, idempotently."""

from __future__ import annotations

import re
from importlib.resources import files

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from consumers.errors import MigrationError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrations() -> list[tuple[int, str, list[str]]]:
    """(version, file name, statements) of every migration shipped in consumers/migrations, in order."""
    found = []
    for entry in files("consumers.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, _statements(entry.read_text())))
    return sorted(found)


def migrate(client: Client) -> list[str]:
    """Apply the migrations this database has not seen; return the names applied."""
    client.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version"
    )
    done = {row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows}
    applied = []
    for version, name, statements in migrations():
        if version in done:
            continue
        try:
            for statement in statements:
                client.command(statement)
        except ClickHouseError as exc:
            raise MigrationError(f"migration {name} failed: {exc}") from exc
        client.insert("schema_migrations", [[version, name]], column_names=["version", "name"])
        applied.append(name)
    return applied
