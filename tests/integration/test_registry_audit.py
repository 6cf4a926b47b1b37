"""The registry's audit trail under /api/v1 (history, as-of, lineage), and that rebuild and verify leave the
model and registry tables and their answers unchanged."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration.conftest import Stack
from tests.integration.test_rebuild import _client, _job

pytestmark = pytest.mark.integration
API = "/api/2.0/mlflow"
MODEL_TABLES = ["logged_models", "logged_model_kv", "logged_model_metrics", "run_outputs", "logged_model_artifacts",
                "registry_changes"]


def _post(stack: Stack, path: str, body: dict[str, Any], method: str = "POST") -> dict[str, Any]:
    answer = stack.api.request(method, f"{API}/{path}", json=body)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def _build(stack: Stack) -> dict[str, Any]:
    """A run producing a logged model with linked metrics, registered twice; the alias moved v1 -> v2 -> v1."""
    experiment_id = _post(stack, "experiments/create", {"name": "audit"})["experiment_id"]
    run = _post(stack, "runs/create", {"experiment_id": experiment_id, "run_name": "trainer"})
    run_id = run["run"]["info"]["run_id"]
    _post(stack, "runs/log-batch", {"run_id": run_id, "params": [{"key": "lr", "value": "0.1"}]})
    model = _post(stack, "logged-models", {"experiment_id": experiment_id, "name": "model", "source_run_id": run_id,
                                           "params": [{"key": "depth", "value": "3"}]})["model"]
    model_id = model["info"]["model_id"]
    _post(stack, "runs/outputs", {"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]})
    _post(stack, "runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "acc", "value": 0.93, "timestamp": 1_700_000_000_000, "step": 1, "model_id": model_id,
         "dataset_name": "val", "dataset_digest": "abc"}]})
    _post(stack, f"logged-models/{model_id}", {"status": "LOGGED_MODEL_READY"}, "PATCH")
    _post(stack, "registered-models/create", {"name": "audited"})
    _post(stack, "model-versions/create", {"name": "audited", "source": "s3://bucket/v1"})
    _post(stack, "model-versions/create", {"name": "audited", "source": f"models:/{model_id}", "model_id": model_id})
    instants = [datetime.now().astimezone()]
    for version in ("1", "2", "1"):
        time.sleep(0.05)
        _post(stack, "registered-models/alias", {"name": "audited", "alias": "champion", "version": version})
        time.sleep(0.05)
        instants.append(datetime.now().astimezone())
    return {"run_id": run_id, "model_id": model_id, "instants": instants}


def _as_of(stack: Stack, at: datetime) -> Any:
    answer = stack.api.get("/api/v1/registry/models/audited/aliases/champion", params={"as_of": at.isoformat()})
    assert answer.status_code == 200, answer.text
    return answer.json()["version"]


def _answers(stack: Stack, built: dict[str, Any]) -> dict[str, Any]:
    get = stack.api.get
    return {
        "as_of": [_as_of(stack, at) for at in built["instants"]],
        "history": get("/api/v1/registry/models/audited/history").json(),
        "v2": get("/api/v1/registry/models/audited/versions/2/history").json(),
        "lineage": get("/api/v1/registry/models/audited/versions/2/lineage").json(),
        "model": get("/api/v1/registry/models/audited").json(),
    }


def _tables(stack: Stack) -> dict[str, list[tuple[Any, ...]]]:
    client = _client(stack)
    return {t: sorted(map(tuple, client.query(f"SELECT * EXCEPT (event_id) FROM `{t}` FINAL" if t not in (
        "logged_model_metrics",) else f"SELECT * FROM `{t}` FINAL").result_rows), key=repr) for t in MODEL_TABLES}


def test_alias_as_of_history_lineage_and_rebuild(stack: Stack) -> None:
    built = _build(stack)
    answers = _answers(stack, built)
    assert answers["as_of"] == [None, 1, 2, 1]
    assert _as_of(stack, built["instants"][0] - timedelta(days=1)) is None
    types = [e["type"] for e in answers["history"]["events"]]
    assert types == ["RegisteredModelCreated", "ModelVersionCreated", "ModelVersionCreated", "ModelAliasSet",
                     "ModelAliasSet", "ModelAliasSet"]
    assert all(e["producer"]["host"] and e["offset"] >= 0 for e in answers["history"]["events"])
    # version 2: created, then champion set to it and moved away from it
    assert [(e["type"], e["payload"]["version"]) for e in answers["v2"]["events"]] == [
        ("ModelVersionCreated", 2), ("ModelAliasSet", 2), ("ModelAliasSet", 1)]
    lineage = answers["lineage"]
    assert lineage["logged_model"]["model_id"] == built["model_id"]
    assert lineage["logged_model"]["params"] == {"depth": "3"}
    assert [(m["key"], m["value"], m["dataset_name"]) for m in lineage["logged_model"]["metrics"]] == [
        ("acc", 0.93, "val")]
    assert lineage["run"]["run_id"] == built["run_id"] and lineage["run"]["params"] == {"lr": "0.1"}
    assert answers["model"]["aliases"] == [{"alias": "champion", "version": "1"}]
    # MLflow's side sees the same: the alias, and the logged model's registration tag
    got = stack.api.get(f"{API}/registered-models/alias", params={"name": "audited", "alias": "champion"}).json()
    assert got["model_version"]["version"] == "1"
    before = _tables(stack)
    assert all(before[t] for t in MODEL_TABLES if t != "logged_model_artifacts")
    status = _job(stack, "rebuild")
    assert status["state"] == "done", status
    assert _tables(stack) == before
    assert _answers(stack, built) == answers
    status = _job(stack, "verify")
    assert status["state"] == "done" and status["differences"] == [], status


def test_an_unknown_model_or_version_is_404(stack: Stack) -> None:
    assert stack.api.get("/api/v1/registry/models/nope/history").status_code == 404
    assert stack.api.get("/api/v1/registry/models/nope/aliases/x").status_code == 404
