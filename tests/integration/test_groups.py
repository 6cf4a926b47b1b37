"""Grouped curves and leaderboards equal the same statistics computed here with numpy over each run's points."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration
LRS = ["0.1", "0.01", "0.001"]
SEEDS = 3


def _steps(seed: int, rng: random.Random) -> list[int]:
    """Misaligned steps: every seed starts and strides differently, some steps are logged twice."""
    steps = list(range(seed, 240 + 7 * seed, 1 + seed))
    return sorted(steps + rng.sample(steps, 5))


@pytest.fixture(scope="module")
def sweep(stack: Stack) -> dict[str, Any]:
    rng = random.Random(1234)
    tracker = stack.tracker()
    runs: dict[str, dict[str, str]] = {}
    for lr in LRS:
        for seed in range(SEEDS):
            opt = "adam" if seed % 2 else "sgd"
            with tracker.start_run("groups-it", f"lr{lr}-s{seed}", params={"lr": lr, "seed": seed, "opt": opt},
                                   tags={"team": "vision"} if seed else {}) as run:
                for step in _steps(seed, rng):
                    loss = float(lr) * 10 / (step + 1) + rng.gauss(0, 0.01)
                    if rng.random() < 0.05:
                        loss = math.nan
                    run.log_metrics({"loss": loss, "acc": rng.random()}, step=step)
                if lr == "0.01" and seed == 2:
                    run.log_metric("loss", math.nan, step=260)  # its last value is NaN
            runs[run.run_id] = {"lr": lr, "seed": str(seed), "opt": opt}
    with tracker.start_run("groups-it", "alone", params={"lr": "1.0", "seed": 0, "opt": "sgd"}) as run:
        for step in range(0, 300, 3):
            run.log_metrics({"loss": 1 / (step + 1), "acc": 0.5}, step=step)
        run.log_metric("loss", math.inf, step=151)  # an infinite point makes its bucket's statistics infinite
    runs[run.run_id] = {"lr": "1.0", "seed": "0", "opt": "sgd"}
    tracker.close()
    stack.wait_projected()
    experiment = next(e["experiment_id"] for e in stack.api.get("/api/v1/experiments").json()["experiments"]
                      if e["name"] == "groups-it")
    return {"experiment": experiment, "runs": runs}


def _num(x: Any) -> Any:
    """A JSON number, or the API's spelling of a non-finite one."""
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(x, x) if isinstance(x, str) else x


