"""A server configured like `mlflow server --default-artifact-root file://... --no-serve-artifacts`: the unmodified
client writes its runs' and models' files itself; runstream records where they are, registers versions from
them, and reads (never writes) only what lies under the root its operator configured."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import serving, stack_settings
from tests.integration.test_mlflow import call

pytest.importorskip("mlflow")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.filterwarnings("ignore::UserWarning")]
API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("client-direct")


@pytest.fixture(scope="module")
def base(kafka_bootstrap: str, clickhouse_dsn: str, tmp_path_factory: pytest.TempPathFactory,
         root: Path) -> Iterator[str]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "mlflow_direct",
                              artifact_root=tmp_path_factory.mktemp("proxied"),
                              mlflow_default_artifact_root=root.as_uri())
    with serving(settings) as port:
        yield f"http://127.0.0.1:{port}"


def _create_version(base: str, **body: object) -> tuple[int, dict[str, object]]:
    status, answer = call(base, "POST", f"{API}/model-versions/create", {"name": "direct-model", **body})
    return status, answer


def test_the_client_writes_and_lists_its_files_under_the_configured_root(base: str, root: Path,
                                                                          tmp_path: Path) -> None:
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    client = MlflowClient(base)
    experiment_id = client.create_experiment("direct files")
    location = client.get_experiment(experiment_id).artifact_location
    assert location == f"{root.as_uri()}/{experiment_id}"
    run = client.create_run(experiment_id)
    assert run.info.artifact_uri == f"{location}/{run.info.run_id}/artifacts"
    assert client.get_run(run.info.run_id).info.artifact_uri == run.info.artifact_uri
    source = tmp_path / "notes.txt"
    source.write_text("written by the client")
    client.log_artifact(run.info.run_id, str(source), "dir")
    assert (root / experiment_id / run.info.run_id / "artifacts" / "dir" / "notes.txt").read_text() == \
        "written by the client"
    assert [a.path for a in client.list_artifacts(run.info.run_id, "dir")] == ["dir/notes.txt"]
    fetched = download_artifacts(run_id=run.info.run_id, artifact_path="dir", tracking_uri=base)
    assert (Path(fetched) / "notes.txt").read_text() == "written by the client"
    # the server reads what lies under its configured root: its own listing and the UI's download
    status, listed = call(base, "GET", f"{API}/artifacts/list?run_id={run.info.run_id}&path=dir")
    assert status == 200 and listed["files"] == [{"path": "dir/notes.txt", "is_dir": False, "file_size": 21}]
    query = urllib.parse.urlencode({"run_id": run.info.run_id, "path": "dir/notes.txt"})
    with urllib.request.urlopen(f"{base}/get-artifact?{query}") as response:
        assert response.read() == b"written by the client"


def test_a_registered_model_is_loaded_from_the_clients_own_files(base: str) -> None:
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(base)
    try:
        mlflow.set_experiment("direct models")
        model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
        with mlflow.start_run() as run:
            assert run.info.artifact_uri.startswith("file://")
            mlflow.sklearn.log_model(model, name="model", registered_model_name="direct-registered")
        loaded = mlflow.pyfunc.load_model("models:/direct-registered/1")
        assert list(loaded.predict(np.array([[0.0], [3.0]]))) == [0, 1]
        version = mlflow.MlflowClient(base).get_model_version("direct-registered", "1")
        assert version.source.startswith("models:/m-") and version.run_id == run.info.run_id
    finally:
        mlflow.set_tracking_uri(None)


def test_a_local_source_must_lie_in_its_runs_directory(base: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(base)
    client.create_registered_model("direct-model")
    run = client.create_run(client.create_experiment("direct sources"))
    uri = run.info.artifact_uri
    for source in (uri, f"{uri}/model", f"{uri}/.", f"{uri}/model/..", uri.removeprefix("file://")):
        status, answer = _create_version(base, source=source, run_id=run.info.run_id)
        assert status == 200, (source, answer)
    for body in ({"source": uri}, {"source": "/tmp", "run_id": run.info.run_id},
                 {"source": f"{uri}/../../other", "run_id": run.info.run_id}, {"source": "file:///tmp"}):
        status, answer = _create_version(base, **body)
        assert status == 400 and "To use a local path as a model version" in str(answer["message"]), (body, answer)
    status, answer = _create_version(base, source="file://10.1.2.3/path", run_id=run.info.run_id)
    # MLflow's server answers this one with a 500 INTERNAL_ERROR (its check raises without an error code)
    assert status == 500 and "is not a valid remote uri" in str(answer["message"])
    status, answer = _create_version(base, source="mlflow-artifacts://host:9000/models/../../../")
    assert status == 400 and "without relative path references" in str(answer["message"])
    assert _create_version(base, source="mlflow-artifacts://host:9000/models/artifact/..../")[0] == 200


def test_files_outside_the_configured_root_are_never_read_by_the_server(base: str, tmp_path: Path) -> None:
    """An experiment may name any file: location (its clients write there); the server reads none of it."""
    from mlflow import MlflowClient

    secret = tmp_path / "elsewhere"
    client = MlflowClient(base)
    experiment_id = client.create_experiment("elsewhere", artifact_location=secret.as_uri())
    run = client.create_run(experiment_id)
    assert run.info.artifact_uri == f"{secret.as_uri()}/{run.info.run_id}/artifacts"
    target = secret / run.info.run_id / "artifacts" / "private.txt"
    target.parent.mkdir(parents=True)
    target.write_text("not for the server")
    status, listed = call(base, "GET", f"{API}/artifacts/list?run_id={run.info.run_id}")
    assert status == 200 and listed.get("files") is None
    status, answer = call(base, "GET", f"/get-artifact?run_id={run.info.run_id}&path=private.txt")
    assert status == 404 and "not read" in str(answer["message"])
