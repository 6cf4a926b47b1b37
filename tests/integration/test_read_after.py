"""A job reads what it just logged through Kafka: the SDK's acknowledged offsets sent as `X-Runstream-After`
make a read wait, bounded, until the projector has passed them; a bad header is refused, an unreachable one
answers 503 after the bound."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from runstream.stack import build_app
from schemas.positions import HEADER
from tests.integration.conftest import Stack, stack_settings, wait_for

pytestmark = pytest.mark.integration

STEPS = 2000


@pytest.fixture(scope="module")
def short_wait(kafka_bootstrap: str, clickhouse_dsn: str) -> Iterator[Stack]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "read_after", mlflow_read_wait_s=3.0)
    with TestClient(build_app(settings)) as api:
        yield Stack(settings, api)


def test_a_read_with_the_trackers_positions_sees_every_event_it_logged(short_wait: Stack) -> None:
    tracker = short_wait.tracker()
    try:
        with tracker.start_run("read-after", "warm-up") as first:  # the projector has joined its group (seconds)
            pass
        wait_for(lambda: short_wait.api.get(f"/api/v1/runs/{first.run_id}").status_code == 200, 60,
                 what="the warm-up run projected")
        for round_ in range(5):  # no other wait for the projector: the header is the only wait
            with tracker.start_run("read-after", f"round-{round_}", params={"round": str(round_)}) as run:
                run.log_metric_series("loss", range(STEPS), [1.0 / (s + 1) for s in range(STEPS)])
            assert tracker.flush(30) == 0
            headers = tracker.read_after()
            assert set(headers) == {HEADER}
            answer = short_wait.api.get(f"/api/v1/runs/{run.run_id}", headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "FINISHED"
            points = short_wait.api.get(f"/api/v1/runs/{run.run_id}/metrics/loss", headers=headers).json()["points"]
            assert len(points) == STEPS
            assert points[-1]["step"] == STEPS - 1
    finally:
        tracker.close(30)


def test_the_analyst_sql_waits_too(short_wait: Stack) -> None:
    tracker = short_wait.tracker()
    try:
        with tracker.start_run("read-after-sql", "one") as run:
            run.log_metric_series("acc", range(STEPS), [s / STEPS for s in range(STEPS)])
        assert tracker.flush(30) == 0
        answer = short_wait.api.post("/api/v1/sql", headers=tracker.read_after(), json={
            "query": f"SELECT sum(point_count) FROM run_metric_summary WHERE run_id = '{run.run_id}'"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == [[STEPS]]
    finally:
        tracker.close(30)


def test_positions_never_reached_answer_503_after_the_bound(short_wait: Stack) -> None:
    answer = short_wait.api.get("/api/v1/experiments", headers={HEADER: "0:999999999999"})
    assert answer.status_code == 503
    assert answer.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "positions asked for within 3 s (partitions [0])" in answer.json()["message"]


@pytest.mark.parametrize("value", ["zero:1", "0:1,0:2", "0;1"])
def test_a_bad_header_is_refused(short_wait: Stack, value: str) -> None:
    answer = short_wait.api.get("/api/v1/experiments", headers={HEADER: value})
    assert answer.status_code == 400
    assert answer.json()["message"].startswith(f"{HEADER}: ")
