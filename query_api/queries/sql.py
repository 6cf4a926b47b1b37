"""Analyst SQL: what may run (decided on ClickHouse's own parse tree), under which limits, and how rows leave.

Nothing here talks to ClickHouse; `query_api/routes/sql.py` runs the three steps:

1. `prepare_sql()` with the user's text as a bound String parameter: ClickHouse's `formatQuerySingleLine` parses it
   (two statements are a syntax error) and gives the canonical text, which is the only text that goes further;
   the same query reports the values the limits took, so a client that silently dropped a setting is caught
   before anything runs.
2. `EXPLAIN AST <canonical text>` (parsing only, nothing is resolved or read), checked by `check_ast`; the names
   of the database's tables (`RELATIONS_SQL`) are read only if the tree calls a table function that is not one
   of the allowed ones (it may be a parameterized view of the database).
3. The canonical text itself, with `SqlLimits.settings()`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import math
import re
import uuid
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Table functions that only generate numbers or inline values. Everything else in a FROM (file, url, s3,
# remote, merge, view, loop, dictionary, mergeTreeIndex, python, ...) is refused.
TABLE_FUNCTIONS = ("numbers", "numbers_mt", "zeros", "zeros_mt", "generateSeries", "generate_series", "values")
ALLOWED_TABLE_FUNCTIONS = frozenset(name.lower() for name in TABLE_FUNCTIONS)

# Ordinary functions that reach outside the run tables: files, other tables and dictionaries by name, server
# configuration and models, Keeper, the server log, process introspection. Refused wherever they appear.
DENIED_FUNCTIONS = re.compile(
    r"^(file|dict\w*|joinget\w*|hascolumnintable|getmacro|getserversetting|getmergetreesetting|getclienthttpheader|"
    r"filesystem\w*|catboost\w*|naivebayes\w*|generateserialid|showcertificate|logtrace|zookeeper\w*|"
    r"addresstoline\w*|addresstosymbol|demangle|__\w*)$",
    re.IGNORECASE,
)
# The syntax-node kinds the checker accepts: each prints every child it holds in EXPLAIN AST, so the checks below
# see the whole query. Anything else is refused, not skipped: column transformers (`* APPLY(f)`, `REPLACE`,
# `EXCEPT`) keep their lambda or function outside the printed children, and a kind this list does not know may
# do the same. (SETTINGS prints as `Set`, which is refused with its own message.)
NODE_KINDS = frozenset({
    "SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery", "ExpressionList", "Identifier", "Literal",
    "Function", "Asterisk", "QualifiedAsterisk", "ColumnsRegexpMatcher", "ColumnsListMatcher",
    "QualifiedColumnsRegexpMatcher", "QualifiedColumnsListMatcher", "Subquery", "WithElement", "TablesInSelectQuery",
    "TablesInSelectQueryElement", "TableExpression", "TableIdentifier", "TableJoin", "ArrayJoin", "SampleRatio",
    "OrderByElement", "InterpolateElement", "WindowDefinition", "WindowListElement",
})
# x IN t reads table t: the right-hand identifier of these is a table reference.
IN_FUNCTIONS = re.compile(r"^(global)?(not)?(null)?in(ignoreset)?$", re.IGNORECASE)

_NODE = re.compile(r"^(?P<indent> *)(?P<kind>\w+(?:::\w+)*)(?: (?P<rest>.*?))?(?: \(children \d+\))?$")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?"
# A table as EXPLAIN AST prints it: its name, then nothing or its alias. Names and aliases are printed unquoted,
# so a quoted name with spaces, dots or parentheses reads ambiguously (`a b`.c and a.`b.c` both print "a b.c";
# `d (alias x`.`y)` prints "d (alias x.y)"): only plain names and aliases without dots or parentheses pass.
_TABLE_NAME = re.compile(rf"^(?P<name>{_IDENT})(?: \(alias [^().]*\))?$")
# A function's name is the first word (function names have no spaces); what follows is its alias, if any.
_FUNCTION_NAME = re.compile(rf"^(?P<name>{_IDENT})(?: |$)")


class SqlRefused(ValueError):
    """The query is not a read of the run tables under the server's limits."""


class LimitsNotApplied(RuntimeError):
    """ClickHouse reports other values for the limits than the ones sent: nothing may run."""


