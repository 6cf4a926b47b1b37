"""Analyst SQL: what may run (decided on ClickHouse's own parse tree) and under which limits."""

from __future__ import annotations

import re
from dataclasses import dataclass

TABLE_FUNCTIONS_ALLOWED = {"numbers", "numbers_mt", "zeros", "zeros_mt", "values", "generate_series"}
# Functions that reach outside the run data (files, network, other servers, dictionaries), wherever they appear.
FORBIDDEN_FUNCTIONS = re.compile(
    r"^(file|url|urlcluster|s3|s3cluster|gcs|hdfs|hdfscluster|azureblobstorage\w*|remote|remotesecure|cluster|"
    r"clusterallreplicas|mysql|postgresql|mongodb|redis|sqlite|jdbc|odbc|executable|input|merge|loop|iceberg\w*|"
    r"deltalake\w*|hudi\w*|dict\w*|joinget\w*|getsetting\w*|getmacro|fuzz\w*|view|viewifpermitted|"
    r"generaterandom\w*|arrowflight|ytsaurus|paimon\w*|filesystem\w*|kafka\w*|nats|rabbitmq)$",
    re.IGNORECASE,
)
_LINE = re.compile(r"^(?P<indent> *)(?P<kind>\w+)(?: (?P<name>[^ ]+))?")


class SqlRefused(ValueError):
    """The query is not a read of the run tables under the server's limits."""


@dataclass(frozen=True)
class SqlLimits:
    max_execution_time_s: float
    max_result_rows: int
    max_memory_bytes: int

    def settings(self, rows: int) -> dict[str, object]:
        """ClickHouse's own enforcement: readonly=2 refuses writes and DDL and forbids changing `readonly`."""
        return {
            "readonly": 2,
            "max_execution_time": self.max_execution_time_s,
            "timeout_overflow_mode": "throw",
            "max_result_rows": rows + 1,
            "result_overflow_mode": "break",
            "max_memory_usage": self.max_memory_bytes,
        }


def check_ast(ast_lines: list[str], database: str) -> None:
    """Refuse anything but one SELECT over this database's tables; ast_lines is ClickHouse's EXPLAIN AST."""
    if not ast_lines or not ast_lines[0].startswith("SelectWithUnionQuery"):
        kind = ast_lines[0].split(" ")[0] if ast_lines else "nothing"
        raise SqlRefused(f"only SELECT queries may run here, not {kind}")
    parents: list[tuple[int, str]] = []
    for line in ast_lines:
        match = _LINE.match(line)
        if not match:
            continue
        depth, kind, name = len(match["indent"]), match["kind"], match["name"] or ""
        while parents and parents[-1][0] >= depth:
            parents.pop()
        parent = parents[-1][1] if parents else ""
        if kind == "TableIdentifier" and "." in name and name.split(".", 1)[0].strip("`") != database:
            raise SqlRefused(f"table {name} is outside the run data; use the tables of {database}")
        if kind == "Function":
            if parent == "TableExpression" and name.lower() not in TABLE_FUNCTIONS_ALLOWED:
                raise SqlRefused(f"table function {name}() is not allowed")
            if FORBIDDEN_FUNCTIONS.match(name):
                raise SqlRefused(f"function {name}() is not allowed")
        if kind == "Set":
            raise SqlRefused("a SETTINGS clause is not allowed: the server fixes the limits")
        if depth == 1 and kind == "Literal":
            raise SqlRefused("INTO OUTFILE is not allowed")
        if depth == 1 and kind == "Identifier" and name != "Native":
            raise SqlRefused("FORMAT is not allowed: results come back as JSON")
        parents.append((depth, kind))
