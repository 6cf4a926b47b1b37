"""The API's edges without services: JSON rendering, lag arithmetic, settings, input validation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from query_api import deps
from query_api.health import projector_lag
from query_api.jsonresponse import JSONResponse, dumps, finite_json
from runstream.local.kafka import BrokerConfig, server_properties
from runstream.settings import ServerSettings
from runstream.stack import build_app


def test_non_finite_floats_become_mlflow_strings_and_strings_stay_untouched() -> None:
    content = {"a": [math.nan, math.inf, -math.inf, 1.5], "s": "NaN", "t": 'say "Infinity"', "n": {"x": math.nan}}
    expected = {"a": ["NaN", "Infinity", "-Infinity", 1.5], "s": "NaN", "t": 'say "Infinity"', "n": {"x": "NaN"}}
    assert json.loads(dumps(content)) == expected
    assert finite_json(content) == expected
    assert json.loads(JSONResponse(content).body) == expected


def test_projector_lag() -> None:
    assert projector_lag({0: 10, 1: 5}, {0: 9, 1: 4}) == 0
    assert projector_lag({0: 10, 1: 5}, {0: 4}) == 5 + 5
    assert projector_lag({0: 0}, {}) == 0


def test_broker_configuration(tmp_path: Path) -> None:
    text = server_properties(BrokerConfig(home=tmp_path, port=19092, controller_port=19093))
    lines = set(text.splitlines())
    assert {"process.roles=broker,controller", "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
            "auto.create.topics.enable=false", f"log.dirs={tmp_path / 'data'}"} <= lines


def test_a_configured_bootstrap_means_no_local_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert ServerSettings().local_kafka
    assert ServerSettings(kafka_port=9999).with_local_kafka().store.kafka_bootstrap_servers == "127.0.0.1:9999"
    monkeypatch.setenv("RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    settings = ServerSettings()
    assert not settings.local_kafka and settings.with_local_kafka().store.kafka_bootstrap_servers == "kafka:9092"
    with pytest.raises(ValueError):
        ServerSettings(clickhouse_database="x; DROP")


class Untouchable:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"ClickHouse must not be asked ({name}) for invalid input")


@pytest.fixture
def api() -> TestClient:
    app = build_app(ServerSettings())
    app.dependency_overrides[deps.get_clickhouse] = Untouchable
    return TestClient(app)  # the lifespan does not run: no services


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/v1/runs/abc", None),
    ("GET", "/api/v1/runs/ABCDEF0123456789ABCDEF0123456789", None),
    ("POST", "/api/v1/runs/search", {}),
    ("POST", "/api/v1/runs/search", {"experiment_ids": ["x"], "max_results": 0}),
    ("POST", "/api/v1/runs/search", {"experiment_ids": ["x"], "max_results": 50_001}),
    ("POST", "/api/v1/runs/search", {"experiment_ids": ["x"], "surprise": 1}),
    ("POST", "/api/v1/runs/search", {"experiment_ids": ["x"], "run_view": "everything"}),
    ("POST", "/api/v1/runs/search", {"experiment_ids": ["x"], "filter": "metrics.a <"}),
    ("POST", "/api/v1/runs/search", {"experiment_ids": ["x"], "order_by": ["metrics.a sideways"]}),
    ("GET", "/api/v1/runs/" + "a" * 32 + "/metrics/loss?max_points=1", None),
    ("GET", "/api/v1/runs/" + "a" * 32 + "/metrics/loss?method=spline", None),
    ("POST", "/api/v1/compare", {"run_ids": []}),
    ("POST", "/api/v1/compare", {"run_ids": ["a" * 32], "max_points": 1}),
    ("GET", "/api/v1/experiments/e/leaderboard", None),
    ("GET", "/api/v1/experiments/e/leaderboard?metric=x&k=0", None),
    ("GET", "/api/v1/experiments/e/parallel-coordinates?metric=x", None),
])
def test_bad_input_is_a_400_json_error_before_any_query(api: TestClient, method: str, path: str, body: object) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["error_code"] == "INVALID_PARAMETER_VALUE" and payload["message"]


def test_unknown_routes_answer_json(api: TestClient) -> None:
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    response = api.delete("/api/v1/experiments")
    assert response.status_code == 405 and response.json()["error_code"] == "METHOD_NOT_ALLOWED"


def test_cluster_ids_never_look_like_options() -> None:
    from runstream.local.kafka import new_cluster_id

    ids = [new_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
