"""The analyst-SQL rules, applied to ClickHouse's EXPLAIN AST output."""

from __future__ import annotations

import pytest

from query_api.queries.sql import SqlLimits, SqlRefused, check_ast


def ast(*lines: str) -> list[str]:
    return list(lines)


SELECT_FROM = ("SelectWithUnionQuery (children 2)", " ExpressionList (children 1)", "  SelectQuery (children 2)",
               "   ExpressionList (children 1)", "    Asterisk", "   TablesInSelectQuery (children 1)",
               "    TablesInSelectQueryElement (children 1)", "     TableExpression (children 1)")


def test_a_select_of_our_tables_passes() -> None:
    check_ast(ast(*SELECT_FROM, "      TableIdentifier runs (alias r)", " Identifier Native"), "runstream")
    check_ast(ast(*SELECT_FROM, "      TableIdentifier runstream.metrics", " Identifier Native"), "runstream")
    check_ast(ast(*SELECT_FROM, "      Function numbers (children 1)", " Identifier Native"), "runstream")


@pytest.mark.parametrize(("lines", "named"), [
    (("InsertQuery   (children 2)", " Identifier rs"), "InsertQuery"),
    ((*SELECT_FROM, "      TableIdentifier system.tables"), "system.tables"),
    ((*SELECT_FROM, "      Function file (children 1)"), "file"),
    ((*SELECT_FROM, "      Function s3 (children 1)"), "s3"),
    (("SelectWithUnionQuery (children 1)", " ExpressionList (children 1)", "  SelectQuery (children 1)",
      "   ExpressionList (children 1)", "    Function dictGet (children 1)"), "dictGet"),
    (("SelectWithUnionQuery (children 1)", " ExpressionList (children 1)", "  SelectQuery (children 2)",
      "   ExpressionList (children 1)", "    Literal UInt64_1", "   Set"), "SETTINGS"),
    (("SelectWithUnionQuery (children 2)", " ExpressionList (children 1)", " Literal '/tmp/x'"), "OUTFILE"),
    (("SelectWithUnionQuery (children 2)", " ExpressionList (children 1)", " Identifier CSV"), "FORMAT"),
])
def test_everything_else_is_refused(lines: tuple[str, ...], named: str) -> None:
    with pytest.raises(SqlRefused, match=named):
        check_ast(list(lines), "runstream")


def test_limits_are_clickhouse_settings() -> None:
    settings = SqlLimits(5.0, 100, 2**30).settings(rows=10)
    assert settings["readonly"] == 2 and settings["max_execution_time"] == 5.0
    assert settings["max_result_rows"] == 11 and settings["result_overflow_mode"] == "break"
