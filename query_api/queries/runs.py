"""Runs: their folded attributes, params, tags and metric summaries, fetched for many runs at once."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

from clickhouse_connect.driver.client import Client

from consumers.derived import summary_select
from query_api.queries import run_state
from query_api.queries.fold import runs_as_of

if TYPE_CHECKING:
    from query_api.clientpool import Readers
from query_api.timefmt import iso_from_micros

Read = Callable[[Client], Sequence[Sequence[Any]]]

EXPERIMENT_NAMES = "SELECT experiment_id, name FROM experiments_current"

AS_OF = "{as_of:DateTime64(6, 'UTC')}"
END_OF_TIME = datetime(2262, 1, 1, tzinfo=UTC)

ATTRIBUTE_COLUMNS = ("name", "status", "start_time", "end_time", "parent_run_id", "user", "source", "description",
                     "deleted")
RUNS_BY_ID = f"""
SELECT r.run_id, r.experiment_id, e.name, r.name, r.status,
       toUnixTimestamp64Micro(r.start_time), toUnixTimestamp64Micro(r.end_time),
       r.parent_run_id, r.user, r.source, r.description, r.deleted
FROM {runs_as_of(where="run_id IN {run_ids:Array(String)}")} AS r
LEFT JOIN ({EXPERIMENT_NAMES}) AS e ON e.experiment_id = r.experiment_id
"""
# The same without the experiment's name, which a caller that knows the experiments reads beside it (NAMES_OF):
# joining experiments_current doubled this statement's time (28 against 13 ms for a page of 100 runs).
RUN_ATTRIBUTES = f"""
SELECT r.run_id, r.experiment_id, '', r.name, r.status,
       toUnixTimestamp64Micro(r.start_time), toUnixTimestamp64Micro(r.end_time),
       r.parent_run_id, r.user, r.source, r.description, r.deleted
FROM {runs_as_of(where="run_id IN {run_ids:Array(String)}", columns=ATTRIBUTE_COLUMNS)} AS r
"""
NAMES_OF = "SELECT experiment_id, name FROM experiments_current WHERE experiment_id IN {experiment_ids:Array(String)}"

SCOPE = "experiment_id IN {experiment_ids:Array(String)} AND run_id IN {run_ids:Array(String)}"
# Runs as they stand now, with their params and tags, in one statement from run_state (one row per run once
# merged; GROUP BY over the given runs' rows costs the same whether or not the table's parts are merged yet).
STATE_COLUMNS = (*ATTRIBUTE_COLUMNS, "params", "tags")
STATE_SELECT = """r.name, r.status, toUnixTimestamp64Micro(r.start_time), toUnixTimestamp64Micro(r.end_time),
       r.parent_run_id, r.user, r.source, r.description, r.deleted, r.params, r.tags"""
RUN_STATE = f"""
SELECT r.run_id, r.experiment_id, '', {STATE_SELECT}
FROM {run_state.of_runs(SCOPE, STATE_COLUMNS)} AS r
"""
RUN_STATE_BY_ID = f"""
SELECT r.run_id, r.experiment_id, e.name, {STATE_SELECT}
FROM {run_state.of_runs("run_id IN {run_ids:Array(String)}", STATE_COLUMNS)} AS r
LEFT JOIN ({EXPERIMENT_NAMES}) AS e ON e.experiment_id = r.experiment_id
"""


PARAMS = f"""
SELECT run_id, key, argMax(value, (event_time, seq))
FROM params
WHERE {SCOPE} AND event_time <= {AS_OF}
GROUP BY run_id, key
"""

TAGS = f"""
SELECT run_id, key, argMax(value, (event_time, seq)) AS value, argMax(deleted, (event_time, seq)) AS gone
FROM tags
WHERE {SCOPE} AND event_time <= {AS_OF}
GROUP BY run_id, key
HAVING gone = 0
"""


def metric_summaries_sql(as_of: bool) -> str:
    """Summaries from run_metric_summary, or, as of an instant, the same aggregation over the points
    logged up to then (their timestamps), through the one definition in consumers.derived. The last value is
    read from last_point's plain tuples (migration 0022): the argMax states cost half the statement to decode."""
    source = f"({summary_select(f'{SCOPE} AND ts <= {AS_OF}')})" if as_of else "run_metric_summary"
    return f"""
SELECT run_id, key, tupleElement(max(last_point), 5), min(min_value), max(max_value), sum(point_count),
       max(last_step)
FROM {source}
WHERE {SCOPE}
GROUP BY run_id, key
"""