@dataclass(frozen=True)
class SqlLimits:
    max_execution_time_s: float
    max_result_rows: int
    max_memory_bytes: int

    def settings(self, rows: int) -> dict[str, object]:
        """ClickHouse's own enforcement, sent with the query (as URL parameters over HTTP, a SETTINGS clause on chdb).

        All of them are checked against the session's settings before any is applied, so `readonly=1` can travel
        with the limits: it then refuses writes, DDL, SYSTEM, KILL, temporary tables, table functions that read
        files, URLs, object stores or other servers, and any SETTINGS the query itself carries (so the limits
        cannot be raised from inside). `break` returns the first rows (whole blocks) instead of failing; one row
        more than wanted tells whether the answer was cut.
        """
        return {
            "readonly": 1,
            "max_execution_time": self.max_execution_time_s,
            "timeout_overflow_mode": "throw",
            "max_result_rows": rows + 1,
            "result_overflow_mode": "break",
            "max_memory_usage": self.max_memory_bytes,
        }


def prepare_sql(settings: Mapping[str, object]) -> str:
    """Step 1: the canonical text of {query:String}, then each setting as ClickHouse sees it."""
    reported = ", ".join(f"toString(getSetting('{name}'))" for name in settings)  # our own constant names
    return f"SELECT formatQuerySingleLine({{query:String}}), [{reported}]"


# The database's tables and views: asked only when a query calls a table function that is not one of the allowed
# ones, which may be a parameterized view of the database (reading system.tables costs ~2 ms, most queries need none).
RELATIONS_SQL = "SELECT groupArray(name) FROM system.tables WHERE database = currentDatabase()"


class LazyNames(Container[str]):
    """Names read by `fetch` at the first membership test, then kept (for one query)."""

    def __init__(self, fetch: Callable[[], Iterable[str]]) -> None:
        self._fetch = fetch
        self._names: frozenset[str] | None = None

    def __contains__(self, name: object) -> bool:
        if self._names is None:
            self._names = frozenset(self._fetch())
        return name in self._names


def verify_settings(wanted: Mapping[str, object], reported: list[str]) -> None:
    """Raise LimitsNotApplied unless ClickHouse reports every setting with the value sent."""
    if len(reported) != len(wanted):
        raise LimitsNotApplied(f"ClickHouse reported {len(reported)} settings for {len(wanted)} sent")
    for (name, value), got in zip(wanted.items(), reported, strict=True):
        if not _same_setting(value, got):
            raise LimitsNotApplied(f"ClickHouse runs with {name}={got!r}, not {value!r}")


def _same_setting(value: object, got: str) -> bool:
    if isinstance(value, int | float):
        try:
            return math.isclose(float(got), float(value))
        except ValueError:
            return False
    return str(value) == got


_VERSION = re.compile(r"\s*\(version [^)]*\)")
_OUR_SETTINGS = re.compile(r"\s*SETTINGS readonly = '1'(?:, \w+ = '[^']*')*")
_OUR_WRAPPER = re.compile(r"[\s.:]*In scope SELECT formatQuerySingleLine\(.*?(?=\s\([A-Z][A-Z0-9_]*\)$|$)", re.DOTALL)


def clickhouse_message(text: str, name: str | None = None, limit: int = 2000) -> str:
    """ClickHouse's error on one line from its "Code: N." on, without the parts this server added (the limits'
    SETTINGS clause, the step-1 wrapper, the version), with the error name kept."""
    start = text.find("Code: ")
    text = " ".join((text[start:] if start >= 0 else text).split())
    text = _OUR_WRAPPER.sub("", _OUR_SETTINGS.sub("", _VERSION.sub("", text)))
    if len(text) > limit:
        text = text[:limit] + " …"
    if name and name not in text:
        text = f"{text} ({name})"
    return text


@dataclass
class Node:
    kind: str
    rest: str
    children: list[Node] = field(default_factory=list)

    def table_name(self) -> str | None:
        """The plain (possibly qualified) name of a table-like node, or None when it does not read unambiguously."""
        match = _TABLE_NAME.match(self.rest)
        return match["name"] if match else None

    def function_name(self) -> str | None:
        match = _FUNCTION_NAME.match(self.rest)
        return match["name"] if match else None


