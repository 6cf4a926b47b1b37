"""As-of state and diffs: the run at recorded instants equals what the API showed at those instants."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import RunDeleted, RunRestored
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def _observe(stack: Stack, run_id: str) -> tuple[str, dict[str, Any]]:
    """Wait until projected, then take the instant and the state the API shows for it."""
    stack.wait_projected()
    time.sleep(0.01)
    instant = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    return instant, stack.api.get(f"/api/v1/runs/{run_id}").json()


def test_as_of_and_diff_replay_the_runs_past(stack: Stack) -> None:
    tracker = stack.tracker(metrics_flush_interval_s=0.05)
    run = tracker.start_run("audit-it", "audited", params={"lr": 0.1}, tags={"team": "a", "tmp": "x"})
    for step in range(10):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    tracker.flush()
    t1, s1 = _observe(stack, run.run_id)

    run.set_tag("team", "b")
    run.delete_tag("tmp")
    run.log_param("batch_size", 64)
    for step in range(10, 25):
        run.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 25}, step=step)
    tracker.flush()
    t2, s2 = _observe(stack, run.run_id)

    run.end("FAILED")
    run._publish(RunDeleted("cleanup"))
    tracker.flush()
    t3, s3 = _observe(stack, run.run_id)
    run._publish(RunRestored("oops"))
    tracker.close()
    t4, s4 = _observe(stack, run.run_id)

    for instant, observed in ((t1, s1), (t2, s2), (t3, s3), (t4, s4)):
        replayed = stack.api.get(f"/api/v1/runs/{run.run_id}", params={"as_of": instant}).json()
        assert replayed == observed, instant
    assert s1["tags"] == {"team": "a", "tmp": "x"} and s2["tags"] == {"team": "b"}
    assert s3["status"] == "FAILED" and s3["deleted"] and not s4["deleted"]

    change = stack.api.get(f"/api/v1/runs/{run.run_id}/diff", params={"from": t1, "to": t2}).json()
    assert change["tags_set"] == {"team": "b"} and change["tags_removed"] == ["tmp"]
    assert change["params_added"] == {"batch_size": "64"}
    assert change["metric_keys_added"] == ["acc"] and change["points_logged"] == {"acc": 15, "loss": 15}
    assert change["attributes"] == {} and change["existed_before"]
    change = stack.api.get(f"/api/v1/runs/{run.run_id}/diff", params={"from": t2, "to": t4}).json()
    assert change["attributes"] == {"status": {"from": "RUNNING", "to": "FAILED"}}
    assert change["points_logged"] == {}

    before = "2000-01-01T00:00:00Z"
    assert stack.api.get(f"/api/v1/runs/{run.run_id}", params={"as_of": before}).status_code == 404
    first = stack.api.get(f"/api/v1/runs/{run.run_id}/diff", params={"from": before, "to": t1}).json()
    assert not first["existed_before"] and first["params_added"] == {"lr": "0.1"}
    bad = stack.api.get(f"/api/v1/runs/{run.run_id}/diff", params={"from": t2, "to": t1})
    assert bad.status_code == 400
    assert stack.api.get(f"/api/v1/runs/{run.run_id}/diff", params={"from": t1}).status_code == 400
    assert stack.api.get(f"/api/v1/runs/{run.run_id}", params={"as_of": "yesterday"}).status_code == 400


def test_instants_far_outside_the_log_are_answered_not_crashed(stack: Stack) -> None:
    tracker = stack.tracker()
    with tracker.start_run("audit-it", "span") as run:
        run.log_metric("loss", 1.0, step=0)
    tracker.close()
    stack.wait_projected()
    base = f"/api/v1/runs/{run.run_id}"
    assert stack.api.get(base, params={"as_of": "0300-09-07T17:32:13Z"}).status_code == 404
    assert stack.api.get(base, params={"as_of": "9999-12-31T23:59:59Z"}).json()["name"] == "span"
    history = stack.api.get(f"{base}/history",
                            params={"since": "0803-04-05T15:53:16-12:19", "until": "1774-03-07T22:55:48Z"})
    assert history.status_code == 200 and history.json()["events"] == []
    diff = stack.api.get(f"{base}/diff", params={"from": "0419-06-14T13:13:42Z", "to": "2146-07-08T11:44:33+04:36"})
    assert diff.status_code == 200 and not diff.json()["existed_before"]