class MetricSummary(TypedDict):
    last: float
    min: float
    max: float
    count: int
    last_step: int


class RunRecord(TypedDict):
    """A run's folded state as the read path returns it (rendered as query_api.models.Run)."""

    run_id: str
    experiment_id: str
    experiment_name: str | None
    name: str
    status: str
    start_time: str | None
    end_time: str | None
    parent_run_id: str | None
    user: str
    source: str | None
    description: str | None
    deleted: bool
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, MetricSummary]


def _nan_if_null(value: float | None) -> float:
    return math.nan if value is None else value


def fetch_runs(client: Client, run_ids: list[str], as_of: datetime | None = None, *,
               experiment_ids: list[str] | None = None, readers: Readers | None = None,
               state: Sequence[Sequence[Any]] | None = None, names: Read | None = None) -> list[RunRecord]:
    """The full shape of each run that exists, in the order of run_ids; as it stood at `as_of` when given.

    With the experiments known (a search knows them) and `readers`, its reads run side by side; with the runs'
    `state` rows already read (a search page read them with its ids), only their summaries and names are read
    (the names by `names` when given: a search's memory of them, query_api.facts)."""
    if not run_ids:
        return []
    if state is not None and as_of is None and experiment_ids is not None and readers is not None:
        read_summaries, read_names = shape_reads(run_ids, experiment_ids)[1:]
        return shape_results(run_ids, [state, *readers.run(read_summaries, names or read_names)])
    if experiment_ids is not None and readers is not None:
        return shape_results(run_ids, readers.run(*shape_reads(run_ids, experiment_ids, as_of)))
    instant = as_of or END_OF_TIME
    rows: Sequence[Sequence[Any]]
    params: Sequence[Sequence[Any]]
    tags: Sequence[Sequence[Any]]
    if as_of is None:  # runs as they stand now: attributes, params and tags in one statement
        state = client.query(RUN_STATE_BY_ID, parameters={"run_ids": run_ids}).result_rows
        if not state:
            return []
        rows = [row[:12] for row in state]
        params, tags = run_state.key_rows(state, 12, 13)
    else:
        rows = client.query(RUNS_BY_ID, parameters={"run_ids": run_ids, "as_of": instant}).result_rows
        if not rows:
            return []
    bind = {"experiment_ids": sorted({row[1] for row in rows}), "run_ids": [row[0] for row in rows], "as_of": instant}
    if as_of is not None:
        params = client.query(PARAMS, parameters=bind).result_rows
        tags = client.query(TAGS, parameters=bind).result_rows
    summaries = client.query(metric_summaries_sql(as_of is not None), parameters=bind).result_rows
    return shape(run_ids, rows, params, tags, summaries)


def shape_reads(run_ids: list[str], experiment_ids: list[str], as_of: datetime | None = None
                ) -> list[Callable[[Client], Sequence[Sequence[Any]]]]:
    """The independent reads of the runs' shape in known experiments, as calls a caller may run side by side
    with its own; `shape_results` puts their rows together. Now: the runs' state (attributes, params and tags),
    summaries and the experiments' names; as of an instant: attributes, params, tags, summaries and names."""
    bind = {"experiment_ids": experiment_ids, "run_ids": run_ids, "as_of": as_of or END_OF_TIME}
    statements = (RUN_STATE,) if as_of is None else (RUN_ATTRIBUTES, PARAMS, TAGS)
    return [lambda c, sql=sql: c.query(sql, parameters=bind).result_rows  # type: ignore[misc]
            for sql in (*statements, metric_summaries_sql(as_of is not None), NAMES_OF)]


