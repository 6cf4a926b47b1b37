"""POST /api/v1/sql: one read-only SELECT over the run tables, with server-fixed limits (see docs/sql.md)."""

from __future__ import annotations

import logging
import time
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError, StreamFailureError
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from query_api.deps import SqlBackendDep
from query_api.errors import ApiError, InvalidParameter
from query_api.jsonresponse import JSONResponse
from query_api.queries.sql import (
    RELATIONS_SQL,
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
from query_api.sqlbudget import DeadlinePassed
from query_api.sqlclient import SqlBackend

router = APIRouter(prefix="/api/v1", tags=["sql"])
log = logging.getLogger("runstream.api.sql")

# ClickHouse errors that mean "this query went over a limit", by name and by code.
DEADLINE_GRACE_S = 2.0  # steps 1-2 (parse, EXPLAIN) and the answer, beyond ClickHouse's own max_execution_time
LIMIT_ERRORS = {"TIMEOUT_EXCEEDED": 159, "TOO_SLOW": 160, "MEMORY_LIMIT_EXCEEDED": 241, "TOO_MANY_ROWS": 158,
                "TOO_MANY_BYTES": 307, "TOO_MANY_ROWS_OR_BYTES": 396}


class SqlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=100_000, description="one SELECT (or WITH … SELECT)")
    max_rows: int | None = Field(None, ge=1, le=1_000_000,
                                 description="rows to return at most; never more than the server's limit")


class SqlColumn(BaseModel):
    name: str
    type: str = Field(description="the ClickHouse type, e.g. DateTime64(6, 'UTC')")


class SqlResult(BaseModel):
    columns: list[SqlColumn]
    rows: list[list[Any]] = Field(description="times as ISO-8601 text, UUIDs and decimals as text, NaN as \"NaN\"")
    row_count: int
    truncated: bool = Field(description="true when the query had more rows than were returned")
    elapsed_ms: float


class QueryLimitExceeded(ApiError):
    """400, not 408 (the client was not slow to send) nor 422: the query is what is wrong, and retrying is futile."""

    error_code = "QUERY_LIMIT_EXCEEDED"


class LimitsNotEnforced(ApiError):
    status_code = 500
    error_code = "INTERNAL_ERROR"


def _message(exc: DatabaseError) -> str:
    return clickhouse_message(str(exc), getattr(exc, "name", None))


def _is_limit(exc: DatabaseError) -> bool:
    return getattr(exc, "name", None) in LIMIT_ERRORS or getattr(exc, "code", None) in LIMIT_ERRORS.values()


def _from_clickhouse(exc: DatabaseError) -> bool:
    """True when ClickHouse answered with an error (it has a code); else the client or the network failed."""
    return getattr(exc, "code", None) is not None


def _prepare(client: Client, query: str, settings: dict[str, object]) -> str:
    """Step 1: the canonical single statement; the limits checked as ClickHouse applied them."""
    try:
        row = client.query(prepare_sql(settings), parameters={"query": query}, settings=settings).result_rows[0]
    except DatabaseError as exc:
        if not _from_clickhouse(exc):
            raise
        raise InvalidParameter(f"bad SQL: {_message(exc)}") from exc
    canonical, reported = row
    try:
        verify_settings(settings, list(reported))
    except LimitsNotApplied as exc:
        log.error("analyst SQL refused to run: %s", exc)
        raise LimitsNotEnforced(f"the server could not enforce the query limits, so nothing ran: {exc}") from exc
    return str(canonical)


def _check(client: Client, canonical: str, database: str) -> None:
    """Step 2: ClickHouse's parse tree of the canonical text (EXPLAIN AST parses only), checked by our rules; the
    database's tables are read only if a table function needs them (a parameterized view is called like one).

    Sent with command(), which appends nothing to the text (query() would add a FORMAT clause to the tree).
    """
    try:
        answer = client.command(f"EXPLAIN AST {canonical}")
    except DatabaseError as exc:
        if not _from_clickhouse(exc):
            raise
        raise InvalidParameter(f"bad SQL: {_message(exc)}") from exc
    try:  # one line a node; anything but text (a number, a list split at tabs) fails to parse, so is refused
        tables = LazyNames(lambda: client.query(RELATIONS_SQL).result_rows[0][0])
        check_ast(parse_ast(str(answer)), database, tables)
    except SqlRefused as exc:
        raise InvalidParameter(str(exc)) from exc


