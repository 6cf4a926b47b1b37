"""The analyst-SQL rules on ClickHouse's EXPLAIN AST text (as chdb 26.9 prints it), the limits, JSON values."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import math
import uuid

import pytest
from fastapi.testclient import TestClient

from query_api.deps import get_sql_backend
from query_api.queries.sql import (
    LazyNames,
    LimitsNotApplied,
    SqlLimits,
    SqlRefused,
    check_ast,
    clickhouse_message,
    jsonable,
    parse_ast,
    prepare_sql,
    verify_settings,
)
from runstream.settings import ServerSettings
from runstream.stack import build_app

DB = "runstream"
TABLES = frozenset({"metrics", "runs", "runs_current", "runs_as_of"})


def tree(*lines: str) -> str:
    return "\n".join(lines)


def select_from(table_line: str, *more: str) -> str:
    """SELECT * FROM <table_line> as EXPLAIN AST prints it."""
    return tree("SelectWithUnionQuery (children 1)", " ExpressionList (children 1)", "  SelectQuery (children 2)",
                "   ExpressionList (children 1)", "    Asterisk", "   TablesInSelectQuery (children 1)",
                "    TablesInSelectQueryElement (children 1)", "     TableExpression (children 1)",
                f"      {table_line}", *more)


def select_expr(*expr_lines: str) -> str:
    """SELECT <expression> (no FROM) with the expression's lines at depth 4."""
    return tree("SelectWithUnionQuery (children 1)", " ExpressionList (children 1)", "  SelectQuery (children 1)",
                "   ExpressionList (children 1)", *expr_lines)


def check(text: str) -> None:
    check_ast(parse_ast(text), DB, TABLES)


@pytest.mark.parametrize("text", [
    select_from("TableIdentifier runs (alias r)"),
    select_from("TableIdentifier runstream.metrics"),
    select_from("TableIdentifier x"),  # a CTE, or a table of the client's database
    select_from("Function numbers (alias n) (children 1)", "       ExpressionList (children 1)",
                "        Literal UInt64_3"),
    select_from("Function generateSeries (children 1)"),
    select_from("Function runs_as_of (children 1)", "       ExpressionList (children 1)",
                "        Function equals (children 1)", "         ExpressionList (children 2)",
                "          Identifier as_of", "          Literal '2026-11-22 12:00:00'"),
    select_from("Function runstream.runs_as_of (alias r) (children 1)"),
    select_expr("    Function in (children 1)", "     ExpressionList (children 2)", "      Literal UInt64_1",
                "      Identifier arr"),
    select_expr("    Function argMaxMerge (children 1)", "     ExpressionList (children 1)",
                "      Identifier last_value"),
    select_expr("    Literal 'a\\\\nb  TableIdentifier system.one' (alias we ird)"),
    select_expr("    Function getSetting (children 1)"),
    select_expr("    Function plus (alias `metrics.val_loss (x)`) (children 1)"),  # any alias on an expression
])
def test_a_select_of_the_run_tables_passes(text: str) -> None:
    check(text)


@pytest.mark.parametrize(("text", "named"), [
    (tree("InsertQuery (children 2)", " Identifier runs"), "only SELECT queries may run here, not Insert"),
    (tree("DropQuery  runs"), "not Drop"),
    (tree("Explain EXPLAIN AST (children 1)"), "not Explain"),
    (select_from("TableIdentifier system.tables"), "system.tables"),
    (select_from("TableIdentifier INFORMATION_SCHEMA.TABLES"), "INFORMATION_SCHEMA.TABLES"),
    (select_from("TableIdentifier runstream.system.one"), "not a plain name"),  # `runstream.system`.one
    (select_from("TableIdentifier s y.a (alias b) (alias c d)"), "not a plain name"),  # `s y`.`a (alias b)`
    (select_from("TableIdentifier"), "not a plain name"),
    (select_from("TableIdentifier system (alias q.w)"), "not a plain name"),  # `system (alias q`.`w)`
    (select_from("TableIdentifier system (alias q).one)"), "not a plain name"),
    (select_from("Function numbers (alias a.b) (children 1)"), "not a plain name"),
    (select_from("Function file (children 1)"), "file"),
    (select_from("Function merge (children 1)"), "table function merge()"),
    (select_from("Function view (children 1)"), "table function view()"),
    (select_from("Function viewExplain (children 1)"), "viewExplain"),
    (select_from("Function python (children 1)"), "python"),
    (select_from("Function system.runs_as_of (children 1)"), "system.runs_as_of"),
    (select_from("Function otherdb.numbers (children 1)"), "otherdb.numbers"),
    (select_from("Function no_such_view (children 1)"), "no_such_view"),
    (select_expr("    Function file (alias f) (children 1)"), "function file()"),
    (select_expr("    Function dictGetString (children 1)"), "dictGetString"),
    (select_expr("    Function joinGetOrNull (children 1)"), "joinGetOrNull"),
    (select_expr("    Function hasColumnInTable (children 1)"), "hasColumnInTable"),
    (select_expr("    Function __scalarSubqueryResult (children 1)"), "__scalarSubqueryResult"),
    (select_expr("    Function `odd name` (children 1)"), "unexpected function"),
    (select_expr("    Function in (children 1)", "     ExpressionList (children 2)", "      Literal UInt64_0",
                 "      Identifier system.one"), "system.one"),
    (select_expr("    Function globalNotNullIn (children 1)", "     ExpressionList (children 2)",
                 "      Literal UInt64_0", "      Identifier other.t"), "other.t"),
    (select_expr("    Literal UInt64_1", "   Set"), "SETTINGS"),
    (tree("SelectWithUnionQuery (children 2)", " ExpressionList (children 1)", "  SelectQuery (children 1)",
          "   ExpressionList (children 1)", "    Literal UInt64_1", " Literal '/tmp/x'"), "OUTFILE"),
    (tree("SelectWithUnionQuery (children 2)", " ExpressionList (children 1)", " Identifier Native"), "FORMAT"),
])
def test_everything_else_is_refused(text: str, named: str) -> None:
    with pytest.raises(SqlRefused, match=named.replace("(", r"\(").replace(")", r"\)")):
        check(text)


