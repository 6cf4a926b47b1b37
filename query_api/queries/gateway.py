"""Reads of MLflow's AI gateway: its change rows in log order (folded by query_api/mlflow/gateway_fold.py)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from clickhouse_connect.driver.client import Client

COLUMNS = ("entity_kind", "entity_id", "event_type", "event_time", "user", "name", "provider", "secret_id",
           "model_name", "actor", "value_set", "masked_values", "encrypted_value", "wrapped_dek", "kek_version",
           "auth_config_set", "auth_config")

# Gateway events share one partition (keyed like the registry's), so the offset orders them; LIMIT 1 BY drops a
# row inserted twice before ReplacingMergeTree merged it away.
ROWS = f"""
SELECT {", ".join(COLUMNS)}
FROM gateway_changes
ORDER BY kafka_partition, kafka_offset
LIMIT 1 BY kafka_partition, kafka_offset
"""


def rows(client: Client) -> list[dict[str, Any]]:
    """Every gateway change, in log order."""
    out = []
    for values in client.query(ROWS).result_rows:
        row = dict(zip(COLUMNS, values, strict=True))
        at = row["event_time"]
        row["event_time"] = at.replace(tzinfo=UTC) if at.tzinfo is None else at  # the column is UTC
        out.append(row)
    return out
