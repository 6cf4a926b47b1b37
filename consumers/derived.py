"""Tables computed inside ClickHouse from rows the projector just wrote, each with its own Kafka position.

A derived table is filled by INSERT ... SELECT over an offset range of its source table in one partition.
Its position is max(kafka_offset) of its own rows, so after a crash the projector derives exactly the range
it is missing. (Materialized views did this before; a kill between the two parts of one INSERT lost a block.)

A derived table may also say how to build its rows from the source block just inserted (`from_block`, pure):
the projector then inserts those instead of reading the points back (the SQL stays the one definition, used
after a crash, for a table whose source is not being written, and checked equal by the tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from string import Template
from typing import Any

from consumers.projections.base import Block
from consumers.projections.summary import summary_block

RANGE = "kafka_partition = {partition:UInt32} AND kafka_offset > {after:Int64} AND kafka_offset <= {upto:UInt64}"


@dataclass(frozen=True)
class Derived:
    table: str
    source: str
    template: str
    from_block: Callable[[Any], Any] | None = None
    """The rows for a source block (same offsets), or None to derive with the SQL."""

    def sql(self, target: str | None = None, source: str | None = None) -> str:
        """The INSERT ... SELECT, into `target` from `source` (by default the table and source themselves;
        a replay names its shadow tables). Both names come from code, never from a request."""
        return Template(self.template).substitute(target=target or self.table, source=source or self.source)


def summary_select(where: str, source: str = "metrics") -> str:
    """The one definition of a metric summary: per (experiment, key, run) of the metrics rows where `where`."""
    return f"""
SELECT experiment_id, key, run_id,
       argMaxState(value, (step, ts, kafka_offset, point_index)) AS last_value,
       max((step, ts, kafka_offset, point_index, value)) AS last_point,
       min(if(isNaN(value), NULL, value)) AS min_value, max(if(isNaN(value), NULL, value)) AS max_value,
       sumIf(value, NOT isNaN(value)) AS sum_value, countIf(NOT isNaN(value)) AS value_count,
       count() AS point_count, max(step) AS last_step, max(ts) AS last_ts,
       kafka_partition, max(kafka_offset) AS max_offset
FROM {source} WHERE {where}
GROUP BY experiment_id, key, run_id, kafka_partition"""


SUMMARY = Derived("run_metric_summary", "metric_chunks", f"""
INSERT INTO $target (experiment_id, key, run_id, last_value, last_point, min_value, max_value, sum_value,
                                value_count, point_count, last_step, last_ts, kafka_partition, kafka_offset)
{summary_select(RANGE, "$source ARRAY JOIN step, ts, value, point_index")}
""", summary_block)


def offsets_block(events: Block) -> Block:
    """event_offsets' rows for a block of events rows, one per partition (the SQL below, over the same rows)."""
    block = Block("event_offsets", ("kafka_partition", "kafka_offset", "events", "dead_letters"))
    column = events.columns.index
    types, partitions, offsets = (events.data[column(c)] for c in ("event_type", "kafka_partition", "kafka_offset"))
    rows: dict[int, list[int]] = {}
    for kind, partition, offset in zip(types, partitions, offsets, strict=True):
        row = rows.setdefault(partition, [0, 0, 0])
        row[0], row[1], row[2] = max(row[0], offset), row[1] + 1, row[2] + (kind == "DeadLetter")
    for partition, (offset, count, dead) in sorted(rows.items()):
        block.append(partition, offset, count, dead)
    return block


OFFSETS = Derived("event_offsets", "events", f"""
INSERT INTO $target (kafka_partition, kafka_offset, events, dead_letters)
SELECT kafka_partition, max(kafka_offset), count(), countIf(event_type = 'DeadLetter')
FROM $source WHERE {RANGE}
GROUP BY kafka_partition
""", offsets_block)

DERIVED: tuple[Derived, ...] = (SUMMARY, OFFSETS)
