"""A sweep logged with the SDK lands in ClickHouse and comes back through the API, exactly."""

from __future__ import annotations

import math
import random

import pytest

from tests.integration.conftest import Stack, wait_for

pytestmark = pytest.mark.integration

RUNS, STEPS = 8, 300
SPECIAL = {7: math.nan, 8: math.inf, 9: -math.inf}


def _series(run: int, key: str) -> list[float]:
    rng = random.Random(f"{run}-{key}")
    values = [rng.uniform(0, 2) for _ in range(STEPS)]
    if key == "loss":
        for step, value in SPECIAL.items():
            values[step] = value
    return values


def _summary(values: list[float]) -> dict[str, float | int]:
    finite = [v for v in values if not math.isnan(v)]
    return {"last": values[-1], "min": min(finite), "max": max(finite), "count": len(values), "last_step": STEPS - 1}


@pytest.fixture(scope="module")
def sweep(stack: Stack) -> dict[str, dict]:
    """Log the sweep once for the module: run name -> expected shape."""
    expected: dict[str, dict] = {}
    tracker = stack.tracker(metrics_batch_points=250)
    with tracker.start_run("it-sweep", "parent", params={"sweep": "lr"}) as parent:
        for i in range(RUNS):
            params = {"lr": 10 ** -(i % 4 + 1), "batch_size": 32 * (i + 1)}
            with tracker.start_run("it-sweep", f"trial-{i}", params=params, tags={"team": "vision"},
                                   parent_run_id=parent.run_id) as run:
                series = {key: _series(i, key) for key in ("loss", "acc", "lr/actual")}
                for step in range(STEPS):
                    run.log_metrics({key: values[step] for key, values in series.items()}, step=step)
                run.set_tag("stage", "done")
            expected[run.name] = {
                "run_id": run.run_id, "params": {k: str(v) for k, v in params.items()},
                "tags": {"team": "vision", "stage": "done"}, "status": "FINISHED", "series": series,
            }
    with pytest.raises(RuntimeError), tracker.start_run("it-sweep", "crashed") as crashed:
        crashed.log_metric("loss", 1.5, step=0)
        raise RuntimeError("training diverged")
    expected["parent"] = {"run_id": parent.run_id, "params": {"sweep": "lr"}, "tags": {}, "status": "FINISHED",
                          "series": {}}
    expected["crashed"] = {"run_id": crashed.run_id, "params": {}, "tags": {}, "status": "FAILED",
                           "series": {"loss": [1.5]}}
    assert tracker.flush(30) == 0
    tracker.close()
    stack.wait_projected()
    return expected


def test_experiment_lists_every_run(stack: Stack, sweep: dict[str, dict]) -> None:
    experiments = stack.api.get("/api/v1/experiments").json()["experiments"]
    assert [(e["name"], e["run_count"]) for e in experiments] == [("it-sweep", RUNS + 2)]


def test_search_returns_every_run_with_exact_summaries(stack: Stack, sweep: dict[str, dict]) -> None:
    response = stack.api.post("/api/v1/runs/search", json={"experiment_names": ["it-sweep"], "max_results": 100})
    assert response.status_code == 200
    runs = {r["name"]: r for r in response.json()["runs"]}
    assert set(runs) == set(sweep)
    parent_id = sweep["parent"]["run_id"]
    for name, want in sweep.items():
        got = runs[name]
        assert got["run_id"] == want["run_id"]
        assert got["status"] == want["status"]
        assert got["params"] == want["params"]
        assert got["tags"] == want["tags"]
        assert got["experiment_name"] == "it-sweep"
        assert got["end_time"] is not None and got["start_time"] <= got["end_time"]
        if name.startswith("trial-"):
            assert got["parent_run_id"] == parent_id
        assert set(got["metrics"]) == set(want["series"])
        for key, values in want["series"].items():
            summary = got["metrics"][key]
            expect = _summary(values) if len(values) > 1 else {"last": 1.5, "min": 1.5, "max": 1.5, "count": 1,
                                                                "last_step": 0}
            assert summary == _jsonish(expect), (name, key)


