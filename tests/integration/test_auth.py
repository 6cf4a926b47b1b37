"""With tokens configured, every route that reads or writes run data needs the right bearer token."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from runstream.settings import ServerSettings
from runstream.stack import build_app
from tests.integration.conftest import Stack, stack_settings

pytestmark = pytest.mark.integration
TOKENS = {"reader-token-1": ["read"], "writer-token-1": ["read", "write"], "admin-token-1": ["admin"]}
SAMPLE = {"run_id": "a" * 32, "key": "loss", "experiment_id": "x", "path": "0/" + "a" * 32 + "/artifacts/x.txt",
          "rule_id": "r1", "name": "clf", "version": "1", "alias": "champion", "model_id": "m-" + "a" * 32}
OPEN = ("/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info")  # capabilities, no run data


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, clickhouse_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    token_file = tmp_path_factory.mktemp("auth") / "tokens.json"
    token_file.write_text(json.dumps(TOKENS))
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "auth", auth_tokens_file=token_file)
    with TestClient(build_app(settings)) as api:
        yield Stack(settings, api)


def protected_routes(api: TestClient) -> list[tuple[str, str, str]]:
    """(method, path, scope) of every route the app serves under /api/ and /ajax-api/ (MLflow's included)."""
    found = []
    for path, operations in api.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if path.startswith(("/api/", "/ajax-api/")) and path not in OPEN:
            for method, operation in operations.items():
                if path.startswith(("/api/v1/sql", "/api/v1/admin")):
                    scope = "admin"
                elif path.startswith("/api/v1/alerts") and method != "get":  # alert rules are events: writes
                    scope = "write"
                elif (path.startswith("/api/v1") or method == "get" or path.endswith("/search")
                      or operation.get("x-runstream-scope") == "read"):  # a read by POST declares it
                    scope = "read"
                else:
                    scope = "write"
                found.append((method.upper(), path.format(**SAMPLE), scope))
    return found


def test_every_route_needs_a_token(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    routes = protected_routes(stack.api)
    assert len(routes) >= 9 + 2 * 27, "the MLflow routes under both prefixes are covered"
    caplog.set_level(logging.DEBUG)
    for method, path, _ in routes:
        for headers in ({}, {"Authorization": "Bearer wrong-token-xyz"}, {"Authorization": "Basic abc"},
                        {"Authorization": "Bearer "}):
            response = stack.api.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert "wrong-token-xyz" not in caplog.text and "reader-token-1" not in caplog.text


def test_scopes(stack: Stack) -> None:
    for method, path, scope in protected_routes(stack.api):
        for token, scopes in TOKENS.items():
            allowed = scope in scopes or "admin" in scopes
            response = stack.api.request(method, path, headers={"Authorization": f"Bearer {token}"}, json={})
            if allowed:
                assert response.status_code not in (401, 403), (method, path, token, response.text)
            else:
                assert response.status_code == 403, (method, path, token, response.text)
                assert response.json()["error_code"] == "PERMISSION_DENIED"


def test_health_stays_open_and_a_reader_reads(stack: Stack) -> None:
    assert stack.api.get("/healthz").status_code == 200
    response = stack.api.get("/api/v1/experiments", headers={"Authorization": "Bearer reader-token-1"})
    assert response.status_code == 200 and response.json() == {"experiments": []}


@pytest.mark.parametrize(("text", "problem"), [
    ("not json", "not JSON"),
    ('{"short": ["read"]}', "shorter than 8"),
    ('{"long-enough-token": ["root"]}', "scopes"),
    ("[]", "JSON object"),
])
def test_a_bad_token_table_stops_the_app_with_a_clear_error(text: str, problem: str, tmp_path: Path) -> None:
    settings = ServerSettings(auth_tokens=text)
    with pytest.raises(ValueError, match=problem) as info:
        build_app(settings)
    assert "long-enough-token" not in str(info.value)
