"""Reads of the model registry: its change rows in log order (folded by query_api/mlflow/registry_fold.py)."""

from __future__ import annotations

from typing import Any

from clickhouse_connect.driver.client import Client

COLUMNS = ("registered_model_id", "version", "event_type", "event_time", "user", "name", "new_name", "description",
           "source", "run_id", "model_id", "run_link", "storage_location", "stage", "alias", "tag_key", "tags",
           "event_id", "kafka_partition", "kafka_offset")

# All registry events share one partition (keyed 'mlflow-registry'), so the offset orders them; LIMIT 1 BY
# drops a row inserted twice before ReplacingMergeTree merged it away.
ROWS = f"""
SELECT {", ".join(COLUMNS)}
FROM registry_changes
ORDER BY kafka_partition, kafka_offset
LIMIT 1 BY kafka_partition, kafka_offset
"""

MODEL_ROWS = f"""
SELECT {", ".join(COLUMNS)}
FROM registry_changes
WHERE registered_model_id = {{id:String}}
ORDER BY kafka_partition, kafka_offset
LIMIT 1 BY kafka_partition, kafka_offset
"""


def rows(client: Client) -> list[dict[str, Any]]:
    """Every registry change, in log order."""
    return [dict(zip(COLUMNS, r, strict=True)) for r in client.query(ROWS).result_rows]


def model_rows(client: Client, registered_model_id: str) -> list[dict[str, Any]]:
    """One registered model's changes (its versions' and aliases' included), in log order."""
    result = client.query(MODEL_ROWS, parameters={"id": registered_model_id})
    return [dict(zip(COLUMNS, r, strict=True)) for r in result.result_rows]
