"""The API refuses bad input with a 400 JSON error before asking ClickHouse anything.

The app is built without running its lifespan (no Kafka, no ClickHouse); ClickHouse is replaced by an object
that fails the test if any of its methods is called.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from query_api import deps
from runstream.settings import ServerSettings
from runstream.stack import build_app

RUN_ID = "0123456789abcdef0123456789abcdef"


class Untouchable:
    """A ClickHouse client that must not be used: every method call fails the test."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def method(*args: object, **kwargs: object) -> None:
            self.asked.append(name)
            raise AssertionError(f"ClickHouse was asked ({name}) for input that should have been refused")

        return method


@pytest.fixture
def untouchable() -> Untouchable:
    return Untouchable()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, untouchable: Untouchable) -> Iterator[TestClient]:
    for name in ("RUNSTREAM_AUTH_TOKENS", "RUNSTREAM_AUTH_TOKENS_FILE"):
        monkeypatch.delenv(name, raising=False)
    app = build_app(ServerSettings())
    app.dependency_overrides[deps.get_clickhouse] = lambda: untouchable
    # Not entered as a context manager: the lifespan (connect, migrate, start the projector) does not run.
    yield TestClient(app)
    assert untouchable.asked == []


def assert_error(response: Any, status: int, error_code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == error_code
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_a_malformed_run_id_is_a_400(api: TestClient) -> None:
    body = assert_error(api.get("/api/v1/runs/abc"), 400, "INVALID_PARAMETER_VALUE")
    assert "run_id" in body["message"]


@pytest.mark.parametrize("run_id", [
    RUN_ID.upper(), RUN_ID[:-1], RUN_ID + "0", "g" * 32, RUN_ID[:-1] + "%0A", RUN_ID + "%0A",
])
def test_run_ids_must_be_32_lowercase_hex(api: TestClient, run_id: str) -> None:
    assert_error(api.get(f"/api/v1/runs/{run_id}"), 400, "INVALID_PARAMETER_VALUE")


def test_search_needs_experiments(api: TestClient) -> None:
    body = assert_error(api.post("/api/v1/runs/search", json={}), 400, "INVALID_PARAMETER_VALUE")
    assert "experiment_ids or experiment_names" in body["message"]


@pytest.mark.parametrize("max_results", [0, -1, 50_001, "many"])
def test_search_max_results_is_bounded(api: TestClient, max_results: object) -> None:
    body = assert_error(api.post("/api/v1/runs/search", json={"experiment_ids": ["x"], "max_results": max_results}),
                        400, "INVALID_PARAMETER_VALUE")
    assert "max_results" in body["message"]


def test_search_refuses_unknown_fields(api: TestClient) -> None:
    body = assert_error(api.post("/api/v1/runs/search", json={"experiment_ids": ["x"], "surprise": 1}),
                        400, "INVALID_PARAMETER_VALUE")
    assert "surprise" in body["message"]


@pytest.mark.parametrize("body", [
    {"experiment_ids": ["x"], "run_view": "everything"},
    {"experiment_ids": "x"},
    {"experiment_ids": ["x"], "filter": "metrics.a <"},
    {"experiment_ids": ["x"], "filter": "nonsense"},
    {"experiment_ids": ["x"], "order_by": ["metrics.a sideways"]},
    {"experiment_ids": ["x"], "order_by": ["metrics.a"] * 21},
    [],
])
def test_other_bad_searches_are_400s(api: TestClient, body: object) -> None:
    assert_error(api.post("/api/v1/runs/search", json=body), 400, "INVALID_PARAMETER_VALUE")


def test_a_search_body_that_is_not_json_is_a_400(api: TestClient) -> None:
    response = api.post("/api/v1/runs/search", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("path", [
    f"/api/v1/runs/{RUN_ID}?as_of=yesterday",
    f"/api/v1/runs/{RUN_ID}/diff?to=2026-01-01T00:00:00Z",
    f"/api/v1/runs/{RUN_ID}/diff?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
    f"/api/v1/runs/{RUN_ID}/metrics/loss?max_points=1",
    f"/api/v1/runs/{RUN_ID}/metrics/loss?method=spline",
    f"/api/v1/runs/{RUN_ID}/metrics/loss?step_min=5&step_max=4",
    f"/api/v1/runs/{RUN_ID}/metrics/loss?step_min={2**63}",
    f"/api/v1/runs/{RUN_ID}/history?types=Bogus",
    f"/api/v1/runs/{RUN_ID}/history?limit=0",
    f"/api/v1/runs/{RUN_ID}/history?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
    "/api/v1/runs/abc/history",
    "/api/v1/experiments/e/leaderboard",
    "/api/v1/experiments/e/leaderboard?metric=x&k=0",
    "/api/v1/experiments/e/leaderboard?metric=x&order=sideways",
    "/api/v1/experiments/e/parallel-coordinates?metric=x",
    "/api/v1/experiments/e/parallel-coordinates?metric=x&params=,,",
])
def test_bad_query_parameters_are_400s(api: TestClient, path: str) -> None:
    assert_error(api.get(path), 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("body", [
    {"run_ids": []},
    {"run_ids": [RUN_ID], "max_points": 1},
    {"run_ids": [RUN_ID] * 101},
    {"run_ids": [RUN_ID], "extra": True},
])
def test_bad_compare_requests_are_400s(api: TestClient, body: object) -> None:
    assert_error(api.post("/api/v1/compare", json=body), 400, "INVALID_PARAMETER_VALUE")


def test_an_unknown_route_is_a_404_json_error(api: TestClient) -> None:
    body = assert_error(api.get("/api/v1/nothing-here"), 404, "ENDPOINT_NOT_FOUND")
    assert body["message"] == "Not Found"


def test_a_wrong_method_is_a_405_json_error(api: TestClient) -> None:
    assert_error(api.delete("/api/v1/experiments"), 405, "METHOD_NOT_ALLOWED")


def test_a_valid_request_does_reach_clickhouse(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control for every test above: the fake is wired in, so a well-formed request asks it."""
    monkeypatch.delenv("RUNSTREAM_AUTH_TOKENS", raising=False)
    monkeypatch.delenv("RUNSTREAM_AUTH_TOKENS_FILE", raising=False)
    fake = Untouchable()
    app = build_app(ServerSettings())
    app.dependency_overrides[deps.get_clickhouse] = lambda: fake
    with pytest.raises(AssertionError, match="ClickHouse was asked"):
        TestClient(app).get(f"/api/v1/runs/{RUN_ID}")
    assert fake.asked == ["query"]
