"""The differences MLflow's own REST tests found between runstream and MLflow's server, each held to what MLflow
answers (tests/tracking/test_rest_tracking.py; that file is not part of this repository)."""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import serving, stack_settings
from tests.integration.test_mlflow import call

pytest.importorskip("mlflow")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.filterwarnings("ignore::UserWarning")]
API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def base(kafka_bootstrap: str, clickhouse_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "mlflow_differences",
                              artifact_root=tmp_path_factory.mktemp("artifacts"), artifact_max_bytes=1_000_000)
    with serving(settings) as port:
        yield f"http://127.0.0.1:{port}"


def bad_request(base: str, path: str, body: dict[str, object]) -> str:
    status, answer = call(base, "POST", f"{API}{path}", body)
    assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE", (status, answer)
    return str(answer["message"])


def test_errors_name_the_parameter_as_mlflow_does(base: str) -> None:
    assert "Invalid value 123 for parameter 'name'" in bad_request(base, "/experiments/create", {"name": 123})
    assert "Missing value for required parameter 'name'." in bad_request(base, "/experiments/create", {})
    assert "Invalid value 9.0 for parameter 'artifact_location'" in bad_request(
        base, "/experiments/create", {"name": "x", "artifact_location": 9.0})
    assert """Invalid value "5" for parameter 'tags'""" in bad_request(
        base, "/experiments/create", {"name": "x", "tags": "5"})
    status, created = call(base, "POST", f"{API}/experiments/create", {"name": "wording"})
    run_id = call(base, "POST", f"{API}/runs/create", {"experiment_id": created["experiment_id"]})[1]["run"]["info"][
        "run_id"]
    metric = {"run_id": run_id, "key": "m", "value": 1, "timestamp": 5, "step": 0}
    assert "Invalid value 31 for parameter 'run_id' supplied" in bad_request(base, "/runs/log-metric",
                                                                             {**metric, "run_id": 31})
    assert "Missing value for required parameter 'key'" in bad_request(base, "/runs/log-metric",
                                                                       {**metric, "key": None})
    assert "Missing value for required parameter 'key'" in bad_request(base, "/runs/set-tag",
                                                                       {"run_id": run_id, "value": "v"})
    assert "Invalid value 41 for parameter 'value' supplied" in bad_request(
        base, "/runs/set-tag", {"run_id": run_id, "key": "k", "value": 41})
    assert call(base, "POST", f"{API}/runs/set-tag", {"run_uuid": run_id, "key": "k", "value": "v"})[0] == 200


def test_delete_tag_of_an_unknown_run_is_not_found(base: str) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match=r"Run .+ not found") as info:
        MlflowClient(base).delete_tag("fake_run_id", "taggity")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    status, _ = call(base, "POST", f"{API}/runs/delete-tag", {"run_id": "0" * 32, "key": "k"})
    assert status == 404