def shape_results(run_ids: list[str], results: Sequence[Sequence[Sequence[Any]]]) -> list[RunRecord]:
    """The runs' records from the results of `shape_reads`, in its order."""
    if len(results) == 3:
        state, summaries, names = results
        params, tags = run_state.key_rows(state, 12, 13)
        return shape(run_ids, [row[:12] for row in state], params, tags, summaries, names)
    attributes, param_rows, tag_rows, summaries, names = results
    return shape(run_ids, attributes, param_rows, tag_rows, summaries, names)


def shape(run_ids: list[str], rows: Sequence[Sequence[Any]], params: Sequence[Sequence[Any]],
          tags: Sequence[Sequence[Any]], summaries: Sequence[Sequence[Any]],
          names: Sequence[Sequence[Any]] | None = None) -> list[RunRecord]:
    """The runs' records from the rows of their reads, in the order of run_ids; `names` (experiment id, name)
    when the attribute rows were read without them (RUN_ATTRIBUTES)."""
    name_of = {experiment_id: name for experiment_id, name in names} if names is not None else None
    runs: dict[str, RunRecord] = {}
    for (run_id, exp_id, exp_name, name, status, start, end, parent, user, source, description, deleted) in rows:
        if name_of is not None:
            exp_name = name_of.get(exp_id)
        runs[run_id] = RunRecord(
            run_id=run_id, experiment_id=exp_id, experiment_name=exp_name or None, name=name, status=status,
            start_time=iso_from_micros(start), end_time=iso_from_micros(end), parent_run_id=parent, user=user,
            source=source, description=description, deleted=bool(deleted), params={}, tags={}, metrics={},
        )
    for run_id, key, value in params:
        if run_id in runs:
            runs[run_id]["params"][key] = value
    for run_id, key, value, _ in tags:
        if run_id in runs:
            runs[run_id]["tags"][key] = value
    for run_id, key, last, vmin, vmax, count, last_step in summaries:
        if run_id in runs:
            runs[run_id]["metrics"][key] = MetricSummary(last=last, min=_nan_if_null(vmin), max=_nan_if_null(vmax),
                                                         count=int(count), last_step=int(last_step))
    for run in runs.values():
        run["params"] = dict(sorted(run["params"].items()))
        run["tags"] = dict(sorted(run["tags"].items()))
        run["metrics"] = dict(sorted(run["metrics"].items()))
    return [runs[r] for r in run_ids if r in runs]


def named(records: Sequence[RunRecord], names: Sequence[Sequence[Any]]) -> list[RunRecord]:
    """Records shaped without their experiment's name (the state path's), each copied with it from `names`."""
    name_of = {experiment_id: name for experiment_id, name in names}
    return [{**record, "experiment_name": name_of.get(record["experiment_id"]) or None}  # type: ignore[typeddict-item]
            for record in records]


def experiment_names(client: Client, experiment_ids: list[str]) -> list[tuple[str, str]]:
    """(experiment id, name) of each existing experiment among experiment_ids."""
    rows = client.query(NAMES_OF, parameters={"experiment_ids": experiment_ids}).result_rows
    return [(e, name) for e, name in rows]


def run_experiments(client: Client, run_ids: list[str]) -> dict[str, str]:
    """run_id -> experiment of each projected run among run_ids."""
    rows = client.query(
        "SELECT run_id, any(experiment_id) FROM runs WHERE run_id IN {run_ids:Array(String)} GROUP BY run_id",
        parameters={"run_ids": run_ids},
    ).result_rows
    return {run_id: experiment_id for run_id, experiment_id in rows}


def run_experiment(client: Client, run_id: str) -> str | None:
    """The experiment a run belongs to, or None when no such run was projected."""
    rows = client.query(
        "SELECT any(experiment_id) FROM runs WHERE run_id = {run_id:String} HAVING count() > 0",
        parameters={"run_id": run_id},
    ).result_rows
    return rows[0][0] if rows else None
