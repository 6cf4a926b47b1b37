"""The MLflow REST-tests harness (conformance/mlflow_rest_plugin.py) on a stand-in MLflow tree shaped like
MLflow's: a `mlflow_client` fixture over ["file", "sqlalchemy"] that starts a server with `_init_server`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
STAND_IN = '''
import pytest
from mlflow import MlflowClient
from tests.tracking.integration_test_utils import _init_server


@pytest.fixture(params=["file", "sqlalchemy"])
def mlflow_client(request, tmp_path):
    with _init_server(f"sqlite:///{tmp_path}/db", root_artifact_uri=tmp_path.as_uri()) as url:
        yield MlflowClient(url)


def test_create_run_keeps_start_time(mlflow_client):
    experiment_id = mlflow_client.create_experiment("harness")
    run = mlflow_client.create_run(experiment_id, start_time=456)
    assert mlflow_client.get_run(run.info.run_id).info.start_time == 456


def test_registered_model_round_trip(mlflow_client):
    mlflow_client.create_registered_model("harness-model")
    assert mlflow_client.get_registered_model("harness-model").name == "harness-model"


def test_search_traces_fails(mlflow_client):
    mlflow_client.search_traces(locations=["0"])
'''
UTILS = '''
import contextlib

@contextlib.contextmanager
def _init_server(backend_uri, root_artifact_uri, extra_env=None):
    raise AssertionError("the harness replaces this with a runstream")
    yield
'''


def test_the_harness_runs_mlflows_tests_against_runstream(tmp_path: Path, kafka_bootstrap: str) -> None:
    tree = tmp_path / "mlflow-src"
    (tree / "tests" / "tracking").mkdir(parents=True)
    (tree / "tests" / "__init__.py").write_text("")
    (tree / "tests" / "tracking" / "__init__.py").write_text("")
    (tree / "tests" / "tracking" / "integration_test_utils.py").write_text(UTILS)
    (tree / "tests" / "tracking" / "test_rest_tracking.py").write_text(STAND_IN)
    report = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'conformance'}:{ROOT}",
           "RUNSTREAM_TEST_KAFKA_BOOTSTRAP": kafka_bootstrap}
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/tracking/test_rest_tracking.py", "-p",
                           "mlflow_rest_plugin", "-p", "no:cacheprovider", "-q", "-o", "addopts=",
                           f"--runstream-report={report}"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=600)
    found = json.loads(report.read_text())
    assert found["groups"] == {"registry": {"passed": 1}, "tracking": {"passed": 1},
                               "traces and assessments": {"failed": 1}}, done.stdout[-3000:]
    assert all("[sqlalchemy]" in t for t in found["tests"]), "the file variants are deselected"