def _points(stack: Stack, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    points = stack.api.get(f"/api/v1/runs/{run_id}/metrics/{key}").json()["points"]
    values = [float(_num(p["value"])) for p in points]
    return np.array([p["step"] for p in points], dtype=np.int64), np.array(values)


def _expected_curves(stack: Stack, groups: dict[tuple[str, ...], list[str]], key: str, max_points: int,
                     step_min: int | None = None, step_max: int | None = None) -> dict[tuple[str, ...], dict]:
    """The statistics the API promises, computed independently: run means per bucket, then across runs."""
    points = {}
    for run_ids in groups.values():
        for run_id in run_ids:
            steps, values = _points(stack, run_id, key)
            keep = (steps >= (step_min if step_min is not None else -(2**63))) & (
                steps <= (step_max if step_max is not None else 2**63 - 1))
            points[run_id] = (steps[keep], values[keep])
    every = np.concatenate([s for s, _ in points.values()])
    lo, hi = int(every.min()), int(every.max())
    width = 1 if len(np.unique(every)) <= max_points else -(-(hi - lo + 1) // max_points)
    first_step: dict[int, int] = {}
    for s in every:
        b = (int(s) - lo) // width
        first_step[b] = min(first_step.get(b, int(s)), int(s))
    out = {}
    for gkey, run_ids in groups.items():
        per_bucket: dict[int, list[float]] = {}
        nans: dict[int, int] = {}
        for run_id in run_ids:
            steps, values = points[run_id]
            buckets = (steps - lo) // width
            for b in np.unique(buckets):
                vals = values[buckets == b]
                nans[int(b)] = nans.get(int(b), 0) + int(np.isnan(vals).sum())
                per_bucket.setdefault(int(b), [])
                if (~np.isnan(vals)).any():
                    per_bucket[int(b)].append(float(np.mean(vals[~np.isnan(vals)])))
        series: dict[str, list] = {k: [] for k in ("step", "mean", "std", "min", "max", "median", "count", "nan_count")}
        for b in sorted(per_bucket):
            v = np.array(per_bucket[b])
            series["step"].append(first_step[b])
            series["mean"].append(float(v.mean()) if len(v) else None)
            series["std"].append(float(v.std(ddof=1)) if len(v) > 1 else None)
            series["min"].append(float(v.min()) if len(v) else None)
            series["max"].append(float(v.max()) if len(v) else None)
            series["median"].append(float(np.median(v)) if len(v) else None)
            series["count"].append(len(v))
            series["nan_count"].append(nans[b])
        out[gkey] = series
    return out


def _same(actual: dict, expected: dict) -> None:
    assert actual["step"] == expected["step"]
    assert actual["count"] == expected["count"] and actual["nan_count"] == expected["nan_count"]
    for stat in ("mean", "std", "min", "max", "median"):
        a, e = [_num(x) for x in actual[stat]], expected[stat]
        assert [x is None for x in a] == [x is None for x in e], stat
        assert np.allclose([x for x in a if x is not None], [x for x in e if x is not None], rtol=1e-9), stat


def _by(sweep: dict[str, Any], *fields: str, where: Any = None) -> dict[tuple[str, ...], list[str]]:
    groups: dict[tuple[str, ...], list[str]] = {}
    for run_id, p in sorted(sweep["runs"].items()):
        if where is None or where(p):
            groups.setdefault(tuple(p[f] for f in fields), []).append(run_id)
    return groups


@pytest.mark.parametrize("max_points", [40, 1000])
def test_grouped_curves_equal_numpy(stack: Stack, sweep: dict[str, Any], max_points: int) -> None:
    body = {"experiment_ids": [sweep["experiment"]], "group_by": ["params.lr"], "metric_keys": ["loss", "acc"],
            "max_points": max_points}
    response = stack.api.post("/api/v1/groups/curves", json=body)
    assert response.status_code == 200, response.text
    groups = response.json()["groups"]
    expected_groups = _by(sweep, "lr")
    # Numeric keys in numeric order, each group with its runs.
    assert [g["key"] for g in groups] == [{"params.lr": lr} for lr in ["0.001", "0.01", "0.1", "1.0"]]
    assert {(g["key"]["params.lr"],): sorted(g["run_ids"]) for g in groups} == expected_groups
    for key in ("loss", "acc"):
        expected = _expected_curves(stack, expected_groups, key, max_points)
        for g in groups:
            _same(g["metrics"][key], expected[(g["key"]["params.lr"],)])
            assert len(g["metrics"][key]["step"]) <= max_points
    alone = groups[-1]["metrics"]["loss"]
    assert set(alone["std"]) == {None} and set(alone["count"]) == {1} and "Infinity" in alone["mean"]
    if max_points == 1000:  # every step its own bucket: the misaligned seeds meet only where their steps do
        assert groups[0]["metrics"]["loss"]["step"][:4] == [0, 1, 2, 3]


def test_grouped_curves_filter_zoom_and_two_keys(stack: Stack, sweep: dict[str, Any]) -> None:
    body = {"experiment_ids": [sweep["experiment"]], "group_by": ["params.opt", "params.lr"], "filter":
            "params.lr != '1.0'", "metric_keys": ["loss"], "max_points": 25, "step_min": 50, "step_max": 199}
    groups = stack.api.post("/api/v1/groups/curves", json=body).json()["groups"]
    expected_groups = _by(sweep, "opt", "lr", where=lambda p: p["lr"] != "1.0")
    assert {tuple(g["key"].values()): sorted(g["run_ids"]) for g in groups} == expected_groups
    expected = _expected_curves(stack, expected_groups, "loss", 25, 50, 199)
    for g in groups:
        _same(g["metrics"]["loss"], expected[tuple(g["key"].values())])
        assert g["metrics"]["loss"]["step"][0] >= 50 and g["metrics"]["loss"]["step"][-1] <= 199


def test_group_by_missing_tag_and_attribute(stack: Stack, sweep: dict[str, Any]) -> None:
    body = {"experiment_ids": [sweep["experiment"]], "group_by": ["tags.team", "attributes.status"],
            "metric_keys": ["acc"], "max_points": 10}
    groups = stack.api.post("/api/v1/groups/curves", json=body).json()["groups"]
    keys = [g["key"] for g in groups]
    assert keys == [{"tags.team": "vision", "attributes.status": "FINISHED"},
                    {"tags.team": None, "attributes.status": "FINISHED"}]
    assert len(groups[0]["run_ids"]) == 6 and len(groups[1]["run_ids"]) == 4


@pytest.mark.parametrize(("summary", "statistic", "order"),
                         [("last", "mean", "asc"), ("min", "median", "desc"), ("max", "mean", "desc")])
def test_grouped_leaderboard_equals_numpy(stack: Stack, sweep: dict[str, Any], summary: str, statistic: str,
                                          order: str) -> None:
    body = {"experiment_ids": [sweep["experiment"]], "group_by": ["params.lr"], "metric_key": "loss",
            "summary": summary, "statistic": statistic, "order": order}
    response = stack.api.post("/api/v1/groups/leaderboard", json=body)
    assert response.status_code == 200, response.text
    ranked = response.json()["groups"]
    expected = {}
    for (lr,), run_ids in _by(sweep, "lr").items():
        values, nans = [], 0
        for run_id in run_ids:
            steps, vals = _points(stack, run_id, "loss")
            finite = vals[~np.isnan(vals)]
            v = {"last": vals[-1], "min": finite.min() if len(finite) else math.nan,
                 "max": finite.max() if len(finite) else math.nan}[summary]
            if math.isnan(v):
                nans += 1
            else:
                values.append(float(v))
        a = np.array(values)
        expected[lr] = {"mean": a.mean(), "median": np.median(a), "std": a.std(ddof=1) if len(a) > 1 else None,
                        "min": a.min(), "max": a.max(), "count": len(a), "nan_count": nans, "run_ids": run_ids}
    order_keys = sorted(expected, key=lambda lr: expected[lr][statistic], reverse=order == "desc")
    assert [g["key"]["params.lr"] for g in ranked] == order_keys
    for g in ranked:
        e = expected[g["key"]["params.lr"]]
        assert sorted(g["run_ids"]) == e["run_ids"] and g["count"] == e["count"] and g["nan_count"] == e["nan_count"]
        for stat in ("mean", "median", "min", "max", "std"):
            assert (g[stat] is None) == (e[stat] is None)
            if e[stat] is not None:
                assert math.isclose(_num(g[stat]), e[stat], rel_tol=1e-9), stat
    if summary == "last":
        assert next(g for g in ranked if g["key"]["params.lr"] == "0.01")["nan_count"] == 1


@pytest.mark.parametrize(("change", "status", "needle"), [
    ({"group_by": ["metrics.loss"]}, 400, "not metrics"),
    ({"group_by": ["params.lr DESC"]}, 400, "ASC/DESC"),
    ({"group_by": ["params.lr", "params.lr"]}, 400, "twice"),
    ({"filter": "params.lr >"}, 400, "ends too early"),
    ({"experiment_ids": ["424242"]}, 404, "no experiment"),
    ({"max_points": 1}, 400, "max_points"),
    ({"step_min": 10, "step_max": 5}, 400, "step_min"),
])
def test_bad_group_requests(stack: Stack, sweep: dict[str, Any], change: dict, status: int, needle: str) -> None:
    body = {"experiment_ids": [sweep["experiment"]], "group_by": ["params.lr"], "metric_keys": ["loss"], **change}
    response = stack.api.post("/api/v1/groups/curves", json=body)
    assert response.status_code == status, response.text
    assert needle in response.json()["message"]


def test_no_matching_runs_and_unknown_metric(stack: Stack, sweep: dict[str, Any]) -> None:
    base = {"experiment_ids": [sweep["experiment"]], "group_by": ["params.lr"]}
    none = stack.api.post("/api/v1/groups/curves", json={**base, "filter": "params.lr = 'x'", "metric_keys": ["loss"]})
    assert none.json() == {"groups": []}
    unknown = stack.api.post("/api/v1/groups/curves", json={**base, "metric_keys": ["nope"]}).json()["groups"]
    assert len(unknown) == 4 and all(g["metrics"]["nope"]["step"] == [] for g in unknown)
    board = stack.api.post("/api/v1/groups/leaderboard", json={**base, "metric_key": "nope"}).json()["groups"]
    assert [g["count"] for g in board] == [0, 0, 0, 0] and all(g["mean"] is None for g in board)