def test_a_relative_artifact_location_is_made_absolute_under_the_servers_directory(base: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(base)
    experiment_id = client.create_experiment("relative-location", artifact_location="my_location")
    assert client.get_experiment(experiment_id).artifact_location == str(Path(os.getcwd()) / "my_location")
    absolute = client.create_experiment("absolute-location", artifact_location="s3://bucket/x")
    assert client.get_experiment(absolute).artifact_location == "s3://bucket/x"


def test_experiment_search_orders_as_mlflows_sql_store(base: str) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(base)
    names = [f"order-{n}" for n in ("a", "ab", "Abc")]
    ids = []
    for name in names:
        time.sleep(0.002)
        ids.append(client.create_experiment(name))
    found = [e.name for e in client.search_experiments(view_type=ViewType.ALL)]
    ours = [n for n in found if n.startswith("order-")]
    assert ours == ["order-Abc", "order-ab", "order-a"], found
    assert found[-1] == "Default", "the default experiment is the oldest"
    by_name = [e.name for e in client.search_experiments(order_by=["name DESC"], filter_string="name LIKE 'order-%'")]
    assert by_name == ["order-ab", "order-a", "order-Abc"]


def test_dataset_inputs_keep_all_their_tags_in_order(base: str, tmp_path: Path) -> None:
    import mlflow
    import pandas as pd
    from mlflow.data.pandas_dataset import from_pandas

    df = pd.DataFrame([[1, 2, 3], [1, 2, 3]], columns=["a", "b", "c"])
    path = tmp_path / "temp.csv"
    df.to_csv(path)
    mlflow.set_tracking_uri(base)
    try:
        mlflow.set_experiment("inputs-tags")
        with mlflow.start_run() as run:
            mlflow.log_input(from_pandas(df, source=path), "train", {"foo": "baz"})
        (dataset_input,) = mlflow.MlflowClient(base).get_run(run.info.run_id).inputs.dataset_inputs
    finally:
        mlflow.set_tracking_uri(None)
    assert [(t.key, t.value) for t in dataset_input.tags] == [("foo", "baz"), ("mlflow.data.context", "train")]


# -- routes MLflow's UI calls ------------------------------------------------------------------------------------
def new_run(base: str, name: str) -> tuple[str, str]:
    experiment_id = call(base, "POST", f"{API}/experiments/create", {"name": name})[1]["experiment_id"]
    run = call(base, "POST", f"{API}/runs/create", {"experiment_id": experiment_id})[1]["run"]["info"]["run_id"]
    return experiment_id, run


def test_history_bulk_answers_as_mlflows_ui_route(base: str) -> None:
    _, first = new_run(base, "bulk")
    points = [(1, 2, 10.0), (1, 3, 11.0), (2, 3, 12.0)]
    for ts, step, value in points:
        call(base, "POST", f"{API}/runs/log-metric",
             {"run_id": first, "key": "a", "value": value, "timestamp": ts, "step": step})
    bulk = f"/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id={first}&metric_key=a"
    status, body = call(base, "GET", bulk)
    assert status == 200 and body["metrics"] == [
        {"key": "a", "value": v, "timestamp": ts, "step": step, "run_id": first} for ts, step, v in points]
    assert len(call(base, "GET", bulk + "&max_results=2")[1]["metrics"]) == 2
    status, body = call(base, "GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk?metric_key=a")
    assert status == 400 and body["message"] == "GetMetricHistoryBulk request must specify at least one run_id."
    status, body = call(base, "GET", f"/ajax-api/2.0/mlflow/metrics/get-history-bulk?run_id={first}")
    assert status == 400 and body["message"] == "GetMetricHistoryBulk request must specify a metric_key."


def test_search_datasets_lists_an_experiments_datasets_with_their_context(base: str) -> None:
    experiment_id, run_id = new_run(base, "datasets")
    dataset = {"name": "name1", "digest": "digest1", "source_type": "s", "source": "x"}
    call(base, "POST", f"{API}/runs/log-inputs", {"run_id": run_id, "datasets": [
        {"dataset": dataset, "tags": [{"key": "mlflow.data.context", "value": "training"}]}]})
    status, body = call(base, "POST", "/ajax-api/2.0/mlflow/experiments/search-datasets",
                        {"experiment_ids": [experiment_id]})
    assert status == 200 and body["dataset_summaries"] == [
        {"experiment_id": experiment_id, "name": "name1", "digest": "digest1", "context": "training"}]
    status, body = call(base, "POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", {})
    assert status == 400 and "must specify at least one experiment_id" in body["message"]


def refused_before_the_body(base: str, path: str, length: int) -> tuple[int, Any]:
    """(status, JSON) of a POST whose headers announce `length` bytes of body and which sends none of it: the
    answer to the headers alone."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        response = connection.getresponse()
        text = response.read()
        return response.status, json.loads(text) if text else None
    finally:
        connection.close()


def test_the_uis_upload_is_an_artifact_of_the_run(base: str) -> None:
    _, run_id = new_run(base, "ui-upload")
    upload = f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={run_id}"
    assert call(base, "POST", upload)[1]["message"] == "Request must specify path."
    assert call(base, "POST", upload + "&path=../x.txt")[1] == {"error_code": "INVALID_PARAMETER_VALUE",
                                                                 "message": "Invalid path"}
    assert call(base, "POST", upload + "&path=t.txt")[1]["message"] == "Request must specify data."
    assert call(base, "POST", upload + "&path=t.txt", raw=b"hello world")[0] == 200
    listed = call(base, "GET", f"{API}/artifacts/list?run_id={run_id}")[1]
    assert [f["path"] for f in listed["files"]] == ["t.txt"]
    import urllib.request

    with urllib.request.urlopen(f"{base}/get-artifact?run_uuid={run_id}&path=t.txt", timeout=30) as answer:
        assert answer.read() == b"hello world"
    assert call(base, "GET", f"/get-artifact?run_uuid={run_id}&path=../t.txt")[0] == 400
    # an empty body changes nothing stored; one over the limit is a 413, streamed, and leaves no file behind
    assert call(base, "POST", upload + "&path=t.txt")[1]["message"] == "Request must specify data."
    # The 413 comes from the Content-Length alone, before the body is read; a client still writing a body the
    # server has refused may meet a closed socket (EPIPE) before it reads the answer, so only the headers are sent.
    status, too_big = refused_before_the_body(base, upload + "&path=big.bin", 1_000_001)
    assert status == 413, too_big
    listed = call(base, "GET", f"{API}/artifacts/list?run_id={run_id}")[1]
    assert [f["path"] for f in listed["files"]] == ["t.txt"] and listed["files"][0]["file_size"] == 11


def test_what_runstream_does_not_serve_answers_mlflow_shaped_json(base: str) -> None:
    for method, path, body in (("POST", "/graphql", {"query": "{ test }"}),
                               ("POST", "/ajax-api/2.0/mlflow/runs/create-promptlab-run", {}),
                               ("POST", "/ajax-api/2.0/mlflow/gateway-proxy", {}),
                               ("GET", "/api/3.0/mlflow/traces/tr-1", None),
                               ("POST", "/api/3.0/mlflow/datasets/create", {})):
        status, answer = call(base, method, path, body)
        assert status == 501 and answer["error_code"] == "NOT_IMPLEMENTED", (path, status, answer)
    status, answer = call(base, "GET", "/api/2.0/mlflow/no-such-route")
    assert status == 404 and answer["error_code"] == "ENDPOINT_NOT_FOUND"


def test_a_run_shows_the_logged_models_it_took_as_inputs(base: str) -> None:
    from mlflow import MlflowClient
    from mlflow.entities.logged_model_input import LoggedModelInput

    client = MlflowClient(base)
    experiment_id = client.create_experiment("model-inputs")
    run = client.create_run(experiment_id)
    model = client.create_logged_model(experiment_id=experiment_id)
    client.log_inputs(run.info.run_id, models=[LoggedModelInput(model_id=model.model_id)])
    assert [m.model_id for m in client.get_run(run.info.run_id).inputs.model_inputs] == [model.model_id]


def test_log_parameter_names_the_key_as_mlflow_does(base: str) -> None:
    _, run_id = new_run(base, "param-wording")
    assert "Invalid value 31 for parameter 'key' supplied" in bad_request(
        base, "/runs/log-parameter", {"run_id": run_id, "key": 31, "value": "v"})


def test_a_logged_models_file_is_served_to_the_ui(base: str) -> None:
    import mlflow

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context: object, model_input: object) -> object:
            return model_input

    mlflow.set_tracking_uri(base)
    try:
        info = mlflow.pyfunc.log_model(name="model", python_model=Echo())
    finally:
        mlflow.set_tracking_uri(None)
    files = f"/ajax-api/2.0/mlflow/logged-models/{info.model_id}/artifacts/files"
    import urllib.request

    with urllib.request.urlopen(f"{base}{files}?artifact_file_path=MLmodel", timeout=30) as answer:
        assert info.model_id in answer.read().decode()
    assert call(base, "GET", f"{files}?artifact_file_path=../x")[0] == 400
    assert call(base, "GET", "//model-versions/get-artifact?name=m&version=1&path=../x")[1] == {
        "error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid path"}
