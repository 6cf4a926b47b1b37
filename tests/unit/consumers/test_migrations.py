"""consumers.migrate: the shipped SQL migrations and how a file is split into statements (no ClickHouse)."""

from __future__ import annotations

import re

from consumers.migrate import _statements, migrations

# 0018 backfills from tables it derives from; 0022 rebuilds run_metric_summary from metrics and swaps it in
FIRST_WORD = re.compile(r"^(CREATE|DROP|ALTER|INSERT INTO (run_state|run_metric_summary_0022)|EXCHANGE TABLES)\b")


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
