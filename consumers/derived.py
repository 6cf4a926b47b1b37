"""Tables computed inside ClickHouse from rows the projector just wrote, each with its own Kafka position.

A derived table is filled by INSERT ... SELECT over an offset range of its source table in one partition.
Its position is max(kafka_offset) of its own rows, so after a crash the projector derives exactly the range
it is missing. (Materialized views did this before; a kill between the two parts of one INSERT lost a block.)
"""

from __future__ import annotations

from dataclasses import dataclass

RANGE = "kafka_partition = {partition:UInt32} AND kafka_offset > {after:Int64} AND kafka_offset <= {upto:UInt64}"


@dataclass(frozen=True)
class Derived:
    table: str
    source: str
    sql: str


SUMMARY = Derived("run_metric_summary", "metrics", f"""
INSERT INTO run_metric_summary (experiment_id, key, run_id, last_value, min_value, max_value, sum_value,
                                value_count, point_count, last_step, last_ts, kafka_partition, kafka_offset)
SELECT experiment_id, key, run_id,
       argMaxState(value, (step, ts, kafka_offset, point_index)),
       min(if(isNaN(value), NULL, value)), max(if(isNaN(value), NULL, value)),
       sumIf(value, NOT isNaN(value)), countIf(NOT isNaN(value)), count(), max(step), max(ts),
       kafka_partition, max(kafka_offset)
FROM metrics WHERE {RANGE}
GROUP BY experiment_id, key, run_id, kafka_partition
""")

OFFSETS = Derived("event_offsets", "events", f"""
INSERT INTO event_offsets (kafka_partition, kafka_offset, events, dead_letters)
SELECT kafka_partition, max(kafka_offset), count(), countIf(event_type = 'DeadLetter')
FROM events WHERE {RANGE}
GROUP BY kafka_partition
""")

DERIVED: tuple[Derived, ...] = (SUMMARY, OFFSETS)
