"""One scenario of the unmodified mlflow client, run against any tracking server; it returns what a user
observes (IDs and times left out) so runstream's answers can be compared with a real MLflow server's."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def _clean(value: float) -> float | str:
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def run_scenario(tracking_uri: str, workdir: Path, experiment: str = "mlflow-compat") -> dict[str, Any]:
    """Log a small sweep with nested runs, params, metrics, tags, an artifact and a dataset; read it back."""
    import mlflow
    import pandas as pd
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    observed: dict[str, Any] = {}
    exp = mlflow.set_experiment(experiment)
    observed["experiment"] = {"name": exp.name, "lifecycle_stage": exp.lifecycle_stage,
                              "id_is_integer": exp.experiment_id.isdigit()}
    workdir.mkdir(parents=True, exist_ok=True)
    artifact = workdir / "notes.txt"
    artifact.write_text("learning rate sweep\n")
    dataset = mlflow.data.from_pandas(pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}), name="toy",
                                      targets="y")
    children = []
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("sweep", "lr")
        mlflow.set_tags({"team": "vision", "stage": "dev"})
        for i, lr in enumerate([0.1, 0.01, 0.001]):
            with mlflow.start_run(run_name=f"child-{i}", nested=True) as child:
                children.append(child.info.run_id)
                mlflow.log_params({"lr": lr, "layers": 2 + i})
                for step in range(5):
                    mlflow.log_metrics({"loss": 1.0 / (step + 1) + lr, "acc": 0.5 + 0.1 * step - lr}, step=step)
                mlflow.log_metric("nan_metric", float("nan"), step=0)
                mlflow.set_tag("lr_tag", str(lr))
                mlflow.set_tag("temp", "x")
                mlflow.delete_tag("temp")
        client.log_batch(parent.info.run_id, metrics=[Metric("best", 0.25, 1_700_000_000_000, 0)],
                         params=[Param("n_children", "3")], tags=[RunTag("batch", "yes")])
        mlflow.log_artifact(str(artifact), artifact_path="docs")
        mlflow.log_input(dataset, context="training")
        try:
            mlflow.log_param("sweep", "batch_size")
            observed["param_change"] = "accepted"
        except MlflowException as exc:
            observed["param_change"] = {"error_code": exc.error_code,
                                        "mentions_change": "Changing param values is not allowed" in str(exc)}
        mlflow.log_param("sweep", "lr")  # the same value again is fine
    parent_id = parent.info.run_id

    run = client.get_run(parent_id)
    observed["parent"] = {
        "name": run.info.run_name, "status": run.info.status, "lifecycle": run.info.lifecycle_stage,
        "params": dict(run.data.params), "metrics": dict(run.data.metrics),
        "tags": {k: v for k, v in run.data.tags.items() if k in ("team", "stage", "batch", "mlflow.runName")},
        "inputs": [(d.dataset.name, d.dataset.digest, d.dataset.source_type,
                    {t.key: t.value for t in d.tags}.get("mlflow.data.context"))
                   for d in run.inputs.dataset_inputs],
        "artifact_uri_scheme": run.info.artifact_uri.split(":", 1)[0],
    }
    observed["artifacts"] = sorted((f.path, f.is_dir, f.file_size) for f in client.list_artifacts(parent_id))
    observed["artifacts_docs"] = sorted((f.path, f.is_dir, f.file_size)
                                        for f in client.list_artifacts(parent_id, "docs"))
    downloaded = Path(client.download_artifacts(parent_id, "docs/notes.txt", str(workdir)))
    observed["downloaded"] = downloaded.read_text()

    child = client.get_run(children[1])
    observed["child"] = {
        "params": dict(child.data.params), "metrics": {k: _clean(v) for k, v in child.data.metrics.items()},
        "parent_tag_is_parent": child.data.tags.get("mlflow.parentRunId") == parent_id,
        "tags": {k: v for k, v in child.data.tags.items() if not k.startswith("mlflow.")},
    }
    history = client.get_metric_history(children[1], "loss")
    observed["history"] = [(m.step, round(m.value, 9)) for m in sorted(history, key=lambda m: m.step)]

    exp_id = exp.experiment_id
    found = mlflow.search_runs([exp_id], filter_string="params.lr = '0.01'", output_format="list")
    observed["search_param"] = sorted(r.info.run_name for r in found)
    found = mlflow.search_runs([exp_id], filter_string="metrics.loss < 0.5 and tags.lr_tag != '0.1'",
                               order_by=["metrics.loss ASC"], output_format="list")
    observed["search_metric_ordered"] = [r.info.run_name for r in found]
    frame = mlflow.search_runs([exp_id], order_by=["params.lr DESC"])
    observed["frame"] = {
        "rows": len(frame),
        "columns_present": sorted(c for c in frame.columns if c in (
            "run_id", "status", "params.lr", "metrics.loss", "tags.lr_tag", "tags.mlflow.runName")),
        "names_in_order": [n for n in frame["tags.mlflow.runName"].tolist()],
    }
    page = client.search_runs([exp_id], max_results=2, order_by=["attributes.run_name ASC"])
    observed["paged"] = {"first": [r.info.run_name for r in page], "has_token": bool(page.token)}
    rest = client.search_runs([exp_id], max_results=2, order_by=["attributes.run_name ASC"], page_token=page.token)
    observed["paged"]["second"] = [r.info.run_name for r in rest]

    client.delete_run(children[0])
    observed["after_delete"] = sorted(r.info.run_name for r in client.search_runs([exp_id]))
    observed["deleted_view"] = sorted(r.info.run_name for r in client.search_runs(
        [exp_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY))
    try:
        client.log_param(children[0], "late", "1")
        observed["log_to_deleted"] = "accepted"
    except MlflowException as exc:
        observed["log_to_deleted"] = exc.error_code
    client.restore_run(children[0])
    observed["after_restore"] = sorted(r.info.run_name for r in client.search_runs([exp_id]))
    try:
        client.get_run("0" * 32)
        observed["missing_run"] = "found"
    except MlflowException as exc:
        observed["missing_run"] = exc.error_code
    return observed
