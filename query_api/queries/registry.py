"""Reads of the model registry: its change rows in log order (folded by query_api/mlflow/registry_fold.py)."""

from __future__ import annotations

from datetime import UTC
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


def _row(values: Any) -> dict[str, Any]:
    row = dict(zip(COLUMNS, values, strict=True))
    at = row["event_time"]
    row["event_time"] = at.replace(tzinfo=UTC) if at.tzinfo is None else at  # the column is UTC
    return row


def rows(client: Client) -> list[dict[str, Any]]:
    """Every registry change, in log order."""
    return [_row(r) for r in client.query(ROWS).result_rows]


def model_rows(client: Client, registered_model_id: str) -> list[dict[str, Any]]:
    """One registered model's changes (its versions' and aliases' included), in log order."""
    return [_row(r) for r in client.query(MODEL_ROWS, parameters={"id": registered_model_id}).result_rows]


# The audit history of one registered model (its versions' and aliases' events included), from the events
# table: who wrote each change (producer user and host), when, and where it sits in the log.
HISTORY = """
SELECT event_id, event_type, toUnixTimestamp64Micro(event_time), kafka_partition, kafka_offset, payload,
       producer_user, producer_host
FROM events FINAL
WHERE event_type IN {types:Array(String)} AND JSONExtractString(payload, 'registered_model_id') = {id:String}
ORDER BY kafka_partition, kafka_offset
"""
HISTORY_FIELDS = ("event_id", "type", "event_time_us", "partition", "offset", "payload", "user", "host")


def history(client: Client, registered_model_id: str, types: list[str]) -> list[dict[str, Any]]:
    result = client.query(HISTORY, parameters={"id": registered_model_id, "types": types})
    return [dict(zip(HISTORY_FIELDS, r, strict=True)) for r in result.result_rows]
