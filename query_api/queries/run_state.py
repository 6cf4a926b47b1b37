"""Runs as they stand now, read from run_state (migration 0018, kept by consumers/projections/run_state.py).

One row per run once merged, with the columns of the fold of `runs` (query_api/queries/fold.py) plus its params
and tags as maps. A search over every run of an experiment merges it with FINAL (~10 ms at 10,000 runs, against
~40 ms for folding `runs` and grouping `params`); reads of given runs merge their rows with GROUP BY, which costs
the same whether or not the table's parts are merged yet.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from consumers.projections.run_state import VERSION_CHARS

LATEST = {name: f"{name}.3" for name in ("name", "user", "parent_run_id", "source", "description", "status",
                                         "end_time")}
ATTRIBUTES = {"experiment_id": "experiment_id", "run_id": "run_id", "kafka_partition": "kafka_partition",
              **LATEST, "start_time": "start_time", "deleted": "ifNull(deleted.3, 0)",
              "updated_time": "updated_time", "first_offset": "first_offset", "params": "params", "tags": "tags"}
MERGED = {"start_time": "min", "updated_time": "max", "first_offset": "min", "params": "maxMap", "tags": "maxMap"}
KEYS = ("experiment_id", "run_id")
VALUE_FROM = VERSION_CHARS + 1  # a param's value follows its version; a tag's, its version and deleted flag


def _merged(column: str) -> str:
    """The column's expression over the rows of a run grouped (GROUP BY experiment_id, run_id, kafka_partition)."""
    if column == "kafka_partition":
        return column
    if column == "deleted":
        return "ifNull(max(deleted).3, 0)"
    if column in LATEST:
        return f"max({column}).3"
    return f"{MERGED[column]}({column})"


def current(where: str, columns: Collection[str] | None = None) -> str:
    """Every run of run_state where `where` holds (a condition on the experiment_id/run_id key), merged with
    FINAL, as a parenthesized subquery with the fold's column names; only `columns` (and the keys) when given."""
    wanted = [c for c in ATTRIBUTES if columns is None or c in set(columns) | set(KEYS)]
    select = ", ".join(c if c in KEYS else f"{ATTRIBUTES[c]} AS {c}" for c in wanted)
    return f"(SELECT {select} FROM run_state FINAL WHERE {where} AND first_offset IS NOT NULL)"


def row_column(column: str, alias: str = "r") -> str:
    """The fold's column `column` as an expression over run_state's own row `alias` (a statement reading
    `run_state AS alias FINAL` itself rather than `current`'s subquery)."""
    if column in LATEST:
        return f"tupleElement({alias}.{column}, 3)"
    if column == "deleted":
        return f"ifNull(tupleElement({alias}.deleted, 3), 0)"
    return f"{alias}.{column}"


def of_runs(where: str, columns: Collection[str]) -> str:
    """The given runs (`where` names them by key), their rows merged with GROUP BY, as a parenthesized subquery."""
    select = ", ".join([*KEYS, *(f"{_merged(c)} AS {c}" for c in columns if c not in KEYS)])
    return (f"(SELECT {select} FROM run_state WHERE {where} GROUP BY experiment_id, run_id, kafka_partition "
            "HAVING min(first_offset) IS NOT NULL)")


def param_value(column: str) -> str:
    """A param's current value in a params map column's entry (see consumers/projections/run_state.py)."""
    return f"substring({column}, {VALUE_FROM})"


def tag_value(column: str) -> str:
    return f"substring({column}, {VALUE_FROM + 1})"


def tag_live(column: str) -> str:
    return f"substring({column}, {VALUE_FROM}, 1) = '0'"


def params_of(entries: dict[str, str]) -> dict[str, str]:
    """A run's params from its merged params map."""
    return {key: value[VERSION_CHARS:] for key, value in entries.items()}


def tags_of(entries: dict[str, str]) -> dict[str, str]:
    """A run's live tags from its merged tags map (a deleted tag's entry is left out)."""
    return {key: value[VERSION_CHARS + 1:] for key, value in entries.items() if value[VERSION_CHARS] == "0"}


def key_rows(rows: Sequence[Sequence[Any]], params_at: int, tags_at: int
             ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str, int]]]:
    """(run_id, key, value) params rows and (run_id, key, value, 0) tags rows from state rows whose first column
    is the run id and whose columns `params_at` and `tags_at` hold the maps (the shape of queries/runs.py's
    PARAMS and TAGS reads)."""
    params = [(row[0], k, v) for row in rows for k, v in params_of(row[params_at]).items()]
    tags = [(row[0], k, v, 0) for row in rows for k, v in tags_of(row[tags_at]).items()]
    return params, tags
