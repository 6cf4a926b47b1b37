"""Remembered search answers (query_api/answers.py) end to end: never stale once a write is visible, the API's
own writes read back at once, never across tokens, never before the token and scope are checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from query_api.answers import Answers
from runstream.stack import build_app
from tests.integration.conftest import Stack, stack_settings

pytestmark = pytest.mark.integration
TOKENS = {"reader-token-1": ["read"], "reader-token-2": ["read"], "writer-token-1": ["read", "write"]}
EXPERIMENT = "answers-it"
ADAM = {"experiment_names": [EXPERIMENT], "filter": "params.opt = 'adam'", "max_results": 100}


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, clickhouse_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    token_file = tmp_path_factory.mktemp("answers") / "tokens.json"
    token_file.write_text(json.dumps(TOKENS))
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "answers", auth_tokens_file=token_file)
    with TestClient(build_app(settings)) as api:
        yield Stack(settings, api)


@pytest.fixture(scope="module")
def first_runs(stack: Stack) -> None:
    tracker = stack.tracker()
    for name, opt in (("a0", "adam"), ("s0", "sgd"), ("a1", "adam")):
        with tracker.start_run(EXPERIMENT, name, params={"opt": opt}):
            pass
    assert tracker.flush(30) == 0
    tracker.close()
    stack.wait_projected()


def answers(stack: Stack) -> Answers:
    found = stack.api.app.state.runstream.answers  # type: ignore[attr-defined]
    assert isinstance(found, Answers)
    return found


def search(stack: Stack, token: str = "reader-token-1", body: dict[str, Any] = ADAM, **headers: str) -> list[str]:
    response = stack.api.post("/api/v1/runs/search", json=body, headers={"Authorization": f"Bearer {token}",
                                                                          **headers})
    assert response.status_code == 200, response.text
    return sorted(r["name"] for r in response.json()["runs"])


def test_an_answer_asked_again_comes_from_memory_until_a_new_event_is_projected(stack: Stack, first_runs: None
                                                                                 ) -> None:
    assert stack.api.app.state.runstream.projector.projector.owns_topic()  # type: ignore[attr-defined]
    memory = answers(stack)
    assert search(stack) == ["a0", "a1"]
    hits = memory.hits
    assert search(stack) == ["a0", "a1"]
    assert memory.hits == hits + 1
    tracker = stack.tracker()
    with tracker.start_run(EXPERIMENT, "a2", params={"opt": "adam"}):
        pass
    assert tracker.flush(30) == 0
    tracker.close()
    stack.wait_projected()
    assert search(stack) == ["a0", "a1", "a2"]  # the remembered answer was read before the run: not served
    hits = memory.hits
    assert search(stack) == ["a0", "a1", "a2"]
    assert memory.hits == hits + 1


def test_the_answer_header_and_metrics_say_where_each_answer_came_from(stack: Stack, first_runs: None) -> None:
    reader = {"Authorization": "Bearer reader-token-1"}
    body = {**ADAM, "max_results": 77}  # a question no other test asks

    def source(**headers: str) -> str | None:
        response = stack.api.post("/api/v1/runs/search", json=body, headers={**reader, **headers})
        assert response.status_code == 200, response.text
        return response.headers.get("X-Runstream-Answer")

    assert [source(), source(), source(**{"Cache-Control": "no-cache"}), source()] == [
        "read", "remembered", "read", "remembered"]
    memory = answers(stack)
    scraped = stack.api.get("/metrics", headers=reader).text
    assert f'runstream_remembered_answers_total{{result="hit"}} {float(memory.hits)}' in scraped
    assert f'runstream_remembered_answers_total{{result="miss"}} {float(memory.misses)}' in scraped


def test_the_apis_own_write_is_read_back_at_once(stack: Stack, first_runs: None) -> None:
    writer = {"Authorization": "Bearer writer-token-1"}
    assert search(stack, "writer-token-1") == search(stack, "writer-token-1")  # remembered before the write
    experiment_id = stack.api.post("/api/v1/runs/search", json={**ADAM, "max_results": 1},
                                   headers=writer).json()["runs"][0]["experiment_id"]
    created = stack.api.post("/api/2.0/mlflow/runs/create", headers=writer, json={
        "experiment_id": experiment_id, "run_name": "a-mlflow", "start_time": 1_700_000_000_000})
    assert created.status_code == 200, created.text
    run_id = created.json()["run"]["info"]["run_id"]
    logged = stack.api.post("/api/2.0/mlflow/runs/log-parameter", headers=writer,
                            json={"run_id": run_id, "key": "opt", "value": "adam"})
    assert logged.status_code == 200, logged.text
    assert "a-mlflow" in search(stack, "writer-token-1")  # read-your-writes: no wait, no stale answer


def test_a_remembered_answer_never_crosses_tokens_nor_skips_the_token_check(stack: Stack, first_runs: None) -> None:
    memory = answers(stack)
    expected = search(stack, "reader-token-1")
    assert search(stack, "reader-token-1") == expected
    for headers in ({}, {"Authorization": "Bearer wrong-token-xyz"}):
        response = stack.api.post("/api/v1/runs/search", json=ADAM, headers=headers)
        assert response.status_code == 401, response.text
    hits, misses = memory.hits, memory.misses
    assert search(stack, "reader-token-2") == expected  # the same question by another token is read for it
    assert (memory.hits, memory.misses) == (hits, misses + 1)
    assert search(stack, "reader-token-2") == expected
    assert memory.hits == hits + 1


def test_no_cache_reads_now_and_refused_questions_are_not_remembered(stack: Stack, first_runs: None) -> None:
    memory = answers(stack)
    expected = search(stack)
    hits = memory.hits
    assert search(stack, **{"Cache-Control": "no-cache"}) == expected
    assert memory.hits == hits
    entries = len(memory)
    for body in ({**ADAM, "filter": "params.opt = "}, {**ADAM, "experiment_names": ["no-such-experiment"]}):
        for _ in range(2):
            response = stack.api.post("/api/v1/runs/search", json=body,
                                      headers={"Authorization": "Bearer reader-token-1"})
            assert response.status_code in (400, 404), response.text
    assert len(memory) == entries


def test_a_remembered_curve_gains_the_point_projected_after_it(stack: Stack, first_runs: None) -> None:
    memory = answers(stack)
    reader = {"Authorization": "Bearer reader-token-1"}
    tracker = stack.tracker()
    run = tracker.start_run(EXPERIMENT, "curve", params={"opt": "sgd"})
    run.log_metric("loss", 1.0, step=0)
    assert tracker.flush(30) == 0
    stack.wait_projected()
    path = f"/api/v1/runs/{run.run_id}/metrics/loss"

    def steps(query: str = "") -> list[int]:
        response = stack.api.get(path + query, headers=reader)
        assert response.status_code == 200, response.text
        return [p["step"] for p in response.json()["points"]]

    assert steps() == [0]
    hits = memory.hits
    assert steps() == [0]
    assert memory.hits == hits + 1
    assert steps("?step_min=0&step_max=0") == [0]  # another question: read for itself
    assert memory.hits == hits + 1
    run.log_metric("loss", 0.5, step=1)
    assert tracker.flush(30) == 0
    stack.wait_projected()
    assert steps() == [0, 1]  # the answer remembered before the point is not served after it
    missing = stack.api.get(f"/api/v1/runs/{run.run_id}/metrics/no-such-key", headers=reader)
    assert missing.status_code == 404, missing.text
    run.end()
    tracker.close()


def test_a_no_cache_curve_is_read_now_and_not_remembered(stack: Stack, first_runs: None) -> None:
    memory = answers(stack)
    fresh = {"Authorization": "Bearer reader-token-1", "Cache-Control": "no-cache"}
    tracker = stack.tracker()
    run = tracker.start_run(EXPERIMENT, "fresh-curve", params={"opt": "sgd"})
    run.log_metric("loss", 1.0, step=0)
    assert tracker.flush(30) == 0
    stack.wait_projected()
    path = f"/api/v1/runs/{run.run_id}/metrics/loss"

    def steps() -> list[int]:
        response = stack.api.get(path, headers=fresh)
        assert response.status_code == 200, response.text
        return [p["step"] for p in response.json()["points"]]

    assert steps() == [0]
    seen = (len(memory), memory.hits, memory.misses)
    run.log_metric("loss", 0.5, step=1)
    assert tracker.flush(30) == 0
    stack.wait_projected()
    assert steps() == [0, 1]  # what ClickHouse holds now
    assert (len(memory), memory.hits, memory.misses) == seen  # neither looked up nor remembered
    empty = stack.api.get(path + "?step_min=5", headers=fresh)
    assert empty.status_code == 200 and empty.json()["points"] == [], empty.text
    for missing in (f"/api/v1/runs/{'0' * 32}/metrics/loss", f"/api/v1/runs/{run.run_id}/metrics/no-such-key"):
        response = stack.api.get(missing, headers=fresh)
        assert response.status_code == 404, response.text
    refused = stack.api.get(path, headers={"Cache-Control": "no-cache"})
    assert refused.status_code == 401, refused.text
    run.end()
    tracker.close()


def test_a_search_remembers_its_runs_experiments(stack: Stack, first_runs: None) -> None:
    found = stack.api.post("/api/v1/runs/search", json={**ADAM, "filter": ""},
                           headers={"Authorization": "Bearer reader-token-1", "Cache-Control": "no-cache"})
    assert found.status_code == 200, found.text
    expected = {r["run_id"]: r["experiment_id"] for r in found.json()["runs"]}
    assert expected
    facts = stack.api.app.state.runstream.facts  # type: ignore[attr-defined]
    no_clickhouse: Any = object()  # a read of ClickHouse would fail: every run must come from memory
    assert facts.run_experiments(no_clickhouse, list(expected)) == expected


def test_remembered_leaderboard_and_parallel_coordinates_gain_the_run_projected_after_them(
        stack: Stack, first_runs: None) -> None:
    memory = answers(stack)
    reader = {"Authorization": "Bearer reader-token-1"}
    tracker = stack.tracker()
    run = tracker.start_run("answers-board", "first", params={"lr": "0.1"})
    run.log_metric("loss", 0.5, step=0)
    run.end()
    assert tracker.flush(30) == 0
    stack.wait_projected()
    experiment_id = run.experiment_id
    board = f"/api/v1/experiments/{experiment_id}/leaderboard?metric=loss&k=5"
    parallel = f"/api/v1/experiments/{experiment_id}/parallel-coordinates?params=lr&metric=loss"

    def names(path: str, **headers: str) -> list[str]:
        response = stack.api.get(path, headers={**reader, **headers})
        assert response.status_code == 200, response.text
        return sorted(r["name"] for r in response.json()["runs"])

    for path in (board, parallel):
        assert names(path) == ["first"]
        hits = memory.hits
        assert names(path) == ["first"]
        assert memory.hits == hits + 1
        assert names(path, **{"Cache-Control": "no-cache"}) == ["first"]  # read now
        assert memory.hits == hits + 1
    assert names(board.replace("k=5", "k=6")) == ["first"]  # another question: read for itself
    second = tracker.start_run("answers-board", "second", params={"lr": "0.01"})
    second.log_metric("loss", 0.25, step=0)
    second.end()
    assert tracker.flush(30) == 0
    stack.wait_projected()
    for path in (board, parallel):  # the answers remembered before the run are not served after it
        assert names(path) == ["first", "second"]
    body = stack.api.get(parallel, headers=reader).json()
    assert {r["name"]: r["params"]["lr"] for r in body["runs"]} == {"first": 0.1, "second": 0.01}
    entries = len(memory)
    for path in ("/api/v1/experiments/no-such-experiment/leaderboard?metric=loss",
                 "/api/v1/experiments/no-such-experiment/parallel-coordinates?params=lr&metric=loss"):
        for _ in range(2):
            response = stack.api.get(path, headers=reader)
            assert response.status_code == 404, response.text
    oversized = stack.api.get(f"/api/v1/experiments/{experiment_id}/parallel-coordinates?params={'k' * 20_000}"
                              "&metric=loss", headers=reader)  # refused before anything is read or remembered
    assert oversized.status_code in (400, 422), oversized.text
    assert len(memory) == entries
    tracker.close()
