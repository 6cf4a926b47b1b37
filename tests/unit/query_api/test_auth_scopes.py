"""Tokens held as digests; each route's scope from the route table, never from the request's path."""

from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr

from query_api.auth import TokenTable, route_scope
from query_api.deps import get_clickhouse
from query_api.errors import ApiError
from query_api.mlflow import artifact_routes
from query_api.mlflow import routes as mlflow_routes
from query_api.mlflow.deps import get_artifacts, get_reader, get_writer
from runstream.settings import ServerSettings
from runstream.stack import build_app

READER, WRITER = "reader-token-0123456789", "writer-token-0123456789"


def digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


class Reached(ApiError):
    status_code = 418
    error_code = "REACHED"


class Service:
    """Stands in for the MLflow service: any use of it means the request got past the scope check."""

    def __getattr__(self, name: str) -> object:
        raise Reached(name)


@pytest.fixture
def api() -> TestClient:
    grants = {digest(READER): ["read"], digest(WRITER): ["read", "write"]}
    app = build_app(ServerSettings(auth_tokens=SecretStr(json.dumps(grants))))
    for dependency in (get_reader, get_writer, get_artifacts):
        app.dependency_overrides[dependency] = Service
    app.dependency_overrides[get_clickhouse] = Service
    return TestClient(app)  # the lifespan does not run: no services


def test_tokens_are_configured_and_held_as_digests() -> None:
    table = TokenTable.parse(json.dumps({digest(READER): ["read"], WRITER: ["admin"]}), "test")
    assert table.scopes_of(READER) == frozenset({"read"})
    assert table.scopes_of(WRITER) == frozenset({"read", "write", "admin"}), "a plain key still works"
    assert table.plaintext == 1
    assert table.scopes_of(digest(READER)) is None, "the configured digest is not itself a token"
    assert table.scopes_of("nope-nope-nope") is None
    assert READER not in repr(table.__dict__) and WRITER not in repr(table.__dict__), "no token held in memory"


@pytest.mark.parametrize("text", ['{"sha256:abc": ["read"]}', '{"short": ["read"]}',
                                  f'{{"{digest(READER)}": ["root"]}}'])
def test_bad_token_tables_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        TokenTable.parse(text, "test")


def put(api: TestClient, path: str, token: str) -> int:
    response = api.put(f"/api/2.0/mlflow-artifacts/artifacts/{path}", content=b"x",
                       headers={"Authorization": f"Bearer {token}"})
    return response.status_code


@pytest.mark.parametrize("name", ["search", "x/search", "runs/search", "model"])
def test_a_read_token_cannot_upload_an_artifact_whatever_its_name(api: TestClient, name: str) -> None:
    path = f"1/{'a' * 32}/artifacts/{name}"
    assert put(api, path, READER) == 403
    assert put(api, path, WRITER) == 418, "the write token gets past the check"


def test_read_posts_are_the_declared_ones(api: TestClient) -> None:
    headers = {"Authorization": f"Bearer {READER}"}
    for path in ("runs/search", "experiments/search"):
        assert api.post(f"/api/2.0/mlflow/{path}", json={}, headers=headers).status_code in (200, 418)
    for path in ("runs/create", "runs/log-batch", "experiments/create", "runs/delete"):
        assert api.post(f"/api/2.0/mlflow/{path}", json={}, headers=headers).status_code == 403, path


def test_every_mlflow_route_has_the_scope_its_method_or_declaration_gives() -> None:
    routes = [r for r in [*mlflow_routes.router.routes, *artifact_routes.router.routes] if isinstance(r, APIRoute)]
    assert len(routes) > 20
    reads = {"/mlflow/runs/search", "/mlflow/experiments/search", "/mlflow/logged-models/search"}
    for route in routes:
        expected = "read" if set(route.methods or ()) <= {"GET", "HEAD"} or route.path in reads else "write"
        assert route_scope(route) == expected, route.path
    assert route_scope(None) == "write", "an unknown route is a write"
