"""MLflow 3 logged models and the model registry through the unmodified client: runstream against a real
`mlflow server`, plus what the client cannot show (the events in the log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.mlflow_model_scenario import run_autolog_scenario, run_model_scenario
from tests.integration.test_mlflow import call, mlflow_server, runstream  # noqa: F401 (fixtures)

pytest.importorskip("mlflow")
pytest.importorskip("sklearn")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0")]


def _differences(ours: dict, theirs: dict) -> dict:
    return {k: (ours.get(k), theirs.get(k)) for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)}


def test_models_and_registry_match_a_real_mlflow_server(runstream: str, mlflow_server: str,  # noqa: F811
                                                        tmp_path: Path) -> None:
    ours = run_model_scenario(runstream, tmp_path / "ours", "same")
    theirs = run_model_scenario(mlflow_server, tmp_path / "theirs", "same")
    assert not _differences(ours, theirs), json.dumps(_differences(ours, theirs), indent=1, default=str)
    # what both say is what MLflow promises
    assert ours["run_status"] == "FINISHED" and ours["model_uri_shape"] and ours["registered_version"] == "1"
    assert ours["predictions"] == {"model_uri": True, "runs": True, "version": True} and ours["alias_v1"]
    assert ("val_acc", 0.9, 0) in ours["logged_model"]["metrics"]
    # the server lists version 1 on the logged model (an int), then the client adds it again (a string): as MLflow
    assert ours["logged_model"]["registrations"] == [{"name": "same-clf", "version": 1},
                                                     {"name": "same-clf", "version": "1"}]
    assert ours["run_metric_history"] == [(0, 0.5), (1, 0.75)], "re-logged with model_id, not doubled"
    found = ours["search_logged_models"]
    assert (found["by_name"], found["by_run"], found["by_metric"], found["by_metric_miss"], found["by_tag"]) == (
        1, 1, 1, 0, 1)
    assert ours["alias_moved"] == "2" and ours["alias_deleted"] != "no error"
    assert ours["duplicate_name"] == "RESOURCE_ALREADY_EXISTS" and ours["missing_version"] == "RESOURCE_DOES_NOT_EXIST"
    assert ours["inputs"] == [("train-set", [("mlflow.data.context", "training")])], "one input per dataset"
    assert ours["versions_after_delete"] == ["1"] and ours["deleted_model"] == "RESOURCE_DOES_NOT_EXIST"


def test_sklearn_autolog_matches_a_real_mlflow_server(runstream: str, mlflow_server: str) -> None:  # noqa: F811
    ours = run_autolog_scenario(runstream, "auto")
    theirs = run_autolog_scenario(mlflow_server, "auto")
    assert ours == theirs
    assert ours["status"] == "FINISHED" and ours["logged_models"] == 1
    assert any(m.startswith("training_") for m in ours["metrics"]) and ours["params"]["C"] == "0.5"


def test_registry_rest_shapes_and_errors(runstream: str) -> None:  # noqa: F811
    base = "/api/2.0/mlflow"
    status, created = call(runstream, "POST", f"{base}/registered-models/create",
                           {"name": "rest-model", "tags": [{"key": "t", "value": "1"}], "description": "d"})
    assert status == 200 and created["registered_model"]["name"] == "rest-model", created
    status, found = call(runstream, "GET", f"{base}/registered-models/search?filter=name%20LIKE%20%27rest%25%27")
    assert status == 200 and [m["name"] for m in found["registered_models"]] == ["rest-model"], found
    status, found = call(runstream, "GET", f"{base}/registered-models/search?filter=tags.t%20%3D%20%271%27")
    assert status == 200 and [m["name"] for m in found["registered_models"]] == ["rest-model"], found
    assert call(runstream, "POST", f"{base}/registered-models/create", {"name": "rest-model"})[1]["error_code"] == \
        "RESOURCE_ALREADY_EXISTS"
    assert call(runstream, "POST", f"{base}/registered-models/create", {})[0] == 400
    status, missing = call(runstream, "GET", f"{base}/registered-models/get?name=nope")
    assert (status, missing["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, bad = call(runstream, "POST", f"{base}/model-versions/create", {"name": "rest-model", "source": "/tmp/x"})
    assert status == 400 and "local path" in bad["message"]
    status, version = call(runstream, "POST", f"{base}/model-versions/create",
                           {"name": "rest-model", "source": "s3://bucket/model", "tags": [{"key": "a", "value": "b"}]})
    assert status == 200 and version["model_version"]["version"] == "1", version
    status, uri = call(runstream, "GET", f"{base}/model-versions/get-download-uri?name=rest-model&version=1")
    assert uri == {"artifact_uri": "s3://bucket/model"}
    status, alias = call(runstream, "POST", f"{base}/registered-models/alias",
                         {"name": "rest-model", "alias": "latest", "version": "1"})
    assert status == 400 and "reserved" in alias["message"]
    status, listed = call(runstream, "GET", f"{base}/experiments/search?max_results=5&view_type=ALL")
    assert status == 200 and listed["experiments"], "GET experiments/search, as MLflow's server takes it"
    status, got = call(runstream, "GET", f"{base}/model-versions/search?filter=name%3D%27rest-model%27")
    assert [v["version"] for v in got["model_versions"]] == ["1"] and got["model_versions"][0]["tags"] == [
        {"key": "a", "value": "b"}]


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("POST", "/api/2.0/mlflow/traces", 501, "NOT_IMPLEMENTED"),
    ("GET", "/api/3.0/mlflow/traces/tr-1", 501, "NOT_IMPLEMENTED"),
    ("POST", "/api/2.0/mlflow/webhooks", 501, "NOT_IMPLEMENTED"),
    ("POST", "/ajax-api/3.0/mlflow/scorers/register", 501, "NOT_IMPLEMENTED"),
    ("GET", "/api/2.0/mlflow/no-such-thing", 404, "ENDPOINT_NOT_FOUND"),
    # a served path asked with another method: 405 naming the methods it answers, never the families' 501
    ("PUT", "/api/3.0/mlflow/gateway/secrets/create", 405, "METHOD_NOT_ALLOWED"),
    ("PUT", "/ajax-api/3.0/mlflow/gateway/model-definitions/list", 405, "METHOD_NOT_ALLOWED"),
    ("PUT", "/api/2.0/mlflow/runs/create", 405, "METHOD_NOT_ALLOWED"),
])
def test_routes_not_served_answer_mlflow_json(runstream: str, method: str, path: str, status: int,  # noqa: F811
                                             code: str) -> None:
    got, body = call(runstream, method, path, {} if method == "POST" else None)
    assert (got, body["error_code"]) == (status, code) and body["message"]
