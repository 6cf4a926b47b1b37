"""The AI gateway's routes: reads (GETs) need the read scope, every write the write scope; nothing else of the
gateway (endpoints, the proxy) is served."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr

from query_api.auth import route_scope
from query_api.errors import ApiError
from query_api.mlflow import gateway_routes
from runstream.settings import ServerSettings
from runstream.stack import build_app

READER, WRITER = "reader-token-0123456789", "writer-token-0123456789"
BASE = "/api/3.0/mlflow/gateway"


class Reached(ApiError):
    status_code = 418
    error_code = "REACHED"


class Service:
    """Stands in for the gateway store: any use of it means the request got past the scope check."""

    def __getattr__(self, name: str) -> object:
        raise Reached(name)


@pytest.fixture
def api() -> TestClient:
    grants = {f"sha256:{hashlib.sha256(t.encode()).hexdigest()}": s
              for t, s in ((READER, ["read"]), (WRITER, ["read", "write"]))}
    app = build_app(ServerSettings(auth_tokens=SecretStr(json.dumps(grants))))
    app.dependency_overrides[gateway_routes.get_gateway] = Service
    return TestClient(app)  # the lifespan does not run: no services


def _status(api: TestClient, method: str, path: str, token: str) -> int:
    answer = api.request(method, f"{BASE}/{path}", json={} if method != "GET" else None,
                         headers={"Authorization": f"Bearer {token}"})
    return answer.status_code


@pytest.mark.parametrize("path", ["secrets/get", "secrets/list", "model-definitions/get", "model-definitions/list"])
def test_a_read_token_reads(api: TestClient, path: str) -> None:
    assert _status(api, "GET", path, READER) == 418


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "secrets/create"), ("POST", "secrets/update"), ("DELETE", "secrets/delete"),
    ("POST", "model-definitions/create"), ("POST", "model-definitions/update"), ("DELETE", "model-definitions/delete"),
])
def test_only_a_write_token_writes(api: TestClient, method: str, path: str) -> None:
    assert _status(api, method, path, READER) == 403
    assert _status(api, method, path, WRITER) == 418


def test_every_gateway_route_has_its_methods_scope_and_the_rest_is_not_implemented(api: TestClient) -> None:
    routes = [r for r in gateway_routes.router.routes if isinstance(r, APIRoute)]
    assert len(routes) == 11
    for route in routes:
        assert route_scope(route) == ("read" if set(route.methods or ()) <= {"GET", "HEAD"} else "write"), route.path
    answer = api.post(f"{BASE}/endpoints/create", json={}, headers={"Authorization": f"Bearer {WRITER}"})
    assert answer.status_code == 501 and answer.json()["error_code"] == "NOT_IMPLEMENTED"
    proxy = api.post("/ajax-api/2.0/mlflow/gateway-proxy", json={}, headers={"Authorization": f"Bearer {WRITER}"})
    assert proxy.status_code == 501
