"""Domain errors of the API and their JSON rendering: {"error_code": ..., "message": ...}."""

from __future__ import annotations

import logging

from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from query_api.filters.parser import SearchSyntaxError
from query_api.jsonresponse import JSONResponse
from query_api.paging import BadPageToken

log = logging.getLogger("runstream.api")
# ClickHouse's codes for a query over a limit: TOO_MANY_ROWS, TIMEOUT_EXCEEDED, TOO_SLOW, MEMORY_LIMIT_EXCEEDED,
# TOO_MANY_BYTES, TOO_MANY_ROWS_OR_BYTES.
LIMIT_CODES = frozenset({158, 159, 160, 241, 307, 396})


class ApiError(Exception):
    status_code = 400
    error_code = "INVALID_PARAMETER_VALUE"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(ApiError):
    pass


class NotFound(ApiError):
    status_code = 404
    error_code = "RESOURCE_DOES_NOT_EXIST"


class Unavailable(ApiError):
    status_code = 503
    error_code = "TEMPORARILY_UNAVAILABLE"


def error_body(error_code: str, message: str) -> dict[str, str]:
    return {"error_code": error_code, "message": message}


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.error_code, exc.message), status_code=exc.status_code)

    @app.exception_handler(SearchSyntaxError)
    async def _bad_search(_: Request, exc: SearchSyntaxError) -> JSONResponse:
        return JSONResponse(error_body("INVALID_PARAMETER_VALUE", str(exc)), status_code=400)

    @app.exception_handler(BadPageToken)
    async def _bad_token(_: Request, exc: BadPageToken) -> JSONResponse:
        return JSONResponse(error_body("INVALID_PARAMETER_VALUE", str(exc)), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body("INVALID_PARAMETER_VALUE", _describe(exc)), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "ENDPOINT_NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "BAD_REQUEST")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(OperationalError)
    async def _unreachable(_: Request, exc: OperationalError) -> JSONResponse:
        return JSONResponse(error_body("TEMPORARILY_UNAVAILABLE", f"ClickHouse is unreachable: {exc}"), status_code=503)

    @app.exception_handler(ClickHouseError)
    async def _bug(request: Request, exc: ClickHouseError) -> JSONResponse:
        if getattr(exc, "code", None) in LIMIT_CODES:  # the request's query went over the API's bounds
            log.warning("query over a limit on %s %s: %.300s", request.method, request.url.path, exc)
            return JSONResponse(error_body("QUERY_LIMIT_EXCEEDED", "the request needs more than the server's query "
                                           f"limits allow (RUNSTREAM_QUERY_MAX_*): {str(exc)[:500]}"), status_code=400)
        log.error("query failed on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(error_body("INTERNAL_ERROR", f"query failed: {exc}"), status_code=500)
