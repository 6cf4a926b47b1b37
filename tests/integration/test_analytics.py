"""Leaderboards, downsampled curves, comparisons and parallel coordinates over a sweep logged through Kafka."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import BaseModel

from query_api import models
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration
STEPS = 2000
SPIKE_STEP, SPIKE = 1234, 50.0


def _loss(i: int, step: int) -> float:
    return SPIKE if (i == 0 and step == SPIKE_STEP) else (1 + i) / (step + 1) + 0.01 * math.sin(step)


@pytest.fixture(scope="module")
def sweep(stack: Stack) -> dict[str, str]:
    tracker = stack.tracker()
    ids = {}
    for i in range(4):
        params = {"lr": [0.1, 0.01, 0.001, 0.0001][i], "optimizer": "adam" if i % 2 else "sgd", "seed": 7}
        with tracker.start_run("analytics-it", f"t{i}", params=params) as run:
            for step in range(STEPS):
                run.log_metrics({"loss": _loss(i, step), "acc": step / STEPS * (1 - i / 10)}, step=step)
        ids[f"t{i}"] = run.run_id
    with tracker.start_run("analytics-it", "nan-only") as run:
        run.log_metric("loss", math.nan, step=0)
    ids["nan-only"] = run.run_id
    tracker.close()
    stack.wait_projected()
    return ids


def _experiment(stack: Stack) -> str:
    return next(e["experiment_id"] for e in stack.api.get("/api/v1/experiments").json()["experiments"]
                if e["name"] == "analytics-it")


def test_curve_without_max_points_is_complete(stack: Stack, sweep: dict[str, str]) -> None:
    points = stack.api.get(f"/api/v1/runs/{sweep['t1']}/metrics/loss").json()["points"]
    assert len(points) == STEPS and points[0]["timestamp"] > 0


@pytest.mark.parametrize("method", ["lttb", "minmax"])
def test_downsampling_keeps_ends_and_bounds(stack: Stack, sweep: dict[str, str], method: str) -> None:
    url = f"/api/v1/runs/{sweep['t0']}/metrics/loss?max_points=100&method={method}"
    points = stack.api.get(url).json()["points"]
    assert 2 < len(points) <= 100
    steps = [p["step"] for p in points]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == STEPS - 1
    assert points[0]["value"] == _loss(0, 0) and points[-1]["value"] == _loss(0, STEPS - 1)
    assert all(p["timestamp"] is not None for p in points)
    if method == "minmax":
        assert {"step": SPIKE_STEP, "value": SPIKE} in [{k: p[k] for k in ("step", "value")} for p in points]


def test_minmax_keeps_spikes_in_every_bucket(stack: Stack, sweep: dict[str, str]) -> None:
    full = stack.api.get(f"/api/v1/runs/{sweep['t2']}/metrics/loss").json()["points"]
    small = stack.api.get(f"/api/v1/runs/{sweep['t2']}/metrics/loss?max_points=50&method=minmax").json()["points"]
    assert max(p["value"] for p in small) == max(p["value"] for p in full)
    assert min(p["value"] for p in small) == min(p["value"] for p in full)


def test_step_range_and_bad_curve_requests(stack: Stack, sweep: dict[str, str]) -> None:
    base = f"/api/v1/runs/{sweep['t1']}/metrics/loss"
    points = stack.api.get(f"{base}?step_min=100&step_max=199").json()["points"]
    assert [p["step"] for p in points] == list(range(100, 200))
    zoomed = stack.api.get(f"{base}?step_min=100&step_max=1099&max_points=20&method=minmax").json()["points"]
    assert len(zoomed) <= 20 and zoomed[0]["step"] == 100 and zoomed[-1]["step"] == 1099
    for query in ("max_points=1", "max_points=x", "method=cubic", "step_min=5&step_max=1"):
        response = stack.api.get(f"{base}?{query}")
        assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE", query


def test_leaderboard(stack: Stack, sweep: dict[str, str]) -> None:
    experiment = _experiment(stack)
    board = stack.api.get(f"/api/v1/experiments/{experiment}/leaderboard?metric=loss&order=asc&k=3").json()
    assert [r["name"] for r in board["runs"]] == ["t0", "t1", "t2"]
    assert board["runs"][0]["rank"] == 1 and board["runs"][0]["params"]["lr"] == "0.1"
    assert board["runs"][0]["value"] == _loss(0, STEPS - 1)
    top = stack.api.get(f"/api/v1/experiments/{experiment}/leaderboard?metric=loss&order=desc&agg=max&k=1").json()
    assert top["runs"][0]["name"] == "t0" and top["runs"][0]["value"] == SPIKE
    everyone = stack.api.get(f"/api/v1/experiments/{experiment}/leaderboard?metric=loss&k=100").json()["runs"]
    assert "nan-only" not in [r["name"] for r in everyone], "NaN never ranks"
    assert stack.api.get(f"/api/v1/experiments/{experiment}/leaderboard?metric=loss&agg=median").status_code == 400
    assert stack.api.get("/api/v1/experiments/nope/leaderboard?metric=loss").status_code == 404


def test_parallel_coordinates(stack: Stack, sweep: dict[str, str]) -> None:
    experiment = _experiment(stack)
    url = f"/api/v1/experiments/{experiment}/parallel-coordinates?params=lr,optimizer,missing&metric=loss"
    body = stack.api.get(url).json()
    assert body["dimensions"] == [{"param": "lr", "type": "numeric"}, {"param": "optimizer", "type": "categorical"},
                                  {"param": "missing", "type": "categorical"}]
    rows = {r["name"]: r for r in body["runs"]}
    assert len(rows) == 5
    assert rows["t3"]["params"] == {"lr": 0.0001, "optimizer": "adam"}
    assert rows["t3"]["metric"] == _loss(3, STEPS - 1)
    assert rows["nan-only"]["params"] == {} and rows["nan-only"]["metric"] == "NaN"


def test_compare(stack: Stack, sweep: dict[str, str]) -> None:
    ids = [sweep["t0"], sweep["t1"], sweep["t2"]]
    body = stack.api.post("/api/v1/compare", json={"run_ids": ids, "metric_keys": ["loss", "acc"],
                                                   "max_points": 200}).json()
    assert [r["run_id"] for r in body["runs"]] == ids
    params = {p["key"]: p for p in body["params"]}
    assert params["lr"]["differs"] and params["optimizer"]["differs"] and not params["seed"]["differs"]
    assert params["lr"]["values"][sweep["t1"]] == "0.01"
    for run_id in ids:
        for key in ("loss", "acc"):
            curve = body["curves"][run_id][key]
            assert len(curve) == 200 and curve[0]["step"] == 0 and curve[-1]["step"] == STEPS - 1
    assert {r["experiment_name"] for r in body["runs"]} == {"analytics-it"}
    assert {r["name"] for r in body["runs"]} == {"t0", "t1", "t2"}
    assert body["runs"][1]["metrics"]["loss"]["last"] == _loss(1, STEPS - 1)
    # without metric_keys: every key of the runs, the same runs and params (the one-after-another path)
    every = stack.api.post("/api/v1/compare", json={"run_ids": ids, "max_points": 200}).json()
    assert every["runs"] == body["runs"] and every["params"] == body["params"]
    assert every["curves"] == body["curves"]
    response = stack.api.post("/api/v1/compare", json={"run_ids": [ids[0], "f" * 32]})
    assert response.status_code == 404 and "f" * 32 in response.json()["message"]
    response = stack.api.post("/api/v1/compare", json={"run_ids": ["f" * 32]})
    assert response.status_code == 404
    response = stack.api.post("/api/v1/compare", json={"run_ids": ["a" * 32] * 101})
    assert response.status_code == 400


def test_responses_match_their_documented_models(stack: Stack, sweep: dict[str, str]) -> None:
    """Routes return JSON directly for speed; their OpenAPI models must still describe it."""
    from query_api import models

    experiment = _experiment(stack)
    checks = [
        (models.Run, stack.api.get(f"/api/v1/runs/{sweep['nan-only']}")),
        (models.RunList, stack.api.post("/api/v1/runs/search", json={"experiment_ids": [experiment]})),
        (models.MetricHistory, stack.api.get(f"/api/v1/runs/{sweep['t0']}/metrics/loss?max_points=10")),
        (models.RunHistory, stack.api.get(f"/api/v1/runs/{sweep['t0']}/history")),
        (models.ExperimentList, stack.api.get("/api/v1/experiments")),
        (models.Leaderboard, stack.api.get(f"/api/v1/experiments/{experiment}/leaderboard?metric=loss")),
        (models.ParallelCoordinates,
         stack.api.get(f"/api/v1/experiments/{experiment}/parallel-coordinates?params=lr&metric=loss")),
        (models.Comparison, stack.api.post("/api/v1/compare", json={"run_ids": [sweep["t0"], sweep["nan-only"]]})),
    ]
    for model, response in checks:
        assert response.status_code == 200, (model, response.text)
        model.model_validate(response.json())


def _api_models() -> dict[str, list[type[BaseModel]]]:
    """Every pydantic model of query_api, by name."""
    found: dict[str, list[type[BaseModel]]] = {}
    pending = list(BaseModel.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("query_api"):
            found.setdefault(cls.__name__, []).append(cls)
    return found


def _declared_model(app: Any, method: str, template: str) -> type[BaseModel]:
    """The response model OpenAPI publishes for a route (by the schema's name, among query_api's models)."""
    answer = app.openapi()["paths"][template][method.lower()]["responses"]["200"]
    name = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    found = _api_models().get(name, [])
    assert len(found) == 1, f"{method} {template} declares {name}: {found}"
    return found[0]


def _conforms(model: type[BaseModel], body: Any) -> None:
    model.model_validate(body)
    fields = {f.alias or name for name, f in model.model_fields.items()}
    assert set(body) <= fields, f"{model.__name__} does not declare {set(body) - fields}"


def test_every_v1_answer_is_the_shape_openapi_declares(stack: Stack, sweep: dict[str, str]) -> None:
    experiment, run = _experiment(stack), sweep["t1"]
    ids = {"experiment_id": experiment, "run_id": run, "key": "loss"}
    calls: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("GET", "/api/v1/experiments", "", None),
        ("GET", "/api/v1/runs/{run_id}", "", None),
        ("POST", "/api/v1/runs/search", "", {"experiment_ids": [experiment], "max_results": 2}),
        ("GET", "/api/v1/runs/{run_id}/metrics/{key}", "?max_points=50", None),
        ("GET", "/api/v1/runs/{run_id}/history", "", None),
        ("GET", "/api/v1/runs/{run_id}/artifacts", "", None),
        ("GET", "/api/v1/experiments/{experiment_id}/leaderboard", "?metric=loss&k=3", None),
        ("GET", "/api/v1/experiments/{experiment_id}/parallel-coordinates", "?metric=loss&params=lr", None),
        ("POST", "/api/v1/compare", "", {"run_ids": [sweep["t0"], run], "metric_keys": ["loss"]}),
        ("POST", "/api/v1/sql", "", {"query": "SELECT count() AS n FROM runs"}),
    ]
    for method, template, query, body in calls:
        response = stack.api.request(method, template.format(**ids) + query, json=body)
        assert response.status_code == 200, (template, response.text)
        _conforms(_declared_model(stack.api.app, method, template), response.json())
        if template.endswith("/search"):
            for item in response.json()["runs"]:
                _conforms(models.Run, item)


def test_an_experiment_or_run_not_found_is_asked_again_once_it_arrives(stack: Stack, sweep: dict[str, str]) -> None:
    """The read side remembers only what exists (query_api/facts.py): a 404 is never remembered."""
    from schemas.ids import experiment_id_for

    experiment_id = experiment_id_for("analytics-late")
    leaderboard = f"/api/v1/experiments/{experiment_id}/leaderboard?metric=loss"
    search = {"experiment_ids": [experiment_id]}
    assert stack.api.get(leaderboard).status_code == 404
    assert stack.api.post("/api/v1/runs/search", json=search).status_code == 404
    tracker = stack.tracker()
    with tracker.start_run("analytics-late", "late") as run:
        run.log_metrics({"loss": 0.5}, step=0)
    assert stack.api.get(f"/api/v1/runs/{run.run_id}/metrics/loss").status_code in (200, 404)  # maybe not yet
    tracker.close()
    stack.wait_projected()
    assert [r["run_id"] for r in stack.api.get(leaderboard).json()["runs"]] == [run.run_id]
    assert [r["name"] for r in stack.api.post("/api/v1/runs/search", json=search).json()["runs"]] == ["late"]
    points = stack.api.get(f"/api/v1/runs/{run.run_id}/metrics/loss").json()["points"]
    assert [(p["step"], p["value"]) for p in points] == [(0, 0.5)]
    # remembered now, and still right: the run's experiment and the experiment's existence
    assert stack.api.get(f"/api/v1/runs/{run.run_id}/metrics/loss").json()["points"] == points
    assert stack.api.get(leaderboard).status_code == 200