# Column transformers as chdb 26.9 prints them: APPLY's lambda is not printed at all, so any transformer (and any
# node kind the checker does not know) is refused rather than walked past.
@pytest.mark.parametrize(("text", "named"), [
    (select_from("Subquery (children 1)", "       SelectWithUnionQuery (children 1)").replace(
        "    Asterisk", "    Asterisk (children 1)\n     ColumnsTransformerList (children 1)\n"
        "      ColumnsApplyTransformer"), "column transformers"),  # SELECT * APPLY(x -> file('/proc/self/environ'))
    (select_expr("    Asterisk (children 1)", "     ColumnsTransformerList (children 1)",
                 "      ColumnsExceptTransformer (children 1)", "       Identifier x"), "column transformers"),
    (select_expr("    ColumnsRegexpMatcher (children 1)", "     ColumnsTransformerList (children 1)",
                 "      ColumnsApplyTransformer"), "column transformers"),
    (select_expr("    QualifiedAsterisk (children 2)", "     Identifier t", "     ColumnsTransformerList (children 1)",
                 "      ColumnsReplaceTransformer (children 1)"), "column transformers"),
    (select_expr("    SomethingNew (children 1)", "     Literal UInt64_1"), "SomethingNew nodes"),
    (select_expr("    Function plus (children 1)", "     ExpressionList (children 1)", "      QueryParameter x"),
     "QueryParameter nodes"),
])
def test_nodes_the_checker_cannot_see_into_are_refused(text: str, named: str) -> None:
    with pytest.raises(SqlRefused, match=named):
        check(text)


def test_every_kind_of_the_worked_examples_is_accepted() -> None:
    """The allow-list covers joins, windows, CTEs, ARRAY JOIN, WITH FILL, INTERSECT and column matchers."""
    check(select_expr("    ColumnsListMatcher (children 1)", "     ExpressionList (children 1)", "      Identifier a",
                      "    QualifiedAsterisk (children 1)", "     Identifier t",
                      "    Function count (children 2)", "     ExpressionList", "     WindowDefinition (children 1)",
                      "      ExpressionList (children 1)", "       OrderByElement (children 1)",
                      "        Identifier s", "    WithElement (children 1)", "     Subquery (children 1)",
                      "    SelectIntersectExceptQuery (children 2)", "    ArrayJoin (children 1)",
                      "    TableJoin (children 1)", "    SampleRatio 1 / 10", "    InterpolateElement (column b)",
                      "    WindowListElement (children 1)", "    QualifiedColumnsRegexpMatcher (children 1)",
                      "    QualifiedColumnsListMatcher (children 2)", "    ColumnsRegexpMatcher"))


@pytest.mark.parametrize("text", ["", "   ", " SelectWithUnionQuery", "SelectWithUnionQuery\nSelectWithUnionQuery",
                                  "SelectWithUnionQuery\n Asterisk\n!!"])
def test_a_tree_that_does_not_parse_is_refused(text: str) -> None:
    with pytest.raises(SqlRefused):
        parse_ast(text)


def test_the_tree_keeps_parents_and_children() -> None:
    root = parse_ast(select_from("TableIdentifier runs (alias r)"))
    assert root.kind == "SelectWithUnionQuery" and len(root.children) == 1
    table = root.children[0].children[0].children[1].children[0].children[0].children[0]
    assert (table.kind, table.table_name()) == ("TableIdentifier", "runs")


def test_the_limits_are_clickhouse_settings() -> None:
    settings = SqlLimits(5.0, 100, 2**30).settings(rows=10)
    assert settings == {"readonly": 1, "max_execution_time": 5.0, "timeout_overflow_mode": "throw",
                        "max_result_rows": 11, "result_overflow_mode": "break", "max_memory_usage": 2**30}
    text = prepare_sql(settings)
    assert "formatQuerySingleLine({query:String})" in text
    assert text.count("getSetting(") == len(settings) and "getSetting('readonly')" in text