def _execute(backend: SqlBackend, query: str, settings: dict[str, object]) -> tuple[str, Any, Any, Any, float]:
    """Steps 1-3 on a client of the query's own (runs on the guard's thread)."""
    with backend.connect() as client:
        canonical = _prepare(client, query, settings)
        _check(client, canonical, backend.store.clickhouse_database)
        started = time.perf_counter()
        try:
            # tz_mode="aware": every time carries its zone, so it leaves as ISO-8601 with Z (or its offset)
            result = client.query(canonical, settings=settings, tz_mode="aware")
            names, types, rows = result.column_names, result.column_types, result.result_rows
        except DatabaseError as exc:
            if _from_clickhouse(exc):
                if _is_limit(exc):
                    raise QueryLimitExceeded(f"the query went over a limit: {_message(exc)}") from exc
                raise InvalidParameter(f"the query failed: {_message(exc)}") from exc
            if isinstance(exc, OperationalError) and not isinstance(exc, StreamFailureError):
                raise  # ClickHouse did not answer: 503
            # ClickHouse answered, the client cannot read it (an aggregate state, a type it does not decode)
            hint = (" Aggregate states must be finalized in the query, e.g. argMaxMerge(last_value) on "
                    "run_metric_summary." if "AggregateFunction" in str(exc) else "")
            raise InvalidParameter(f"the result cannot be returned: {exc}.{hint}") from exc
        except RecursionError as exc:  # the client reads a type like Array(Array(…)) 500 deep recursively
            raise InvalidParameter("the result cannot be returned: its type is nested too deeply") from exc
        elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    return canonical, names, types, rows, elapsed_ms


@router.post("/sql", response_model=SqlResult)
def run_sql(request: SqlRequest, backend: SqlBackendDep) -> JSONResponse:
    """Run one SELECT over the run tables: read-only, with server-fixed limits on time, rows and memory.

    Refused (400 INVALID_PARAMETER_VALUE): anything but one SELECT, other databases and `system.` tables, table
    functions other than numbers/zeros/generateSeries/values, functions that reach files, dictionaries or other
    tables, SETTINGS, FORMAT, INTO OUTFILE. Bad SQL: 400 with ClickHouse's message. Over a limit: 400
    QUERY_LIMIT_EXCEEDED.
    """
    s = backend.api
    memory = min(s.sql_max_memory_bytes, s.sql_memory_budget_bytes)
    limits = SqlLimits(s.sql_max_execution_time_s, s.sql_max_result_rows, memory)
    rows_wanted = min(request.max_rows or limits.max_result_rows, limits.max_result_rows)
    settings = limits.settings(rows_wanted)
    try:
        canonical, names, types, rows, elapsed_ms = backend.guard.run(
            lambda: _execute(backend, request.query, settings), memory=memory,
            wait_s=s.sql_max_execution_time_s, deadline_s=s.sql_max_execution_time_s + DEADLINE_GRACE_S)
    except DeadlinePassed as exc:
        log.warning("analyst SQL overran its time limit; answered at the deadline: %.300s", request.query)
        raise QueryLimitExceeded(f"the query went over its time limit of {s.sql_max_execution_time_s:g} s "
                                 "(TIMEOUT_EXCEEDED)") from exc
    truncated = len(rows) > rows_wanted
    rows = rows[:rows_wanted]
    log.info("analyst SQL: %d row(s)%s in %.1f ms: %.300s", len(rows), " (truncated)" if truncated else "",
             elapsed_ms, canonical)
    return JSONResponse({
        "columns": [{"name": n, "type": t.name} for n, t in zip(names, types, strict=True)],
        "rows": [[jsonable(v) for v in row] for row in rows],
        "row_count": len(rows),
        "truncated": truncated,
        "elapsed_ms": elapsed_ms,
    })
