"""The differences MLflow's own REST tests found between runstream and MLflow's server, each held to what MLflow
answers (tests/tracking/test_rest_tracking.py; that file is not part of this repository)."""

from __future__ import annotations

import os
import time
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
def base(kafka_bootstrap: str, clickhouse_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "mlflow_differences",
                              artifact_root=tmp_path_factory.mktemp("artifacts"))
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
