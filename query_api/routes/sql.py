"""POST /api/v1/sql: read-only analyst SQL over the run tables."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import time
import uuid
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from query_api.deps import ClickHouseDep, StateDep
from query_api.errors import ApiError, InvalidParameter
from query_api.jsonresponse import JSONResponse
from query_api.queries.sql import SqlLimits, SqlRefused, check_ast

router = APIRouter(prefix="/api/v1", tags=["sql"])
LIMIT_CODES = {"TIMEOUT_EXCEEDED", "MEMORY_LIMIT_EXCEEDED", "TOO_MANY_ROWS_OR_BYTES", "TOO_MANY_ROWS"}


class SqlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=100_000)
    max_rows: int | None = Field(None, ge=1, le=1_000_000)


class QueryLimitExceeded(ApiError):
    error_code = "QUERY_LIMIT_EXCEEDED"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _clickhouse_message(exc: DatabaseError) -> str:
    return str(exc).split("\n")[0].strip()


@router.post("/sql")
def run_sql(request: SqlRequest, clickhouse: ClickHouseDep, state: StateDep) -> JSONResponse:
    """Run one SELECT over the run tables: read-only, with server-fixed limits on time, rows and memory."""
    s = state.settings
    limits = SqlLimits(s.sql_max_execution_time_s, s.sql_max_result_rows, s.sql_max_memory_bytes)
    rows_wanted = min(request.max_rows or limits.max_result_rows, limits.max_result_rows)
    settings = limits.settings(rows_wanted)
    try:
        # ClickHouse parses the text as a bound value: exactly one statement, or an error. Only this canonical
        # form goes further (embedded chdb would otherwise run every statement of "SELECT 1; DROP ...").
        query = clickhouse.query("SELECT formatQuerySingleLine({q:String})",
                                 parameters={"q": request.query}).result_rows[0][0]
        # EXPLAIN AST only parses. No settings here: some clients append them to the text as a SETTINGS clause.
        ast = [row[0] for row in clickhouse.query(f"EXPLAIN AST {query}").result_rows]
    except DatabaseError as exc:
        raise InvalidParameter(f"bad SQL: {_clickhouse_message(exc)}") from exc
    try:
        check_ast(ast, s.clickhouse_database)
    except SqlRefused as exc:
        raise InvalidParameter(str(exc)) from exc
    started = time.perf_counter()
    try:
        result = clickhouse.query(query, settings=settings)
    except DatabaseError as exc:
        message = _clickhouse_message(exc)
        if any(code in message for code in LIMIT_CODES):
            raise QueryLimitExceeded(f"the query went over a limit: {message}") from exc
        raise InvalidParameter(f"the query failed: {message}") from exc
    rows = result.result_rows
    truncated = len(rows) > rows_wanted
    rows = rows[:rows_wanted]
    return JSONResponse({
        "columns": [{"name": n, "type": t.name} for n, t in zip(result.column_names, result.column_types, strict=True)],
        "rows": [[_jsonable(v) for v in row] for row in rows],
        "row_count": len(rows),
        "truncated": truncated,
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
    })
