"""The MLflow front door when things go wrong: tokens, a dead broker, a stopped projector."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from consumers.clickhouse import connect
from consumers.runner import ProjectorThread
from runstream.settings import ServerSettings
from tests.integration.conftest import free_port, serving, stack_settings
from tests.integration.test_mlflow import call

pytest.importorskip("mlflow")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning")]
TOKENS = {"reader-token-1": ["read"], "writer-token-1": ["read", "write"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_cover_every_mlflow_route(kafka_bootstrap: str, clickhouse_dsn: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "mlflow_auth", auth_tokens=json.dumps(TOKENS),
                              artifact_root=tmp_path / "artifacts")
    with serving(settings) as port:
        base = f"http://127.0.0.1:{port}"
        for path in ("/api/2.0/mlflow/experiments/get?experiment_id=0", "/ajax-api/2.0/mlflow/experiments/get?"
                     "experiment_id=0", "/api/2.0/mlflow-artifacts/artifacts", "/api/v1/experiments"):
            assert call(base, "GET", path)[0] == 401, path
        assert call(base, "POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0"]})[0] == 401
        assert call(base, "POST", "/api/2.0/mlflow/experiments/create", {"name": "x"},
                    headers=bearer("reader-token-1"))[0] == 403
        assert call(base, "POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0"]},
                    headers=bearer("reader-token-1"))[0] == 200
        assert call(base, "PUT", "/api/2.0/mlflow-artifacts/artifacts/0/" + "a" * 32 + "/artifacts/f.txt",
                    raw=b"x", headers=bearer("reader-token-1"))[0] == 403
        assert call(base, "GET", "/api/3.0/mlflow/server-info")[0] == 200, "server-info holds no run data"

        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "writer-token-1")
        mlflow.set_tracking_uri(base)
        mlflow.set_experiment("with-tokens")
        (tmp_path / "a.txt").write_text("hello")
        with mlflow.start_run() as run:
            mlflow.log_metric("loss", 0.1, step=1)
            mlflow.log_artifact(str(tmp_path / "a.txt"))
        assert mlflow.get_run(run.info.run_id).data.metrics == {"loss": 0.1}
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "not-a-token")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        with pytest.raises(MlflowException):
            mlflow.get_run(run.info.run_id)


def test_a_dead_broker_answers_503_quickly_and_writes_nothing(clickhouse_dsn: str, tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    settings = ServerSettings(kafka_bootstrap_servers=dead, clickhouse_dsn=clickhouse_dsn,
                              clickhouse_database="it_mlflow_dead_broker", run_projector=False, publish_timeout_s=1.5,
                              artifact_root=tmp_path / "artifacts")
    with serving(settings) as port:
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        status, body = call(base, "POST", "/api/2.0/mlflow/experiments/create", {"name": "never"})
        assert status == 503 and body["error_code"] == "TEMPORARILY_UNAVAILABLE", body
        assert "acknowledge" in body["message"] and time.monotonic() - started < 10
        status, body = call(base, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=never")
        assert status == 404


def test_reads_wait_for_a_stopped_projector_then_say_so(kafka_bootstrap: str, clickhouse_dsn: str,
                                                        tmp_path: Path) -> None:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "mlflow_stalled", run_projector=False,
                              mlflow_read_wait_s=1.0, artifact_root=tmp_path / "artifacts")
    with serving(settings) as port:
        base = f"http://127.0.0.1:{port}"
        status, created = call(base, "POST", "/api/2.0/mlflow/experiments/create", {"name": "stalled"})
        assert status == 200, "a write answers once Kafka acknowledged it, whatever the projector does"
        status, body = call(base, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=stalled")
        assert status == 503 and "projector" in body["message"], body
        assert call(base, "GET", "/api/v1/experiments")[0] == 503, "one rule for every front door"
        projector = ProjectorThread(settings.store, connect(settings.store.clickhouse_url,
                                                                  settings.store.clickhouse_database))
        projector.start()  # the worker comes back: the same read now sees the write
        try:
            deadline = time.monotonic() + 60
            while (status := call(base, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=stalled")[0]
                   ) != 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert status == 200
        finally:
            projector.stop()
