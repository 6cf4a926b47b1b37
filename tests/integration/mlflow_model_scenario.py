"""MLflow 3 models and registry through the unmodified client, against any tracking server; returns what a
user observes (ids and times left out) so runstream can be compared with a real MLflow server."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _error(call: Any) -> str:
    from mlflow.exceptions import MlflowException

    try:
        call()
    except MlflowException as exc:
        return exc.error_code
    return "no error"


def run_model_scenario(tracking_uri: str, workdir: Path, prefix: str) -> dict[str, Any]:
    """The scenario against one server; the client's global tracking and registry URIs are reset after it (a
    registry URI left behind sent a later module's registrations to this server, stopped by then)."""
    import mlflow

    try:
        return _model_scenario(tracking_uri, workdir, prefix)
    finally:  # setting a URI also sets its environment variable, which outlives setting None
        mlflow.set_registry_uri(None)
        mlflow.set_tracking_uri(None)
        os.environ.pop("MLFLOW_REGISTRY_URI", None)
        os.environ.pop("MLFLOW_TRACKING_URI", None)


def _model_scenario(tracking_uri: str, workdir: Path, prefix: str) -> dict[str, Any]:
    import mlflow
    import numpy as np
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    workdir.mkdir(parents=True, exist_ok=True)
    observed: dict[str, Any] = {}
    name = f"{prefix}-clf"
    mlflow.set_experiment(f"{prefix}-models")
    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.5], [0.5, 2.0], [2.5, 2.5]])
    y = np.array([0, 0, 1, 1, 0, 1])
    model = LogisticRegression().fit(x, y)
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_param("C", 1.0)
        mlflow.log_metric("train_acc", 0.5, step=0)
        mlflow.log_metric("train_acc", 0.75, step=1)
        info = mlflow.sklearn.log_model(model, name="model", input_example=x[:2], registered_model_name=name)
        mlflow.log_metric("val_acc", 0.9, model_id=info.model_id)
        dataset = mlflow.data.from_numpy(x, targets=y, name="train-set")
        mlflow.log_input(dataset, context="training")
        mlflow.log_metrics({"fit_loss": 0.3}, dataset=dataset)  # logs the dataset again, without a context
    run_id = run.info.run_id
    observed["inputs"] = [(d.dataset.name, [(t.key, t.value) for t in d.tags])
                          for d in client.get_run(run_id).inputs.dataset_inputs]
    observed["run_status"] = client.get_run(run_id).info.status
    observed["model_uri_shape"] = info.model_uri == f"models:/{info.model_id}" and info.model_id.startswith("m-")
    observed["registered_version"] = info.registered_model_version
    expected = model.predict(x).tolist()
    uris = {"model_uri": info.model_uri, "runs": f"runs:/{run_id}/model", "version": f"models:/{name}/1"}
    observed["predictions"] = {k: mlflow.pyfunc.load_model(u).predict(x).tolist() == expected for k, u in uris.items()}
    logged = client.get_logged_model(info.model_id)
    observed["logged_model"] = {
        "name": logged.name, "status": str(logged.status), "source_run_is_run": logged.source_run_id == run_id,
        "metrics": sorted((m.key, m.value, m.step) for m in logged.metrics or []),
        "registrations": json.loads(logged.tags.get("mlflow.modelVersions", "[]")),
        "artifact_location_ends": logged.artifact_location.endswith(f"models/{info.model_id}/artifacts"),
    }
    run_outputs = client.get_run(run_id).outputs
    observed["run_outputs"] = [(o.model_id == info.model_id, o.step) for o in (run_outputs.model_outputs
                                                                               if run_outputs else [])]
    observed["run_metric_history"] = [(m.step, m.value) for m in client.get_metric_history(run_id, "train_acc")]
    client.set_logged_model_tags(info.model_id, {"quality": "good", "temp": "x"})
    client.delete_logged_model_tag(info.model_id, "temp")
    observed["logged_model_tags"] = {k: v for k, v in client.get_logged_model(info.model_id).tags.items()
                                     if not k.startswith("mlflow.")}
    experiment_id = run.info.experiment_id
    searches = {
        "by_name": "name = 'model'", "by_run": f"source_run_id = '{run_id}'", "by_metric": "metrics.val_acc > 0.5",
        "by_metric_miss": "metrics.val_acc > 0.95", "by_tag": "tags.quality = 'good'", "by_status":
        "status = 'READY'"}
    observed["search_logged_models"] = {
        k: len(mlflow.search_logged_models(experiment_ids=[experiment_id], filter_string=f, output_format="list"))
        for k, f in searches.items()}
    # a second version, aliases, descriptions and tags
    second = mlflow.register_model(info.model_uri, name)
    observed["second_version"] = second.version
    client.set_registered_model_alias(name, "champion", "1")
    observed["alias_v1"] = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(x).tolist() == expected
    client.set_registered_model_alias(name, "champion", "2")
    observed["alias_moved"] = client.get_model_version_by_alias(name, "champion").version
    client.set_registered_model_alias(name, "old", "1")
    client.delete_registered_model_alias(name, "old")
    observed["alias_deleted"] = _error(lambda: client.get_model_version_by_alias(name, "old"))
    client.update_registered_model(name, description="a classifier")
    client.set_registered_model_tag(name, "team", "vision")
    client.update_model_version(name, "2", description="second")
    client.set_model_version_tag(name, "2", "validated", "yes")
    client.set_model_version_tag(name, "2", "temp", "x")
    client.delete_model_version_tag(name, "2", "temp")
    got = client.get_registered_model(name)
    observed["registered_model"] = {"description": got.description, "tags": got.tags,
                                    "aliases": dict(got.aliases)}
    v2 = client.get_model_version(name, "2")
    observed["version_2"] = {"description": v2.description, "tags": v2.tags, "aliases": v2.aliases,
                             "run_is_run": v2.run_id == run_id, "model_id_is": v2.model_id == info.model_id,
                             "stage": v2.current_stage, "status": v2.status}
    observed["search_versions"] = sorted(v.version for v in client.search_model_versions(f"name = '{name}'"))
    observed["search_models"] = [m.name for m in client.search_registered_models(f"name LIKE '{prefix}%'")]
    observed["download_uri_is_model"] = client.get_model_version_download_uri(name, "1").endswith(
        f"models/{info.model_id}/artifacts")
    staged = client.transition_model_version_stage(name, "1", "Staging")
    observed["stage"] = staged.current_stage
    observed["duplicate_name"] = _error(lambda: client.create_registered_model(name))
    observed["missing_version"] = _error(lambda: client.get_model_version(name, "9"))
    client.delete_model_version(name, "2")
    observed["deleted_version"] = _error(lambda: client.get_model_version(name, "2"))
    observed["versions_after_delete"] = sorted(v.version for v in client.search_model_versions(f"name = '{name}'"))
    client.rename_registered_model(name, f"{name}-renamed")
    observed["renamed"] = client.get_registered_model(f"{name}-renamed").name == f"{name}-renamed"
    observed["renamed_version"] = client.get_model_version(f"{name}-renamed", "1").name == f"{name}-renamed"
    client.delete_registered_model(f"{name}-renamed")
    observed["deleted_model"] = _error(lambda: client.get_registered_model(f"{name}-renamed"))
    return observed


def run_autolog_scenario(tracking_uri: str, prefix: str) -> dict[str, Any]:
    import mlflow
    import numpy as np
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    experiment = mlflow.set_experiment(f"{prefix}-autolog")
    mlflow.sklearn.autolog()
    try:
        x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.5], [0.5, 2.0], [2.5, 2.5]])
        with mlflow.start_run() as run:
            LogisticRegression(C=0.5).fit(x, np.array([0, 0, 1, 1, 0, 1]))
    finally:
        mlflow.sklearn.autolog(disable=True)
    got = client.get_run(run.info.run_id)
    models = mlflow.search_logged_models(experiment_ids=[experiment.experiment_id],
                                         filter_string=f"source_run_id = '{run.info.run_id}'", output_format="list")
    return {
        "status": got.info.status,
        "metrics": sorted(got.data.metrics),
        "params": {k: got.data.params[k] for k in ("C", "max_iter") if k in got.data.params},
        "n_params": len(got.data.params),
        "logged_models": len(models),
        "model_metrics": sorted(m.key for m in models[0].metrics or []) if models else [],
        "model_ready": str(models[0].status) if models else None,
    }
