"""A run's events in log order, from the audit table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from query_api.queries.fold import END_OF_TIME, runs_as_of
from query_api.timefmt import iso_from_micros

HISTORY = """
SELECT seq, event_id, event_type, toUnixTimestamp64Micro(event_time), kafka_partition, kafka_offset, payload,
       producer_user, producer_host, toUnixTimestamp64Micro(projected_at), error
FROM events FINAL
WHERE run_id = {run_id:String}
  AND (empty({types:Array(String)}) OR has({types:Array(String)}, event_type))
  AND event_time >= {since:DateTime64(6, 'UTC')} AND event_time <= {until:DateTime64(6, 'UTC')}
  AND kafka_offset > {after:Int64}
ORDER BY kafka_partition, kafka_offset
LIMIT {limit:UInt32}
"""

SEQS = """
SELECT groupArray(seq), count() FROM events
WHERE run_id = {run_id:String} AND event_type NOT IN ('DeadLetter', 'Duplicate')
"""

DELETED = f"SELECT deleted FROM {runs_as_of(END_OF_TIME, 'run_id = {run_id:String}')}"
EVENT_TYPES = (
    "ExperimentCreated", "RunStarted", "ParamsLogged", "MetricsLogged", "TagsSet", "TagDeleted", "ArtifactLogged",
    "InputsLogged", "RunStatusChanged", "RunDeleted", "RunRestored", "RunRenamed", "DeadLetter", "Duplicate",
)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 1, 1, tzinfo=UTC)


def seq_gaps(seqs: list[int]) -> list[list[int]]:
    """Missing [first, last] ranges of a run's seq numbers, which start at 1."""
    gaps, expected = [], 1
    for seq in sorted(set(seqs)):
        if seq > expected:
            gaps.append([expected, seq - 1])
        expected = max(expected, seq + 1)
    return gaps


def run_seqs(client: Client, run_id: str) -> tuple[list[int], int]:
    """Every seq the run's events carry, and how many events it has."""
    seqs, count = client.query(SEQS, parameters={"run_id": run_id}).result_rows[0]
    return list(seqs), int(count)


def is_deleted(client: Client, run_id: str) -> bool:
    rows = client.query(DELETED, parameters={"run_id": run_id}).result_rows
    return bool(rows and rows[0][0])


def run_history(
    client: Client, run_id: str, *, types: list[str] | None = None, since: datetime | None = None,
    until: datetime | None = None, after_offset: int = -1, limit: int = 1000,
) -> list[dict[str, Any]]:
    """One page of a run's events in log order, optionally only some types within a time window."""
    bind = {"run_id": run_id, "types": types or [], "since": since or EARLIEST, "until": until or LATEST,
            "after": after_offset, "limit": limit}
    out = []
    for seq, eid, etype, at, part, off, payload, user, host, projected, error in client.query(
        HISTORY, parameters=bind
    ).result_rows:
        out.append({
            "seq": seq, "event_id": str(eid), "type": etype, "event_time": iso_from_micros(at),
            "partition": part, "offset": off, "payload": json.loads(payload),
            "producer": {"user": user, "host": host}, "projected_at": iso_from_micros(projected),
            **({"error": error} if error else {}),
        })
    return out
