"""The unmodified mlflow client against runstream's MLflow REST API, compared with a real `mlflow server`
started here; plus what the client cannot show: the events in the log, retries, limits and failures."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import free_port, serving, stack_settings, wait_for
from tests.integration.mlflow_scenario import run_scenario

pytest.importorskip("mlflow")
# mlflow and pandas warn about their own futures; those are not runstream's to fix
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0")]


@pytest.fixture(scope="module")
def runstream(kafka_bootstrap: str, clickhouse_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "mlflow",
                              artifact_root=tmp_path_factory.mktemp("artifacts"))
    with serving(settings) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server (sqlite, proxied artifacts) on this machine."""
    home = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    executable = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(
        [executable, "server", "--backend-store-uri", f"sqlite:///{home}/mlflow.db", "--artifacts-destination",
         str(home / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        # its own session: on shutdown MLflow's job runner signals its whole process group, which would
        # otherwise be pytest's (and the test broker's)
        cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/health") == (200, "OK") or proc.poll() is not None, 180,
                 what="mlflow server to answer /health")
        assert proc.poll() is None, (home / "server.log").read_text()[-3000:]
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def call(base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         raw: bytes | None = None) -> tuple[int, Any]:
    """(status, JSON) of one HTTP call to the server under test."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"{base}{path}", data, {"Content-Type": "application/json", **(headers or {})},
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text else None


def test_the_client_scenario_matches_a_real_mlflow_server(runstream: str, mlflow_server: str,
                                                          tmp_path: Path) -> None:
    ours = run_scenario(runstream, tmp_path / "ours", experiment="same-scenario")
    theirs = run_scenario(mlflow_server, tmp_path / "theirs", experiment="same-scenario")
    differing = {k: (ours.get(k), theirs.get(k)) for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)}
    assert not differing, json.dumps(differing, indent=1, default=str)
    # and what both say is what MLflow promises (so two equally wrong servers would not pass)
    assert ours["param_change"] == {"error_code": "INVALID_PARAMETER_VALUE", "mentions_change": True}
    assert ours["parent"]["params"] == {"sweep": "lr", "n_children": "3"}
    assert ours["parent"]["inputs"] == [("toy", ours["parent"]["inputs"][0][1], "code", "training")]
    assert ours["artifacts_docs"] == [("docs/notes.txt", False, len("learning rate sweep\n"))]
    assert ours["downloaded"] == "learning rate sweep\n"
    assert ours["history"][0] == (0, 1.01) and len(ours["history"]) == 5
    assert ours["child"]["metrics"]["nan_metric"] == "NaN"
    assert ours["search_metric_ordered"] == ["child-2", "child-1"]
    assert ours["paged"] == {"first": ["child-0", "child-1"], "has_token": True, "second": ["child-2", "parent"]}
    assert ours["log_to_deleted"] == "INVALID_PARAMETER_VALUE" and ours["missing_run"] == "RESOURCE_DOES_NOT_EXIST"
    assert ours["experiment"]["id_is_integer"]


def test_every_write_travels_as_events_through_kafka(runstream: str, tmp_path: Path) -> None:
    import mlflow

    mlflow.set_tracking_uri(runstream)
    mlflow.set_experiment("through-kafka")
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01" * 1000)
    with mlflow.start_run(run_name="audited") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_metric("loss", 0.5, step=3)
        mlflow.set_tag("stage", "dev")
        mlflow.log_artifact(str(tmp_path / "weights.bin"))
    run_id = run.info.run_id
    status, history = call(runstream, "GET", f"/api/v1/runs/{run_id}/history")
    assert status == 200
    types = [e["type"] for e in history["events"]]
    assert types[:2] == ["RunStarted", "TagsSet"]
    assert {"ParamsLogged", "MetricsLogged", "ArtifactLogged", "RunStatusChanged"} <= set(types)
    assert history["seq_gaps"] == [] and all(e["partition"] >= 0 and e["offset"] >= 0 for e in history["events"])
    logged = next(e for e in history["events"] if e["type"] == "ArtifactLogged")["payload"]
    assert logged["path"] == "weights.bin" and logged["size"] == 2000
    assert logged["digest"].startswith("sha256:") and len(logged["digest"]) == 7 + 64
    status, listed = call(runstream, "GET", f"/api/v1/runs/{run_id}/artifacts")
    assert status == 200 and [(a["path"], a["size"]) for a in listed["artifacts"]] == [("weights.bin", 2000)]
    with urllib.request.urlopen(f"{runstream}/api/v1/runs/{run_id}/artifacts/weights.bin") as response:
        assert response.read() == b"\x00\x01" * 1000
    status, shown = call(runstream, "GET", f"/api/v1/runs/{run_id}")
    assert shown["params"] == {"lr": "0.1"} and shown["status"] == "FINISHED" and shown["name"] == "audited"


def _new_run(base: str, experiment_name: str) -> tuple[str, str]:
    status, created = call(base, "POST", "/api/2.0/mlflow/experiments/create", {"name": experiment_name})
    assert status == 200, created
    experiment_id = created["experiment_id"]
    status, body = call(base, "POST", "/api/2.0/mlflow/runs/create",
                        {"experiment_id": experiment_id, "run_name": "r", "start_time": 1_700_000_000_000})
    assert status == 200, body
    return experiment_id, body["run"]["info"]["run_id"]


def test_a_retried_request_changes_nothing_twice(runstream: str) -> None:
    experiment_id, run_id = _new_run(runstream, "retries")
    batch = {"run_id": run_id, "metrics": [{"key": "loss", "value": 0.5, "timestamp": 1_700_000_000_000, "step": s}
                                           for s in range(10)], "params": [{"key": "lr", "value": "0.1"}]}
    for _ in range(3):  # the client resends a request whose answer it lost
        assert call(runstream, "POST", "/api/2.0/mlflow/runs/log-batch", batch)[0] == 200
    status, history = call(runstream, "GET", f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=loss")
    assert status == 200 and [m["step"] for m in history["metrics"]] == list(range(10))
    create = {"experiment_id": experiment_id, "run_name": "once", "start_time": 1_700_000_000_123}
    key = {"Idempotency-Key": "create-once-1"}  # a retry is recognised by the key its sender gave it
    first = call(runstream, "POST", "/api/2.0/mlflow/runs/create", create, key)[1]["run"]["info"]["run_id"]
    again = call(runstream, "POST", "/api/2.0/mlflow/runs/create", create, key)[1]["run"]["info"]["run_id"]
    assert first == again
    status, found = call(runstream, "POST", "/api/2.0/mlflow/runs/search",
                         {"experiment_ids": [experiment_id], "filter": "attributes.run_name = 'once'"})
    assert status == 200 and len(found["runs"]) == 1
    status, v1 = call(runstream, "GET", f"/api/v1/runs/{run_id}")
    assert v1["metrics"]["loss"]["count"] == 10


@pytest.mark.parametrize(("body", "fragment"), [
    ({"metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": i} for i in range(1001)]},
     "at most 1000 metrics"),
    ({"params": [{"key": f"p{i}", "value": "1"} for i in range(101)]}, "at most 100 params"),
    ({"tags": [{"key": f"t{i}", "value": "1"} for i in range(101)]}, "at most 100 tags"),
    ({"params": [{"key": "k" * 251, "value": "1"}]}, "exceeds the maximum length of 250"),
    ({"params": [{"key": "../escape", "value": "1"}]}, "must not resolve to other names"),
    ({"metrics": [{"key": "m", "value": "high", "timestamp": 1, "step": 0}]}, "valid double"),
    ({"metrics": [{"key": "m", "value": 1, "timestamp": -5, "step": 0}]}, "timestamp"),
])
def test_bad_batches_are_refused_whole(runstream: str, body: dict[str, Any], fragment: str) -> None:
    _, run_id = _new_run(runstream, f"limits-{abs(hash(fragment)) % 10**8}")
    status, error = call(runstream, "POST", "/api/2.0/mlflow/runs/log-batch",
                         {"run_id": run_id, "metrics": [{"key": "ok", "value": 1, "timestamp": 1, "step": 0}],
                          **body})
    assert status == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE", error
    assert fragment in error["message"]
    _, run = call(runstream, "GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")
    assert "metrics" not in run["run"]["data"], "nothing of a refused batch is logged"


def test_long_params_and_tags_are_truncated_as_mlflow_does(runstream: str) -> None:
    _, run_id = _new_run(runstream, "truncation")
    status, _ = call(runstream, "POST", "/api/2.0/mlflow/runs/log-batch", {
        "run_id": run_id, "params": [{"key": "p", "value": "v" * 6001}], "tags": [{"key": "t", "value": "w" * 8001}]})
    assert status == 200
    _, run = call(runstream, "GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")
    data = run["run"]["data"]
    assert {p["key"]: p["value"] for p in data["params"]} == {"p": "v" * 6000}
    assert {t["key"]: t["value"] for t in data["tags"]}["t"] == "w" * 8000


def test_errors_have_mlflows_codes(runstream: str) -> None:
    experiment_id, run_id = _new_run(runstream, "errors")
    assert call(runstream, "POST", "/api/2.0/mlflow/experiments/create", {"name": "errors"}) == (
        400, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "Experiment(name=errors) already exists."})
    status, body = call(runstream, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=nope")
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, body = call(runstream, "GET", "/api/2.0/mlflow/runs/get?run_id=not-a-run")
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = call(runstream, "GET", f"/api/2.0/mlflow/runs/get?run_id={'f' * 32}")
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, body = call(runstream, "POST", "/api/2.0/mlflow/runs/log-batch", raw=b"{not json")
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = call(runstream, "POST", "/api/2.0/mlflow/runs/delete-tag", {"run_id": run_id, "key": "absent"})
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, body = call(runstream, "POST", "/api/2.0/mlflow/runs/search",
                        {"experiment_ids": [experiment_id], "filter": "params.a = '1' OR params.b = '2'"})
    assert status == 400 and "OR" in body["message"]
    status, body = call(runstream, "POST", "/api/2.0/mlflow/runs/search",
                        {"experiment_ids": [experiment_id], "filter": "metrics.loss <"})
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    status, body = call(runstream, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/"
                        "..%2F..%2Fescape.txt", raw=b"x")
    assert status == 400
    status, body = call(runstream, "PUT", "/api/2.0/mlflow-artifacts/artifacts/elsewhere/file.txt", raw=b"x")
    assert status == 400 and "run's artifact root" in body["message"]


def test_experiment_lifecycle(runstream: str) -> None:
    experiment_id, run_id = _new_run(runstream, "lifecycle")
    assert call(runstream, "POST", "/api/2.0/mlflow/experiments/set-experiment-tag",
                {"experiment_id": experiment_id, "key": "owner", "value": "ana"})[0] == 200
    assert call(runstream, "POST", "/api/2.0/mlflow/experiments/update",
                {"experiment_id": experiment_id, "new_name": "lifecycle-renamed"})[0] == 200
    _, got = call(runstream, "GET", f"/api/2.0/mlflow/experiments/get?experiment_id={experiment_id}")
    assert got["experiment"]["name"] == "lifecycle-renamed"
    assert got["experiment"]["tags"] == [{"key": "owner", "value": "ana"}]
    _, listed = call(runstream, "GET", "/api/v1/experiments")
    assert "lifecycle-renamed" in {e["name"] for e in listed["experiments"]}
    status, found = call(runstream, "POST", "/api/2.0/mlflow/experiments/search",
                         {"filter": "name LIKE 'lifecycle%' AND tags.owner = 'ana'"})
    assert [e["experiment_id"] for e in found["experiments"]] == [experiment_id]
    assert call(runstream, "POST", "/api/2.0/mlflow/experiments/delete-experiment-tag",
                {"experiment_id": experiment_id, "key": "owner"})[0] == 200
    assert call(runstream, "POST", "/api/2.0/mlflow/experiments/delete", {"experiment_id": experiment_id})[0] == 200
    status, body = call(runstream, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id})
    assert status == 400 and "active" in body["message"]
    status, body = call(runstream, "POST", "/api/2.0/mlflow/runs/log-parameter",
                        {"run_id": run_id, "key": "late", "value": "1"})
    assert status == 400, "a run of a deleted experiment is deleted too"
    _, active = call(runstream, "POST", "/api/2.0/mlflow/experiments/search", {"filter": "name = 'lifecycle-renamed'"})
    _, deleted = call(runstream, "POST", "/api/2.0/mlflow/experiments/search",
                      {"filter": "name = 'lifecycle-renamed'", "view_type": "DELETED_ONLY"})
    assert "experiments" not in active and len(deleted["experiments"]) == 1
    assert call(runstream, "POST", "/api/2.0/mlflow/experiments/restore", {"experiment_id": experiment_id})[0] == 200
    assert call(runstream, "POST", "/api/2.0/mlflow/runs/log-parameter",
                {"run_id": run_id, "key": "late", "value": "1"})[0] == 200


def test_identical_creates_are_distinct_runs_with_the_clients_start_time(runstream: str) -> None:
    """Parallel sweeps send byte-identical runs/create bodies within a millisecond: each is its own run."""
    from concurrent.futures import ThreadPoolExecutor

    experiment_id, _ = _new_run(runstream, "identical-creates")
    create = {"experiment_id": experiment_id, "start_time": 1, "tags": [{"key": "sweep", "value": "same"}]}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: call(runstream, "POST", "/api/2.0/mlflow/runs/create", create), range(24)))
    assert all(status == 200 for status, _ in answers), answers
    ids = {body["run"]["info"]["run_id"] for _, body in answers}
    assert len(ids) == 24
    assert {body["run"]["info"]["start_time"] for _, body in answers} == {1}
    status, found = call(runstream, "POST", "/api/2.0/mlflow/runs/search",
                         {"experiment_ids": [experiment_id], "filter": "tags.sweep = 'same'", "max_results": 100})
    assert status == 200 and {r["info"]["run_id"] for r in found["runs"]} == ids
    assert {r["info"]["start_time"] for r in found["runs"]} == {1}


def test_bulk_interval_keeps_first_and_last_steps(runstream: str) -> None:
    experiment_id, first = _new_run(runstream, "bulk")
    runs = [first, *(call(runstream, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id,
                                                                              "run_name": f"b{i}"})[1]["run"]["info"]
                      ["run_id"] for i in range(2))]
    for run_id in runs:
        for chunk in range(6):
            metrics = [{"key": "loss", "value": s / 3000, "timestamp": 1_700_000_000_000 + s, "step": s}
                       for s in range(chunk * 1000, (chunk + 1) * 1000)]
            batch = {"run_id": run_id, "metrics": metrics}
            assert call(runstream, "POST", "/api/2.0/mlflow/runs/log-batch", batch)[0] == 200
    query = "&".join(f"run_ids={r}" for r in runs)
    status, body = call(runstream, "GET", f"/api/2.0/mlflow/metrics/get-history-bulk-interval?{query}"
                        "&metric_key=loss&max_results=2500")
    assert status == 200
    for run_id in runs:
        steps = [m["step"] for m in body["metrics"] if m["run_id"] == run_id]
        assert 2000 < len(steps) <= 2500 and steps[0] == 0 and steps[-1] == 5999 and steps == sorted(steps)
    status, body = call(runstream, "GET", f"/api/2.0/mlflow/metrics/get-history-bulk-interval?{query}"
                        "&metric_key=loss&start_step=100&end_step=199")
    assert [m["step"] for m in body["metrics"] if m["run_id"] == first] == list(range(100, 200))
    too_many = "&".join(f"run_ids={i:032x}" for i in range(101))
    status, body = call(runstream, "GET", f"/api/2.0/mlflow/metrics/get-history-bulk-interval?{too_many}"
                        "&metric_key=loss")
    assert status == 400 and "100" in body["message"]
    status, page = call(runstream, "GET", f"/api/2.0/mlflow/metrics/get-history?run_id={first}&metric_key=loss"
                        "&max_results=4000")
    assert len(page["metrics"]) == 4000 and page["next_page_token"]
    status, rest = call(runstream, "GET", f"/api/2.0/mlflow/metrics/get-history?run_id={first}&metric_key=loss"
                        f"&max_results=4000&page_token={page['next_page_token']}")
    assert [m["step"] for m in rest["metrics"]] == list(range(4000, 6000)) and "next_page_token" not in rest


def test_the_ajax_prefix_and_the_clients_side_routes(runstream: str) -> None:
    assert _get(f"{runstream}/health") == (200, "OK")
    assert _get(f"{runstream}/version")[0] == 200
    status, info = call(runstream, "GET", "/api/3.0/mlflow/server-info")
    assert status == 200 and info["workspaces_enabled"] is False
    assert call(runstream, "POST", "/api/2.0/mlflow/logged-models/search", {}) == (200, {})
    status, default = call(runstream, "GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0")
    assert status == 200 and default["experiment"]["name"] == "Default"


def test_an_optuna_study_logs_through_its_mlflow_callback(runstream: str) -> None:
    optuna = pytest.importorskip("optuna")
    from optuna_integration.mlflow import MLflowCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", -10, 10)
        layers = trial.suggest_int("layers", 1, 4)
        return (x - 2) ** 2 + layers

    study = optuna.create_study(study_name="optuna-quadratic", sampler=optuna.samplers.TPESampler(seed=7))
    study.optimize(objective, n_trials=20, callbacks=[MLflowCallback(tracking_uri=runstream, metric_name="loss")])
    _, experiment = call(runstream, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=optuna-quadratic")
    experiment_id = experiment["experiment"]["experiment_id"]
    status, board = call(runstream, "GET", f"/api/v1/experiments/{experiment_id}/leaderboard?metric=loss&order=asc&k=1")
    assert status == 200, board
    best = board["runs"][0]
    assert best["value"] == pytest.approx(study.best_value)
    assert float(best["params"]["x"]) == pytest.approx(study.best_params["x"])
    assert int(best["params"]["layers"]) == study.best_params["layers"]
    _, found = call(runstream, "POST", "/api/v1/runs/search", {"experiment_ids": [experiment_id]})
    assert len(found["runs"]) == 20
    assert sorted(int(r["name"]) for r in found["runs"]) == list(range(20))


def test_a_search_right_after_a_create_finds_the_run(runstream: str) -> None:
    """Read-your-writes holds for searches too: their log snapshot is taken after the wait (a race once seen:
    the events table's position moved before event_offsets, which searches read, had caught up)."""
    experiment_id, _ = _new_run(runstream, "read-your-writes")
    for i in range(15):
        call(runstream, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id, "run_name": f"n{i}"})
        status, found = call(runstream, "POST", "/api/2.0/mlflow/runs/search",
                             {"experiment_ids": [experiment_id], "filter": f"attributes.run_name = 'n{i}'"})
        assert status == 200 and len(found.get("runs", [])) == 1, (i, found)