def test_limits_must_be_reported_back_as_sent() -> None:
    settings = SqlLimits(1.5, 100, 2**30).settings(rows=10)
    verify_settings(settings, ["1", "1.5", "throw", "11", "break", str(2**30)])
    with pytest.raises(LimitsNotApplied, match="readonly"):
        verify_settings(settings, ["0", "1.5", "throw", "11", "break", str(2**30)])
    with pytest.raises(LimitsNotApplied, match="max_execution_time"):
        verify_settings(settings, ["1", "0", "throw", "11", "break", str(2**30)])
    with pytest.raises(LimitsNotApplied, match="result_overflow_mode"):
        verify_settings(settings, ["1", "1.5", "throw", "11", "throw", str(2**30)])
    with pytest.raises(LimitsNotApplied):
        verify_settings(settings, ["1"])


def test_clickhouse_messages_keep_code_and_name_and_lose_what_the_server_added() -> None:
    step1 = ("Code: 62. DB::Exception: Syntax error (Multi-statements are not allowed): failed at position 9 (end of "
             "query): ; SELECT 2. : In scope SELECT formatQuerySingleLine('SELECT 1; SELECT 2') SETTINGS readonly = "
             "'1', max_execution_time = '1' (SYNTAX_ERROR) (version 26.9.2.1)")
    assert clickhouse_message(step1) == ("Code: 62. DB::Exception: Syntax error (Multi-statements are not allowed): "
                                         "failed at position 9 (end of query): ; SELECT 2 (SYNTAX_ERROR)")
    over_http = ("HTTPDriver for http://ch:8123 received ClickHouse error code 47\n Code: 47. DB::Exception: Unknown "
                 "identifier `x`. In scope SELECT x FROM t\n SETTINGS readonly = '1', max_result_rows = '11'. "
                 "(UNKNOWN_IDENTIFIER) (version 24.8.1.1)")
    assert clickhouse_message(over_http) == ("Code: 47. DB::Exception: Unknown identifier `x`. In scope SELECT x "
                                             "FROM t. (UNKNOWN_IDENTIFIER)")
    assert clickhouse_message("Code: 159. Timeout", "TIMEOUT_EXCEEDED") == "Code: 159. Timeout (TIMEOUT_EXCEEDED)"
    assert clickhouse_message("Code: 1. " + "x" * 5000).endswith(" …")


def test_values_become_json_safe() -> None:
    utc = dt.datetime(2026, 11, 22, 12, 0, 0, 500000, tzinfo=dt.UTC)
    tokyo = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert jsonable(utc) == "2026-11-22T12:00:00.500000Z"
    assert jsonable(tokyo) == "2026-11-22T12:00:00+09:00"
    assert jsonable(dt.date(2026, 11, 22)) == "2026-11-22" and jsonable(dt.time(1, 2)) == "01:02:00"
    assert jsonable(dt.timedelta(minutes=1, milliseconds=5)) == 60.005
    assert jsonable(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert jsonable(decimal.Decimal("1.25")) == "1.25"
    assert jsonable(ipaddress.ip_address("::1")) == "::1"
    assert jsonable(b"ab\xff") == "ab\ufffd"
    assert jsonable({1: (utc, [None, True])}) == {"1": ["2026-11-22T12:00:00.500000Z", [None, True]]}
    nan = jsonable(math.nan)
    assert isinstance(nan, float) and math.isnan(nan), "JSONResponse renders NaN"
    assert jsonable(object()).startswith("<object")


class Untouchable:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the SQL backend must not be asked ({name}) for invalid input")


@pytest.mark.parametrize("body", [{}, {"query": ""}, {"query": "SELECT 1", "max_rows": 0},
                                  {"query": "SELECT 1", "max_rows": 1_000_001}, {"query": "x" * 100_001},
                                  {"query": "SELECT 1", "surprise": True}, {"query": 42}])
def test_a_bad_request_is_a_400_before_any_query(body: dict[str, object]) -> None:
    app = build_app(ServerSettings())
    app.dependency_overrides[get_sql_backend] = Untouchable
    response = TestClient(app).post("/api/v1/sql", json=body)  # the lifespan does not run: no services
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_the_database_tables_are_read_only_for_a_table_function_that_may_be_a_view() -> None:
    asked: list[int] = []

    def relations() -> frozenset[str]:
        asked.append(1)
        return TABLES

    names = LazyNames(relations)
    check_ast(parse_ast(select_from("TableIdentifier runs (alias r)")), DB, names)
    check_ast(parse_ast(select_from("Function numbers (alias n) (children 1)", "       ExpressionList (children 1)",
                                    "        Literal UInt64_3")), DB, names)
    assert asked == []
    check_ast(parse_ast(select_from("Function runs_as_of (children 1)")), DB, names)
    check_ast(parse_ast(select_from("Function runstream.runs_as_of (children 1)")), DB, names)
    assert asked == [1]  # once per query
    with pytest.raises(SqlRefused, match="not allowed"):
        check_ast(parse_ast(select_from("Function file (children 1)")), DB, LazyNames(relations))
