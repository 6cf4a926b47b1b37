"""The API's in-memory copy of series (query_api/curvecopy.py) under a hosted projector: cold curves answered from
it equal the SQL path's bytes, new points of a series drop its copy before they are visible, a rebuild drops all."""

from __future__ import annotations

import math
from typing import Any

import pytest

from query_api.curvecopy import CurveCopy
from query_api.jsonresponse import dumps
from query_api.queries import curves
from tests.integration.conftest import Stack, wait_for

pytestmark = pytest.mark.integration
EXPERIMENT = "curve-copy-it"
FRESH = {"Cache-Control": "no-cache"}
RANGES = ["", "?step_min=0&step_max=0", "?step_min=2&step_max=5", "?step_max=3", "?step_min=4", "?step_min=50",
          "?max_points=100", "?max_points=3", "?step_min=1&step_max=6&max_points=500"]


def copy_of(stack: Stack) -> CurveCopy:
    found = stack.api.app.state.runstream.curves  # type: ignore[attr-defined]
    assert isinstance(found, CurveCopy)
    return found


def sql_answer(stack: Stack, experiment_id: str, run_id: str, key: str, query: str) -> bytes:
    args: dict[str, Any] = {}
    for pair in query.lstrip("?").split("&") if query else []:
        name, value = pair.split("=")
        args[name] = int(value)
    points = curves.curve(stack.api.app.state.runstream.clickhouse,  # type: ignore[attr-defined]
                          experiment_id, run_id, key, **args)
    return dumps({"run_id": run_id, "key": key, "points": points})


def test_cold_curves_from_the_copy_equal_the_sql_answers_and_follow_new_points(stack: Stack) -> None:
    tracker = stack.tracker()
    runs = []
    base = 1_700_000_000_000
    for r in range(3):
        run = tracker.start_run(EXPERIMENT, f"r{r}")
        # repeated steps, equal timestamps (ties the log orders), NaN and infinities
        run.log_metric_series("loss", [0, 1, 1, 2, 3, 3, 3, 4, 5, 6, 7], [1.0, math.nan, 0.5, math.inf, -math.inf,
                              0.25, -0.0, 1e-300, 2.0, 3.0, 4.0 + r],
                              [base, base + 1, base + 1, base + 2, base + 3, base + 3, base + 2, base + 4, base + 5,
                               base + 6, base + 7])
        run.log_metric_series("acc", [5, 4, 3, 2, 1, 0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6 + r], [base] * 6)
        runs.append(run)
    assert tracker.flush(30) == 0
    stack.wait_projected()
    copy = copy_of(stack)
    experiment_id = stack.api.get(f"/api/v1/runs/{runs[0].run_id}").json()["experiment_id"]
    for _ in range(2):  # first read into the copy, then from it
        for run in runs:
            for key in ("loss", "acc"):
                for query in RANGES:
                    response = stack.api.get(f"/api/v1/runs/{run.run_id}/metrics/{key}{query}", headers=FRESH)
                    assert response.status_code == 200, response.text
                    assert response.content == sql_answer(stack, experiment_id, run.run_id, key, query), query
    assert len(copy) == 6 and copy.points == 3 * 17
    missing = stack.api.get(f"/api/v1/runs/{runs[0].run_id}/metrics/none", headers=FRESH)
    assert missing.status_code == 404, missing.text

    runs[0].log_metric("loss", -1.0, step=8)
    assert tracker.flush(30) == 0
    stack.wait_projected()
    assert len(copy) == 5  # dropped before the point was visible; the other series stay
    for query in ("?max_points=3", "?step_min=7"):  # a ranged or downsampled ask reads only what it answers
        response = stack.api.get(f"/api/v1/runs/{runs[0].run_id}/metrics/loss{query}", headers=FRESH)
        assert response.content == sql_answer(stack, experiment_id, runs[0].run_id, "loss", query), query
    assert len(copy) == 5
    steps = [p["step"] for p in stack.api.get(f"/api/v1/runs/{runs[0].run_id}/metrics/loss", headers=FRESH
                                              ).json()["points"]]
    assert steps[-2:] == [7, 8]
    for run in runs:
        run.end()
    tracker.close()


def test_a_rebuild_drops_the_copy(stack: Stack) -> None:
    tracker = stack.tracker()
    run = tracker.start_run(EXPERIMENT, "rebuilt")
    run.log_metric_series("loss", [0, 1, 2], [1.0, 0.5, 0.25])
    assert tracker.flush(30) == 0
    stack.wait_projected()
    copy = copy_of(stack)
    path = f"/api/v1/runs/{run.run_id}/metrics/loss"
    first = stack.api.get(path, headers=FRESH)
    assert first.status_code == 200 and len(copy) >= 1
    started = stack.api.post("/api/v1/admin/rebuild", json={"only": ["metrics"]})
    assert started.status_code == 202, started.text
    status = wait_for(lambda: (s := stack.api.get("/api/v1/admin/rebuild").json())["state"] != "running" and s,
                      120, 0.2, "the rebuild to finish")
    assert status["state"] == "done", status
    again = stack.api.get(path, headers=FRESH)
    assert again.content == first.content
    assert len(copy) == 1  # everything was dropped; only the series just asked is kept again
    run.end()
    tracker.close()
