"""Open local mode (no tokens): only allowed Host names, and no state change from another site (CSRF)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from query_api.errors import ApiError
from query_api.mlflow.deps import get_artifacts, get_reader, get_writer
from query_api.security import allowed_host, host_name
from runstream.settings import ServerSettings
from runstream.stack import build_app


class Reached(ApiError):
    status_code = 418
    error_code = "REACHED"


class Service:
    def __getattr__(self, name: str) -> object:
        raise Reached(name)


def client(**settings: object) -> TestClient:
    settings = {"allowed_hosts": "127.0.0.1,localhost,[::1]", **settings}
    app = build_app(ServerSettings(**settings))  # type: ignore[arg-type]
    for dependency in (get_reader, get_writer, get_artifacts):
        app.dependency_overrides[dependency] = Service
    return TestClient(app, base_url="http://127.0.0.1:8080")  # the lifespan does not run: no services


CREATE = "/api/2.0/mlflow/experiments/create"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "10.0.0.1"])
def test_a_foreign_host_name_is_refused_everywhere(host: str) -> None:
    api = client()
    for method, path in (("GET", "/api/v1/experiments"), ("POST", "/api/v1/sql"), ("POST", CREATE)):
        response = api.request(method, path, headers={"Host": host}, json={})
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error_code"] == "PERMISSION_DENIED" and "RUNSTREAM_ALLOWED_HOSTS" in response.text


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080"])
def test_local_host_names_are_served(host: str) -> None:
    assert client().post(CREATE, headers={"Host": host}, json={"name": "x"}).status_code == 418


def test_a_configured_host_is_served() -> None:
    api = client(allowed_hosts="127.0.0.1,tracking.lab,*.corp.example")
    assert api.post(CREATE, headers={"Host": "tracking.lab:80"}, json={"name": "x"}).status_code == 418
    assert api.post(CREATE, headers={"Host": "a.corp.example"}, json={"name": "x"}).status_code == 418
    assert api.post(CREATE, headers={"Host": "corp.example.evil"}, json={}).status_code == 403


def test_a_text_plain_post_from_a_foreign_origin_creates_nothing() -> None:
    response = client().post(CREATE, content=json.dumps({"name": "csrf"}),
                             headers={"Content-Type": "text/plain", "Origin": "https://evil.example"})
    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_a_body_any_page_could_send_is_refused_even_without_origin(content_type: str) -> None:
    response = client().post(CREATE, content=b'{"name": "x"}', headers={"Content-Type": content_type})
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1.evil.example"])
def test_a_json_write_from_a_foreign_origin_is_refused(origin: str) -> None:
    api = client()
    assert api.post(CREATE, json={"name": "x"}, headers={"Origin": origin}).status_code == 403
    put = api.put(f"/api/2.0/mlflow-artifacts/artifacts/1/{'a' * 32}/artifacts/f", content=b"x",
                  headers={"Origin": origin})
    assert put.status_code == 403


def test_this_machines_pages_and_clients_may_write() -> None:
    api = client()
    assert api.post(CREATE, json={"name": "x"}, headers={"Origin": "http://127.0.0.1:8080"}).status_code == 418
    assert api.post(CREATE, json={"name": "x"}, headers={"Origin": "http://localhost:5173"}).status_code == 418
    assert api.post(CREATE, json={"name": "x"}).status_code == 418, "the mlflow client sends no Origin"
    put = api.put(f"/api/2.0/mlflow-artifacts/artifacts/1/{'a' * 32}/artifacts/f.txt", content=b"x",
                  headers={"Content-Type": "text/plain"})
    assert put.status_code == 418, "an artifact upload carries its own media type"
    assert api.get("/api/2.0/mlflow/experiments/get?experiment_id=1",
                   headers={"Origin": "https://evil.example"}).status_code == 418, \
        "reads are not state changes (the browser keeps the answer from the foreign page)"


def test_with_tokens_the_token_is_the_guard() -> None:
    digest = "sha256:" + "0" * 64
    api = client(auth_tokens=SecretStr(json.dumps({digest: ["admin"]})))
    assert api.post(CREATE, json={}, headers={"Host": "evil.example"}).status_code == 401


def test_host_names() -> None:
    assert host_name("[::1]:8080") == "[::1]" and host_name("LocalHost:80") == "localhost"
    assert allowed_host("a.b.example", ["*.b.example"]) and not allowed_host("b.example.org", ["*.b.example"])
    assert allowed_host("anything", ["*"])


class Uploads:
    """The MLflow service with only an artifact store: the upload must be refused before the run is looked up."""

    def __init__(self, root: object) -> None:
        from query_api.artifacts import ArtifactStore

        self.artifacts = ArtifactStore(root, max_bytes=1000)  # type: ignore[arg-type]

    def check_can_log(self, run_id: str, experiment_id: str) -> None:
        raise Reached("check_can_log")


def test_an_upload_over_the_limit_is_a_413_before_anything_is_stored(tmp_path: object) -> None:
    app = build_app(ServerSettings(artifact_max_bytes=1000))
    uploads = Uploads(tmp_path)
    app.dependency_overrides[get_writer] = lambda: uploads
    app.dependency_overrides[get_artifacts] = lambda: uploads.artifacts
    api = TestClient(app, base_url="http://127.0.0.1:8080")
    path = f"/api/2.0/mlflow-artifacts/artifacts/1/{'a' * 32}/artifacts/big.bin"
    response = api.put(path, content=b"x" * 1001)
    assert response.status_code == 413 and response.json()["error_code"] == "RESOURCE_LIMIT_EXCEEDED"
    assert api.put(path, content=b"x" * 1000).status_code == 418, "at the limit it goes on"
    long_name = f"/api/2.0/mlflow-artifacts/artifacts/1/{'a' * 32}/artifacts/{'n' * 300}"
    assert api.put(long_name, content=b"x").status_code == 400
