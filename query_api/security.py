"""Guards of the open local mode (no tokens): allowed hosts, and no state change from another site.

Without tokens the server trusts whoever reaches it, which is only safe if "whoever" is this machine. A browser
breaks that twice: a page on another site can POST to 127.0.0.1 (a `text/plain` or form body needs no CORS
preflight, so the request runs even though the page cannot read the answer), and DNS rebinding points a
foreign name at 127.0.0.1 so the page becomes same-origin with the server. MLflow 3's server added the same two
checks: the Host header must name an allowed host, and a state-changing request must not come from a foreign
Origin nor carry a body type a browser may send cross-site without asking.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The body types an HTML form or a no-preflight fetch() can send from any page.
SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})


def host_name(host: str) -> str:
    """The host of a Host header or netloc, without its port, lowercased ("[::1]:8080" -> "[::1]")."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_host(host: str, allowed: Iterable[str]) -> bool:
    name = host_name(host)
    for pattern in allowed:
        pattern = pattern.strip().lower()
        if pattern == "*" or pattern == name or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


def refusal(method: str, path: str, headers: dict[str, str], allowed: tuple[str, ...]) -> str | None:
    """Why the request is refused in open local mode, or None when it may go on."""
    if not allowed_host(headers.get("host", ""), allowed):
        return (f"host {headers.get('host', '')!r} is not allowed: without tokens the server answers only "
                f"{', '.join(allowed)} (RUNSTREAM_ALLOWED_HOSTS)")
    if method not in STATE_CHANGING:
        return None
    origin = headers.get("origin")
    if origin is not None and (origin == "null" or not allowed_host(urlsplit(origin).netloc, allowed)):
        return f"a {method} from origin {origin!r} is not allowed: without tokens only this machine's pages may write"
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type in SIMPLE_TYPES and "/mlflow-artifacts/" not in path:
        return (f"a {method} with Content-Type {content_type} is not allowed (any web page can send one): "
                "send application/json")
    return None


class LocalOnly:
    """ASGI middleware: 403 with the project's JSON error for requests `refusal` names."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        why = refusal(scope["method"], scope["path"], headers, self.allowed)
        if why is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error_code": "PERMISSION_DENIED", "message": why}).encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
