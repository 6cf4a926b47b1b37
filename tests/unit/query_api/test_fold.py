"""The fold the API inlines is the fold of the runs_as_of view that analysts query: one text."""

from __future__ import annotations

import re
from importlib.resources import files

from query_api.queries.fold import CURRENT, FOLD, runs_as_of


def _normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def test_the_inlined_fold_is_the_views_text() -> None:
    migration = files("consumers.migrations").joinpath("0004_runs_as_of.sql").read_text()
    view = re.search(r"CREATE VIEW IF NOT EXISTS runs_as_of AS\s*(.*?);", migration, re.S)
    assert view is not None
    assert _normal(FOLD) == _normal(view.group(1))


def test_as_of_and_conditions_are_applied_before_grouping() -> None:
    sql = runs_as_of(where="run_id IN {run_ids:Array(String)}")
    assert "WHERE event_time <= {as_of:DateTime64(6, 'UTC')} AND run_id IN {run_ids:Array(String)} GROUP BY" in \
        _normal(sql)
    assert sql.startswith("(SELECT") and sql.endswith("run_id)")
    assert "event_time <= toDateTime64('2262-01-01 00:00:00', 6, 'UTC') GROUP BY" in _normal(CURRENT)


def test_a_narrow_fold_keeps_the_runs_keys_and_the_asked_columns_only() -> None:
    sql = _normal(runs_as_of(where="experiment_id IN {e:Array(String)}", columns=["status", "first_offset"]))
    assert sql.startswith("(SELECT experiment_id, run_id, argMax(status, (event_time, seq)) AS status, "
                          "min(kafka_offset) AS first_offset FROM runs WHERE")
    assert "AS name" not in sql and "AS deleted" not in sql
    every = ["name", "user", "parent_run_id", "source", "description", "status", "start_time", "end_time", "deleted",
             "updated_time", "kafka_partition", "first_offset"]
    assert runs_as_of(columns=every) == runs_as_of()
