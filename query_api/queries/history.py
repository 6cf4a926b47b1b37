"""A run's events in log order, from the audit table."""

from __future__ import annotations

import json
from typing import Any

from clickhouse_connect.driver.client import Client

from query_api.timefmt import iso_from_micros

HISTORY = """
SELECT seq, event_id, event_type, toUnixTimestamp64Micro(event_time), kafka_partition, kafka_offset, payload,
       producer_user, producer_host, toUnixTimestamp64Micro(projected_at), error
FROM events FINAL
WHERE run_id = {run_id:String}
ORDER BY kafka_partition, kafka_offset
"""


def seq_gaps(seqs: list[int]) -> list[list[int]]:
    """Missing [first, last] ranges of a run's seq numbers, which start at 1."""
    gaps, expected = [], 1
    for seq in sorted(set(seqs)):
        if seq > expected:
            gaps.append([expected, seq - 1])
        expected = max(expected, seq + 1)
    return gaps


def run_history(client: Client, run_id: str) -> list[dict[str, Any]]:
    out = []
    for seq, eid, etype, at, part, off, payload, user, host, projected, error in client.query(
        HISTORY, parameters={"run_id": run_id}
    ).result_rows:
        out.append({
            "seq": seq, "event_id": str(eid), "type": etype, "event_time": iso_from_micros(at),
            "partition": part, "offset": off, "payload": json.loads(payload),
            "producer": {"user": user, "host": host}, "projected_at": iso_from_micros(projected),
            **({"error": error} if error else {}),
        })
    return out