def parse_ast(text: str) -> Node:
    """The tree of ClickHouse's `EXPLAIN AST` text: one node a line, children indented by one more space."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise SqlRefused("ClickHouse returned no parse tree")
    stack: list[tuple[int, Node]] = []
    root: Node | None = None
    for line in lines:
        match = _NODE.match(line)
        if not match:
            raise SqlRefused(f"unexpected line in the parse tree: {line.strip()[:80]!r}")
        depth = len(match["indent"])
        node = Node(match["kind"], match["rest"] or "")
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            stack[-1][1].children.append(node)
        elif root is None and depth == 0:
            root = node
        else:
            raise SqlRefused("the parse tree has more than one root")
        stack.append((depth, node))
    if root is None:
        raise SqlRefused("ClickHouse returned no parse tree")
    return root


def check_ast(root: Node, database: str, relations: Container[str] = frozenset()) -> None:
    """Refuse anything but one SELECT over this database's tables.

    `root` is ClickHouse's parse tree of the canonical query; `relations` are the names of the database's tables
    and views (a parameterized view is called like a table function).
    """
    if root.kind != "SelectWithUnionQuery":
        raise SqlRefused(f"only SELECT queries may run here, not {root.kind.removesuffix('Query') or root.kind}")
    if len(root.children) != 1:
        # The select list is the only child; INTO OUTFILE, COMPRESSION, FORMAT and a trailing SETTINGS add more.
        raise SqlRefused("INTO OUTFILE, FORMAT and SETTINGS are not allowed: the server fixes the output and limits")
    pending: list[tuple[Node, Node | None]] = [(root, None)]
    while pending:  # a loop, not recursion: ClickHouse parses ~1000 levels deep, more than Python's stack
        node, parent = pending.pop()
        _check(node, parent, database, relations)
        pending.extend((child, node) for child in reversed(node.children))


def _check(node: Node, parent: Node | None, database: str, relations: Container[str]) -> None:
    """The rules for one node (its children are checked by the caller's walk)."""
    if node.kind == "Set":
        raise SqlRefused("a SETTINGS clause is not allowed: the server fixes the limits")
    if node.kind not in NODE_KINDS:
        what = "column transformers (APPLY, REPLACE, EXCEPT after * or COLUMNS)" if "Transformer" in node.kind \
            else f"{node.kind} nodes"
        raise SqlRefused(f"{what} are not allowed here: the checker cannot see into them")
    if node.kind == "TableIdentifier":
        _check_table(node, database)
    elif node.kind == "Function":
        name = node.function_name()
        if name is None:
            raise SqlRefused(f"unexpected function {node.rest[:80]!r}")
        if DENIED_FUNCTIONS.match(name):
            raise SqlRefused(f"function {name}() is not allowed: it reaches outside the run tables")
        if parent is not None and parent.kind == "TableExpression":
            if node.table_name() is None:
                raise SqlRefused(f"table function {node.rest[:80]!r} is not a plain name")
            _check_table_function(name, database, relations)
        if IN_FUNCTIONS.match(name) and node.children and len(node.children[0].children) == 2:
            right = node.children[0].children[1]
            if right.kind == "Identifier":
                _check_table(right, database)


def _check_table(node: Node, database: str) -> None:
    name = node.table_name()
    if name is None:
        raise SqlRefused(f"table {node.rest[:80]!r} is not a plain name; use the tables of {database}")
    if "." in name and name.split(".", 1)[0] != database:
        raise SqlRefused(f"table {name} is outside the run data; use the tables of {database}")


def _check_table_function(name: str, database: str, relations: Container[str]) -> None:
    db, _, view = name.rpartition(".")
    if not db and name.lower() in ALLOWED_TABLE_FUNCTIONS:
        return
    if db in ("", database) and view in relations:
        return  # a parameterized view of this database, e.g. runs_as_of(as_of = '…')
    raise SqlRefused(f"table function {name}() is not allowed: use the tables of {database} "
                     f"(or {', '.join(TABLE_FUNCTIONS)})")


def jsonable(value: Any) -> Any:
    """A result value as JSON can carry it: times ISO-8601 (UTC with Z), UUIDs, decimals and addresses as text.

    Non-finite floats stay floats: the project's JSONResponse renders them as "NaN", "Infinity", "-Infinity".
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        text = value.isoformat()
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, uuid.UUID | decimal.Decimal | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    return str(value)
