"""Where the projection stands in the log: positions per partition, totals, and holes in runs' seq numbers."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

POSITIONS = "SELECT kafka_partition, max(kafka_offset) FROM event_offsets GROUP BY kafka_partition"
# The same positions as one value, (partitions, offsets), for a statement that pins its own snapshot.
SNAPSHOT = ("(SELECT (groupArray(kafka_partition), groupArray(o)) FROM "
            "(SELECT kafka_partition, max(kafka_offset) AS o FROM event_offsets GROUP BY kafka_partition))")
TOTALS = "SELECT sum(events), sum(dead_letters) FROM event_offsets"
GAPS = """
SELECT count(), sum(missing) FROM (
    SELECT run_id, max(seq) - uniqExact(seq) AS missing FROM events
    WHERE run_id != '' AND event_type NOT IN ('DeadLetter', 'Duplicate') GROUP BY run_id HAVING missing > 0
)
"""


def ping(client: Client) -> None:
    """Raise unless ClickHouse answers."""
    client.query("SELECT 1")


def positions(client: Client) -> dict[int, int]:
    """The last projected offset per partition (what a search snapshots, what read-your-writes waits for)."""
    return {int(p): int(o) for p, o in client.query(POSITIONS).result_rows}


def totals(client: Client) -> tuple[int, int]:
    """(events projected, dead letters) over the whole log."""
    events, dead = client.query(TOTALS).result_rows[0]
    return int(events or 0), int(dead or 0)


def seq_gaps(client: Client) -> tuple[int, int]:
    """(runs with holes in their seq numbers, events missing from those holes)."""
    runs, missing = client.query(GAPS).result_rows[0]
    return int(runs or 0), int(missing or 0)
