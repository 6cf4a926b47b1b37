"""`mlflow.pytorch.autolog()` with Lightning: runstream against a real `mlflow server`, same client, same training.

torch and lightning are heavy (a few GB), so they are an extra of their own: `make autolog-test` installs it and
runs this module (CI runs it); `make integration` leaves it out."""

from __future__ import annotations

import json

import pytest

from tests.integration.mlflow_lightning_scenario import run_lightning_autolog
from tests.integration.test_mlflow import mlflow_server, runstream  # noqa: F401 (fixtures)

pytest.importorskip("mlflow")
pytest.importorskip("torch")
pytest.importorskip("lightning")
pytestmark = [pytest.mark.lightning,
              pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]


def test_lightning_autolog_matches_a_real_mlflow_server(runstream: str, mlflow_server: str) -> None:  # noqa: F811
    ours = run_lightning_autolog(runstream, "auto")
    theirs = run_lightning_autolog(mlflow_server, "auto")
    assert ours == theirs, json.dumps({"runstream": ours, "mlflow": theirs}, indent=1)
    assert ours["status"] == "FINISHED" and ours["logged_models"] == 1 and ours["model_ready"].endswith("READY")
    assert {"train_loss", "val_loss"} <= set(ours["metrics"]) and ours["history_lengths"]["train_loss"] == 3
    assert ours["params"]["lr"] == "0.05" and ours["prediction"] is not None
    assert "MLmodel" in ours["model_artifacts"]
