"""Bearer tokens and scopes: read, write, admin (admin implies the other two).

Tokens are configured and held as SHA-256 digests (`"sha256:<hex>"` keys), so neither the environment, a file nor
the process holds a token that could be presented. A plain token as a key still works (it is hashed on loading)
but is logged as a warning: replace it with `sha256:` + the hex digest (`printf %s "$TOKEN" | sha256sum`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from fastapi import Request
from starlette.routing import BaseRoute

from query_api.errors import ApiError

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
# A route that reads with a method other than GET declares it: @router.post("/runs/search", openapi_extra=READS).
READS: dict[str, Any] = {"x-runstream-scope": "read"}
_DIGEST = re.compile(r"^sha256:(?P<hex>[0-9a-fA-F]{64})$")
log = logging.getLogger("runstream.api")


class Unauthenticated(ApiError):
    status_code = 401
    error_code = "UNAUTHENTICATED"


class PermissionDenied(ApiError):
    status_code = 403
    error_code = "PERMISSION_DENIED"


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenTable:
    """Which scopes each token grants, by the token's SHA-256 digest; compared in constant time, never printed."""

    def __init__(self, grants: dict[bytes, frozenset[str]], *, plaintext: int = 0) -> None:
        self._grants = grants
        self.plaintext = plaintext  # entries configured as plain tokens (deprecated)

    def __repr__(self) -> str:
        return f"TokenTable({len(self._grants)} tokens)"

    def __len__(self) -> int:
        return len(self._grants)

    @classmethod
    def parse(cls, text: str, source: str) -> TokenTable:
        """Read {"token": ["read", ...], ...}; raise ValueError naming the problem (never the token)."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source} is not JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(raw, dict) or not raw:
            raise ValueError(f"{source} must be a JSON object mapping each token to its scopes")
        grants: dict[bytes, frozenset[str]] = {}
        plaintext = 0
        for i, (key, scopes) in enumerate(raw.items(), 1):
            hashed = _DIGEST.match(key) if isinstance(key, str) else None
            if hashed is None and (not isinstance(key, str) or len(key) < 8 or key.startswith("sha256:")):
                raise ValueError(f"{source}: token #{i} is shorter than 8 characters or a malformed "
                                 "sha256:<64 hex digits>")
            if not isinstance(scopes, list) or not scopes or any(s not in SCOPES for s in scopes):
                raise ValueError(f"{source}: token #{i} must have a list of scopes among {', '.join(SCOPES)}")
            plaintext += hashed is None
            digest = bytes.fromhex(hashed["hex"]) if hashed else token_digest(key)
            grants[digest] = frozenset(SCOPES if "admin" in scopes else scopes)
        return cls(grants, plaintext=plaintext)

    def scopes_of(self, token: str) -> frozenset[str] | None:
        presented = token_digest(token)
        found = None
        for known, scopes in self._grants.items():
            if hmac.compare_digest(known, presented):
                found = scopes
        return found


def load_tokens(inline: str | None, file: Path | None) -> TokenTable | None:
    """The token table from RUNSTREAM_AUTH_TOKENS or RUNSTREAM_AUTH_TOKENS_FILE; None means auth is off."""
    if inline and file:
        raise ValueError("set RUNSTREAM_AUTH_TOKENS or RUNSTREAM_AUTH_TOKENS_FILE, not both")
    table = None
    if file:
        try:
            table = TokenTable.parse(file.read_text(), f"RUNSTREAM_AUTH_TOKENS_FILE ({file})")
        except OSError as exc:
            raise ValueError(f"cannot read RUNSTREAM_AUTH_TOKENS_FILE ({file}): {exc.strerror}") from None
    elif inline:
        table = TokenTable.parse(inline, "RUNSTREAM_AUTH_TOKENS")
    if table is not None and table.plaintext:
        log.warning("%d of %d configured tokens are plain text: configure \"sha256:<hex digest>\" keys instead "
                    "(printf %%s \"$TOKEN\" | sha256sum), so no file or environment holds a usable token",
                    table.plaintext, len(table))
    return table


def require(scope: Scope) -> Callable[[Request], Awaitable[None]]:
    """A dependency that lets the request through only with a bearer token granting `scope` (async: a digest and
    a table lookup, cheaper than FastAPI's hand-off of a plain function to its thread pool)."""

    async def check(request: Request) -> None:
        table: TokenTable | None = request.app.state.tokens
        if table is None:
            return
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise Unauthenticated("this route needs an Authorization: Bearer <token> header")
        scopes = table.scopes_of(token.strip())
        if scopes is None:
            raise Unauthenticated("the bearer token is not valid")
        if scope not in scopes:
            raise PermissionDenied(f"this route needs the {scope!r} scope")

    return check


def route_scope(route: BaseRoute | None) -> Scope:
    """The scope a matched route declares: `read` for GET/HEAD-only routes and those declaring READS, else `write`
    (an unmatched or unknown route included). Decided by the route table, never by the request's path."""
    extra = getattr(route, "openapi_extra", None) or {}
    if extra.get("x-runstream-scope") == "read":
        return "read"
    methods = getattr(route, "methods", None)
    return "read" if methods and set(methods) <= {"GET", "HEAD"} else "write"


def require_route_scope() -> Callable[[Request], Awaitable[None]]:
    """For front doors that mix reads and writes under one prefix (MLflow's API): each route's declared scope."""
    checks = {scope: require(scope) for scope in SCOPES}

    async def check(request: Request) -> None:
        await checks[route_scope(request.scope.get("route"))](request)

    return check
