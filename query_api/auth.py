"""Bearer tokens and scopes: read, write, admin (admin implies the other two)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from fastapi import Request

from query_api.errors import ApiError

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")


class Unauthenticated(ApiError):
    status_code = 401
    error_code = "UNAUTHENTICATED"


class PermissionDenied(ApiError):
    status_code = 403
    error_code = "PERMISSION_DENIED"


class TokenTable:
    """Which scopes each token grants. Tokens are compared in constant time and never printed."""

    def __init__(self, grants: dict[str, frozenset[str]]) -> None:
        self._grants = grants

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
        grants: dict[str, frozenset[str]] = {}
        for i, (token, scopes) in enumerate(raw.items(), 1):
            if not isinstance(token, str) or len(token) < 8:
                raise ValueError(f"{source}: token #{i} is shorter than 8 characters")
            if not isinstance(scopes, list) or not scopes or any(s not in SCOPES for s in scopes):
                raise ValueError(f"{source}: token #{i} must have a list of scopes among {', '.join(SCOPES)}")
            grants[token] = frozenset(SCOPES if "admin" in scopes else scopes)
        return cls(grants)

    def scopes_of(self, token: str) -> frozenset[str] | None:
        found = None
        for known, scopes in self._grants.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = scopes
        return found


def load_tokens(inline: str | None, file: Path | None) -> TokenTable | None:
    """The token table from RUNSTREAM_AUTH_TOKENS or RUNSTREAM_AUTH_TOKENS_FILE; None means auth is off."""
    if inline and file:
        raise ValueError("set RUNSTREAM_AUTH_TOKENS or RUNSTREAM_AUTH_TOKENS_FILE, not both")
    if file:
        try:
            return TokenTable.parse(file.read_text(), f"RUNSTREAM_AUTH_TOKENS_FILE ({file})")
        except OSError as exc:
            raise ValueError(f"cannot read RUNSTREAM_AUTH_TOKENS_FILE ({file}): {exc.strerror}") from None
    if inline:
        return TokenTable.parse(inline, "RUNSTREAM_AUTH_TOKENS")
    return None


def require(scope: Scope) -> Callable[[Request], None]:
    """A dependency that lets the request through only with a bearer token granting `scope`."""

    def check(request: Request) -> None:
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


def require_by_method() -> Callable[[Request], None]:
    """For front doors that mix reads and writes under one prefix (MLflow's API): GET, and POSTs to a
    .../search or .../get-latest-versions route, need `read`; every other method needs `write`."""
    read, write = require("read"), require("write")

    def check(request: Request) -> None:
        path = request.url.path
        reading = request.method in ("GET", "HEAD") or path.endswith(("/search", "/get-latest-versions"))
        (read if reading else write)(request)

    return check
