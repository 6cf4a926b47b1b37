"""Versioned SQL migrations, applied at start-up, idempotently."""

from __future__ import annotations

import re
from importlib.resources import files

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from consumers.errors import MigrationError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_REQUIRES = re.compile(r"^--\s*requires-merge-tree-setting:\s*([A-Za-z0-9_]+)\s*$", re.MULTILINE)


def required_settings(sql: str) -> list[str]:
    """The MergeTree settings a migration names on `-- requires-merge-tree-setting: name` lines: where the server
    does not know one of them, the migration has nothing to change there and is skipped (not recorded)."""
    return _REQUIRES.findall(sql)


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrations() -> list[tuple[int, str, list[str]]]:
    """(version, file name, statements) of every migration shipped in consumers/migrations, in order."""
    return [(version, name, statements) for version, name, statements, _ in _migrations()]


def _migrations() -> list[tuple[int, str, list[str], list[str]]]:
    found = []
    for entry in files("consumers.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            sql = entry.read_text()
            found.append((int(match.group(1)), entry.name, _statements(sql), required_settings(sql)))
    return sorted(found)


def _unknown_settings(client: Client, names: list[str]) -> set[str]:
    known = client.query("SELECT name FROM system.merge_tree_settings WHERE name IN {names:Array(String)}",
                         parameters={"names": names}).result_rows
    return set(names) - {str(row[0]) for row in known}


def migrate(client: Client) -> list[str]:
    """Apply the migrations this database has not seen; return the names applied."""
    client.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version"
    )
    done = {row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows}
    applied = []
    for version, name, statements, requires in _migrations():
        if version in done:
            continue
        if requires and _unknown_settings(client, requires):
            continue  # an older server: nothing to change there yet
        try:
            for statement in statements:
                client.command(statement)
        except ClickHouseError as exc:
            raise MigrationError(f"migration {name} failed: {exc}") from exc
        client.insert("schema_migrations", [[version, name]], column_names=["version", "name"])
        applied.append(name)
    return applied
