"""A run's MLflow 3 logged models under /api/v1: the models it produced (runs/outputs) or is the source run of,
with their params, tags, linked metrics and registrations."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter

from query_api.deps import ClickHouseDep
from query_api.queries import models as q

router = APIRouter(prefix="/api/v1", tags=["models"])


@router.get("/runs/{run_id}/logged-models")
def run_logged_models(run_id: str, clickhouse: ClickHouseDep) -> dict[str, Any]:
    outputs = q.outputs(clickhouse, [run_id])[run_id]
    steps = dict(outputs)
    found = {m["model_id"]: m for m in q.models(clickhouse) if m["source_run_id"] == run_id}
    found |= {m["model_id"]: m for m in q.models(clickhouse, model_ids=list(steps))} if steps else {}
    details = q.details(clickhouse, list(found))
    out = []
    for model_id, m in sorted(found.items(), key=lambda kv: kv[1]["creation_timestamp_ms"]):
        extra = details[model_id]
        out.append({**m, "step": steps.get(model_id), "params": extra["params"], "tags": extra["tags"],
                    "metrics": extra["metrics"],
                    "registrations": json.loads(extra["tags"].get("mlflow.modelVersions", "[]"))})
    return {"run_id": run_id, "logged_models": out}
