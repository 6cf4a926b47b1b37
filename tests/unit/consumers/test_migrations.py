"""consumers.migrate: the shipped SQL migrations and how a file is split into statements (no ClickHouse)."""

from __future__ import annotations

import re
from importlib.resources import files
from types import SimpleNamespace
from typing import Any

from consumers.migrate import _statements, migrate, migrations, required_settings
from consumers.writer import Tables

# 0018 backfills from tables it derives from; 0022 rebuilds run_metric_summary from metrics and swaps it in;
# 0027 copies metrics into metric_chunks
FIRST_WORD = re.compile(
    r"^(CREATE|DROP|ALTER|INSERT INTO (run_state|run_metric_summary_0022|metric_chunks)|EXCHANGE TABLES)\b")


def test_migrations_are_numbered_in_order_starting_at_1() -> None:
    found = migrations()
    versions = [version for version, _, _ in found]
    assert versions[0] == 1
    # increasing and unique; gaps allowed (numbers are handed out to branches developed side by side)
    assert versions == sorted(set(versions))
    assert found[0][1] == "0001_initial.sql"
    assert all(name.startswith(f"{version:04d}_") and name.endswith(".sql") for version, name, _ in found)


def test_the_initial_migration_creates_the_projection_tables() -> None:
    (_, _, statements), *_ = migrations()
    assert statements
    created = [m.group(1) for s in statements if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", s))]
    assert {"events", "experiments", "runs", "params", "tags", "artifacts", "inputs", "metrics"} <= set(created)
    assert any(s.startswith("CREATE VIEW IF NOT EXISTS runs_current") for s in statements)


def test_every_statement_is_one_sql_statement_without_comments() -> None:
    for _, name, statements in migrations():
        assert statements, name
        for statement in statements:
            assert statement == statement.strip()
            assert FIRST_WORD.match(statement), f"{name}: {statement[:60]!r}"
            assert ";" not in statement
            assert not any(line.lstrip().startswith("--") for line in statement.splitlines())


def test_every_create_table_sets_the_deduplication_window() -> None:
    tables = [(name, s) for _, name, statements in migrations() for s in statements if s.startswith("CREATE TABLE")]
    assert len(tables) >= 10
    for name, statement in tables:
        assert re.search(r"SETTINGS\s+non_replicated_deduplication_window\s*=\s*[1-9]\d*", statement), (
            f"{name}: {statement[:60]!r}")


def test_statements_drop_comment_lines_and_split_on_semicolons() -> None:
    sql = """-- a comment; with a semicolon
CREATE TABLE a (x UInt8) ENGINE = Memory;

    -- an indented comment
DROP TABLE IF EXISTS b;
;
ALTER TABLE a ADD COLUMN y UInt8
"""
    assert _statements(sql) == [
        "CREATE TABLE a (x UInt8) ENGINE = Memory",
        "DROP TABLE IF EXISTS b",
        "ALTER TABLE a ADD COLUMN y UInt8",
    ]


def test_statements_of_only_comments_and_blanks_are_none() -> None:
    assert _statements("-- nothing\n\n  \n-- here;\n") == []
    assert _statements("") == []


def test_a_multi_line_statement_keeps_its_lines() -> None:
    assert _statements("SELECT 1,\n  2\nFROM t;") == ["SELECT 1,\n  2\nFROM t"]


def test_a_migration_names_the_merge_tree_settings_it_needs() -> None:
    sql = "-- requires-merge-tree-setting: auto_statistics_types\n-- why\nALTER TABLE a MODIFY SETTING x = 1"
    assert required_settings(sql) == ["auto_statistics_types"]
    assert required_settings("-- a comment\nALTER TABLE a MODIFY SETTING x = 1") == []


def test_0026_and_0028_turn_auto_statistics_off_on_every_table_the_projector_writes() -> None:
    altered: set[str] = set()
    for number in (26, 28):
        (_, name, statements), = [m for m in migrations() if m[0] == number]
        assert required_settings((files("consumers.migrations") / name).read_text()) == ["auto_statistics_types"]
        tables = {m.group(1) for s in statements
                  if (m := re.fullmatch(r"ALTER TABLE (\w+) MODIFY SETTING auto_statistics_types = ''", s))}
        assert len(tables) == len(statements)
        altered |= tables
    # never the view `metrics` (0027): a server that gains the setting later applies 0026 after 0027
    assert altered == set(Tables().names)


def test_0029_packs_the_small_parts_of_every_table_the_projector_writes() -> None:
    (_, name, statements), = [m for m in migrations() if m[0] == 29]
    assert required_settings((files("consumers.migrations") / name).read_text()) == ["min_bytes_for_full_part_storage"]
    tables = {m.group(1) for s in statements
              if (m := re.fullmatch(r"ALTER TABLE (\w+) MODIFY SETTING min_bytes_for_full_part_storage = 16777216", s))}
    assert len(tables) == len(statements)
    assert tables == set(Tables().names)  # the view `metrics` is not a table: metric_chunks is


class FakeClient:
    """What migrate() asks of a client: the settings a server knows, the migrations it has seen."""

    def __init__(self, known_settings: set[str]) -> None:
        self.known_settings = known_settings
        self.commands: list[str] = []
        self.recorded: list[str] = []

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> SimpleNamespace:
        if "merge_tree_settings" in sql:
            assert parameters is not None
            return SimpleNamespace(result_rows=[(n,) for n in parameters["names"] if n in self.known_settings])
        return SimpleNamespace(result_rows=[(v,) for v, _, _ in migrations() if v < 26])

    def insert(self, table: str, rows: list[list[Any]], column_names: list[str]) -> None:
        self.recorded += [str(row[1]) for row in rows]


def test_a_migration_needing_a_setting_the_server_lacks_is_skipped_and_not_recorded() -> None:
    old = FakeClient(set())  # e.g. ClickHouse 25.8, which builds no automatic statistics
    assert "0026_no_auto_statistics.sql" not in migrate(old)  # type: ignore[arg-type]
    assert "0026_no_auto_statistics.sql" not in old.recorded
    assert not any("auto_statistics_types" in c for c in old.commands)

    new = FakeClient({"auto_statistics_types"})
    assert "0026_no_auto_statistics.sql" in migrate(new)  # type: ignore[arg-type]
    assert "0026_no_auto_statistics.sql" in new.recorded
    assert sum("auto_statistics_types" in c for c in new.commands) == len(Tables().names)
