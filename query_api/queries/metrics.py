"""The points of one metric of one run."""

from __future__ import annotations

from typing import Any

from clickhouse_connect.driver.client import Client

POINTS = """
SELECT step, value, toUnixTimestamp64Milli(ts)
FROM metrics FINAL
WHERE experiment_id = {experiment_id:String} AND key = {key:String} AND run_id = {run_id:String}
ORDER BY step, ts, kafka_offset, point_index
"""


def metric_points(client: Client, experiment_id: str, run_id: str, key: str) -> list[dict[str, Any]]:
    rows = client.query(POINTS, parameters={"experiment_id": experiment_id, "run_id": run_id, "key": key})
    return [{"step": s, "value": v, "timestamp": t} for s, v, t in rows.result_rows]
