"""Reads of experiments' current run state for the in-memory state path (query_api/statecache/): every run of
run_state with the values the search's SQL compares (query_api/queries/filters.py), computed by ClickHouse
itself so the two paths cannot disagree (toFloat64OrNull of params and tags, times in milliseconds), and every
run's metric summaries with the search's aggregates; for a refresh, the runs changed after given log positions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clickhouse_connect.driver.client import Client

from query_api.queries import run_state

_PARAM = run_state.param_value("v")
_TAG = run_state.tag_value("v")
_LIVE = run_state.tag_live("v")
STATE = f"""
SELECT run_id, experiment_id, kafka_partition, first_offset, name.3, status.3,
       toUnixTimestamp64Micro(start_time), toUnixTimestamp64Micro(end_time.3),
       toUnixTimestamp64Milli(start_time), toUnixTimestamp64Milli(end_time.3),
       parent_run_id.3, user.3, source.3, description.3, ifNull(deleted.3, 0),
       mapApply((k, v) -> (k, {_PARAM}), params),
       mapApply((k, v) -> (k, toFloat64OrNull({_PARAM})), params),
       mapApply((k, v) -> (k, {_TAG}), mapFilter((k, v) -> {_LIVE}, tags)),
       mapApply((k, v) -> (k, toFloat64OrNull({_TAG})), mapFilter((k, v) -> {_LIVE}, tags))
FROM run_state FINAL
WHERE experiment_id IN {{experiment_ids:Array(String)}} AND first_offset IS NOT NULL{{runs}}
ORDER BY run_id
LIMIT {{limit:UInt64}}
"""
# The aggregates of filters.METRIC_AGGREGATES (last, min, max, avg, count) and the shaping's count and last step.
SUMMARIES = """
SELECT run_id, key, tupleElement(max(last_point), 5), min(min_value), max(max_value),
       sum(sum_value) / sum(value_count), sum(point_count), max(last_step)
FROM run_metric_summary
WHERE experiment_id IN {experiment_ids:Array(String)}{runs}
GROUP BY run_id, key
"""
_AFTER = ("(NOT has({partitions:Array(UInt32)}, kafka_partition) OR kafka_offset > "
          "arrayElement({offsets:Array(UInt64)}, indexOf({partitions:Array(UInt32)}, kafka_partition)))")
CHANGED = f"""
SELECT run_id FROM run_state WHERE experiment_id IN {{experiment_ids:Array(String)}} AND {_AFTER}
UNION DISTINCT
SELECT run_id FROM run_metric_summary WHERE experiment_id IN {{experiment_ids:Array(String)}} AND {_AFTER}
"""
_RUNS = " AND run_id IN {run_ids:Array(String)}"


def states(client: Client, experiment_ids: list[str], run_ids: list[str] | None = None,
           limit: int = 2**63) -> Sequence[Sequence[Any]]:
    """The state rows of the experiments' runs (only `run_ids` when given), at most `limit`, by run_id."""
    sql = STATE.replace("{runs}", _RUNS if run_ids is not None else "")
    bind: dict[str, Any] = {"experiment_ids": experiment_ids, "limit": limit}
    if run_ids is not None:
        bind["run_ids"] = run_ids
    return client.query(sql, parameters=bind).result_rows


def summaries(client: Client, experiment_ids: list[str], run_ids: list[str] | None = None
              ) -> Sequence[Sequence[Any]]:
    """(run_id, key, last, min, max, avg, points, last step) of the experiments' runs (only `run_ids`)."""
    sql = SUMMARIES.replace("{runs}", _RUNS if run_ids is not None else "")
    bind: dict[str, Any] = {"experiment_ids": experiment_ids}
    if run_ids is not None:
        bind["run_ids"] = run_ids
    return client.query(sql, parameters=bind).result_rows


def changed(client: Client, experiment_ids: list[str], after: dict[int, int]) -> list[str]:
    """The runs of the experiments with a state or summary row written after the log positions `after`."""
    bind = {"experiment_ids": experiment_ids, "partitions": list(after), "offsets": list(after.values())}
    return [row[0] for row in client.query(CHANGED, parameters=bind).result_rows]
