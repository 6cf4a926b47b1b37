"""Reads of MLflow 3 logged models: their folded state, params and tags, linked metrics, artifacts and the
models runs produced."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

# The latest value of each attribute by offset (a model's events share its experiment's partition); argMax
# skips NULLs, which mean "not set by this event".
MODELS = """
SELECT experiment_id, model_id, argMax(name, kafka_offset), argMax(source_run_id, kafka_offset),
       argMax(model_type, kafka_offset), argMax(artifact_location, kafka_offset), argMax(status, kafka_offset),
       argMax(status_message, kafka_offset), ifNull(argMax(deleted, kafka_offset), 0),
       toUnixTimestamp64Milli(min(event_time)), toUnixTimestamp64Milli(max(event_time)), argMin(user, kafka_offset)
FROM logged_models
WHERE (empty({experiment_ids:Array(String)}) OR experiment_id IN {experiment_ids:Array(String)})
  AND (empty({model_ids:Array(String)}) OR model_id IN {model_ids:Array(String)})
GROUP BY experiment_id, model_id
"""
MODEL_FIELDS = ("experiment_id", "model_id", "name", "source_run_id", "model_type", "artifact_location", "status",
                "status_message", "deleted", "creation_timestamp_ms", "last_updated_timestamp_ms", "user")

KV = """
SELECT model_id, kind, key, argMax(value, kafka_offset), argMax(deleted, kafka_offset) AS gone
FROM logged_model_kv
WHERE model_id IN {model_ids:Array(String)}
GROUP BY model_id, kind, key
HAVING gone = 0
ORDER BY model_id, kind, key
"""

METRICS = """
SELECT model_id, key, value, toUnixTimestamp64Milli(ts), step, run_id, dataset_name, dataset_digest
FROM logged_model_metrics
WHERE model_id IN {model_ids:Array(String)}
ORDER BY model_id, key, step, ts, kafka_partition, kafka_offset, point_index
LIMIT 1 BY model_id, key, step, ts, value, run_id, dataset_name, dataset_digest
"""

OUTPUTS = """
SELECT run_id, model_id, argMin(step, kafka_offset), min(kafka_offset) AS o
FROM run_outputs
WHERE run_id IN {run_ids:Array(String)}
GROUP BY run_id, model_id
ORDER BY run_id, o
"""

MODEL_INPUTS = """
SELECT run_id, model_id, min(kafka_offset) AS o
FROM run_model_inputs
WHERE run_id IN {run_ids:Array(String)}
GROUP BY run_id, model_id
ORDER BY run_id, o
"""

# Points of a run already projected, for the keys given: a batch re-logging them with a model_id (what the
# client does in log_model) links them to the model without adding them to the run twice.
EXISTING_POINTS = """
SELECT DISTINCT key, toUnixTimestamp64Milli(ts), step, value
FROM metrics
WHERE experiment_id = {experiment_id:String} AND run_id = {run_id:String} AND key IN {keys:Array(String)}
"""


def models(client: Client, *, experiment_ids: Sequence[str] = (), model_ids: Sequence[str] = ()
           ) -> list[dict[str, Any]]:
    """Folded logged models of the experiments and/or ids given (deleted ones included, flagged)."""
    rows = client.query(MODELS, parameters={"experiment_ids": list(experiment_ids),
                                            "model_ids": list(model_ids)}).result_rows
    return [dict(zip(MODEL_FIELDS, r, strict=True)) | {"deleted": bool(r[8])} for r in rows]


def details(client: Client, model_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Params, tags and metric points of each model: {model_id: {"params", "tags", "metrics"}}."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"params": {}, "tags": {}, "metrics": []})
    if not model_ids:
        return out
    ids = {"model_ids": list(model_ids)}
    for model_id, kind, key, value, _ in client.query(KV, parameters=ids).result_rows:
        out[model_id]["params" if kind == "param" else "tags"][key] = value
    for model_id, key, value, ts, step, run_id, dataset, digest in client.query(METRICS, parameters=ids).result_rows:
        out[model_id]["metrics"].append({"key": key, "value": value, "timestamp": ts, "step": step,
                                         "run_id": run_id, "dataset_name": dataset or None,
                                         "dataset_digest": digest or None, "model_id": model_id})
    return out


def model_inputs(client: Client, run_ids: Sequence[str]) -> dict[str, list[str]]:
    """The logged models each run took as inputs, in the order they were logged."""
    found: dict[str, list[str]] = defaultdict(list)
    if run_ids:
        for run_id, model_id, _ in client.query(MODEL_INPUTS, parameters={"run_ids": list(run_ids)}).result_rows:
            found[run_id].append(model_id)
    return found


def outputs(client: Client, run_ids: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
    """(model_id, step) of the models each run produced, in the order they were logged."""
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    if run_ids:
        for run_id, model_id, step, _ in client.query(OUTPUTS, parameters={"run_ids": list(run_ids)}).result_rows:
            found[run_id].append((model_id, step))
    return found


def existing_points(client: Client, experiment_id: str, run_id: str, keys: Sequence[str]
                    ) -> set[tuple[str, int, int, float]]:
    result = client.query(EXISTING_POINTS, parameters={"experiment_id": experiment_id, "run_id": run_id,
                                                       "keys": list(keys)})
    return {(k, int(ts), int(step), float(v)) for k, ts, step, v in result.result_rows}