def _jsonish(summary: dict) -> dict:
    return {k: ({"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(v)] if isinstance(v, float)
                and not math.isfinite(v) else v) for k, v in summary.items()}


def test_metric_points_come_back_exactly_with_nan_and_infinities(stack: Stack, sweep: dict[str, dict]) -> None:
    want = sweep["trial-3"]
    response = stack.api.get(f"/api/v1/runs/{want['run_id']}/metrics/loss")
    assert response.status_code == 200
    assert '"value":"NaN"' in response.text and '"value":"Infinity"' in response.text
    assert '"value":"-Infinity"' in response.text
    points = response.json()["points"]
    assert [p["step"] for p in points] == list(range(STEPS))
    for point, value in zip(points, want["series"]["loss"], strict=True):
        if math.isfinite(value):
            assert point["value"] == value
        else:
            assert point["value"] == {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(value)]
    slashed = stack.api.get(f"/api/v1/runs/{want['run_id']}/metrics/lr/actual")
    assert [p["value"] for p in slashed.json()["points"]] == want["series"]["lr/actual"]


def test_run_and_history(stack: Stack, sweep: dict[str, dict]) -> None:
    run_id = sweep["trial-0"]["run_id"]
    run = stack.api.get(f"/api/v1/runs/{run_id}").json()
    assert run["metrics"]["acc"]["count"] == STEPS
    events = stack.api.get(f"/api/v1/runs/{run_id}/history").json()["events"]
    types = [e["type"] for e in events]
    assert types[:3] == ["RunStarted", "ParamsLogged", "TagsSet"]
    assert types[-2:] == ["TagsSet", "RunStatusChanged"]
    assert set(types[3:-2]) == {"MetricsLogged"}
    assert sum(e["payload"]["points"] for e in events if e["type"] == "MetricsLogged") == 3 * STEPS
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    offsets = [e["offset"] for e in events]
    assert offsets == sorted(offsets) and len({e["partition"] for e in events}) == 1
    assert events[-1]["payload"]["status"] == "FINISHED"


def test_unknown_things_are_404_with_json(stack: Stack, sweep: dict[str, dict]) -> None:
    missing = "f" * 32
    for path in (f"/api/v1/runs/{missing}", f"/api/v1/runs/{missing}/history", f"/api/v1/runs/{missing}/metrics/loss",
                 f"/api/v1/runs/{sweep['trial-0']['run_id']}/metrics/no-such-key"):
        response = stack.api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    response = stack.api.post("/api/v1/runs/search", json={"experiment_names": ["nope"]})
    assert response.status_code == 404 and "nope" in response.json()["message"]


def test_clickhouse_holds_exact_counts(stack: Stack, sweep: dict[str, dict]) -> None:
    client = stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
    points = client.query("SELECT count() FROM metrics").result_rows[0][0]
    assert points == RUNS * STEPS * 3 + 1
    summed = client.query("SELECT sum(point_count) FROM run_metric_summary").result_rows[0][0]
    assert summed == points
    duplicates = client.query(
        "SELECT count() FROM (SELECT kafka_partition, kafka_offset FROM events "
        "GROUP BY kafka_partition, kafka_offset HAVING count() > 1)"
    ).result_rows[0][0]
    assert duplicates == 0
    wait_for(lambda: stack.api.get("/healthz").status_code == 200, 5, what="healthz 200")


def test_history_filters_and_pages(stack: Stack, sweep: dict[str, dict]) -> None:
    run_id = sweep["trial-1"]["run_id"]
    full = stack.api.get(f"/api/v1/runs/{run_id}/history").json()["events"]
    tags = stack.api.get(f"/api/v1/runs/{run_id}/history?types=TagsSet,RunStatusChanged").json()["events"]
    assert [e["type"] for e in tags] == ["TagsSet", "TagsSet", "RunStatusChanged"]
    paged, token = [], None
    while True:
        url = f"/api/v1/runs/{run_id}/history?limit=2" + (f"&page_token={token}" if token else "")
        body = stack.api.get(url).json()
        paged.extend(body["events"])
        token = body["next_page_token"]
        if token is None:
            break
    assert paged == full
    middle = full[len(full) // 2]["event_time"]
    later = stack.api.get(f"/api/v1/runs/{run_id}/history", params={"since": middle}).json()["events"]
    assert later and all(e["event_time"] >= middle for e in later) and len(later) < len(full)
    earlier = stack.api.get(f"/api/v1/runs/{run_id}/history", params={"until": middle}).json()["events"]
    assert len(earlier) + len(later) == len(full) + sum(e["event_time"] == middle for e in full)
    for bad in ("types=Nope", "limit=0", f"since={middle}&until=2000-01-01T00:00:00Z", "page_token=zzz",
                "since=yesterday"):
        response = stack.api.get(f"/api/v1/runs/{run_id}/history?{bad}")
        assert response.status_code == 400, bad
