"""Reading run_state: its maps turned back into params and tags, and the search compiled against its row."""

from __future__ import annotations

from datetime import UTC, datetime

from consumers.projections.run_state import version
from query_api.filters import parse_filter, parse_order_by
from query_api.queries import run_state
from query_api.queries.run_search import build_search

AT = version(datetime(2026, 1, 1, tzinfo=UTC), 4)


def test_params_and_live_tags_come_back_without_their_versions() -> None:
    assert run_state.params_of({"lr": AT + "0.1", "empty": AT}) == {"lr": "0.1", "empty": ""}
    assert run_state.tags_of({"team": AT + "0vision", "gone": AT + "1", "zero": AT + "00"}) == {
        "team": "vision", "zero": "0"}
    rows = [("r1", {"lr": AT + "0.1"}, {"t": AT + "0x", "d": AT + "1"}), ("r2", {}, {})]
    params, tags = run_state.key_rows(rows, 1, 2)
    assert params == [("r1", "lr", "0.1")] and tags == [("r1", "t", "x", 0)]


def test_a_search_reads_params_and_tags_from_the_runs_row_and_joins_only_metrics() -> None:
    node = parse_filter("params.opt = 'adam' AND tags.team IS NULL AND metrics.loss < 1")
    built = build_search(["e"], node, parse_order_by(["params.lr DESC"]), run_view="active", snapshot=None,
                         offset=0, limit=10)
    assert "FROM run_state AS r FINAL LEFT JOIN" in built.sql
    assert "WHERE r.experiment_id IN {p0:Array(String)} AND r.first_offset IS NOT NULL" in built.sql
    assert "FROM params" not in built.sql and "FROM tags" not in built.sql and "FROM runs" not in built.sql
    assert built.sql.count("LEFT JOIN") == 1 and "FROM run_metric_summary" in built.sql
    assert "NOT (substring(r.tags[" in built.sql  # a deleted tag is absent
    assert "ORDER BY if(r.params[" in built.sql  # runs without the param sort as NULL, last
    assert all(value in built.parameters.values() for value in ("opt", "team", "loss", "lr", "adam"))


def test_current_selects_only_the_columns_asked_and_of_runs_merges_the_given_runs() -> None:
    sql = run_state.current("experiment_id = 'x'", ["status", "params"])
    assert sql.startswith("(SELECT experiment_id, run_id, status.3 AS status, params AS params FROM run_state FINAL")
    assert "name" not in sql and sql.endswith("AND first_offset IS NOT NULL)")
    grouped = run_state.of_runs("run_id IN {ids:Array(String)}", ["name", "deleted", "tags"])
    assert "max(name).3 AS name" in grouped and "ifNull(max(deleted).3, 0) AS deleted" in grouped
    assert "maxMap(tags) AS tags" in grouped and "HAVING min(first_offset) IS NOT NULL" in grouped


def test_a_search_may_read_its_pages_state_with_its_ids() -> None:
    node = parse_filter("params.opt = 'adam'")
    first = build_search(["e"], node, [], run_view="active", snapshot=None, offset=0, limit=10, with_state=True)
    assert first.with_state and ("SELECT r.run_id, snapshot, r.experiment_id, '', tupleElement(r.name, 3), "
                                 "tupleElement(r.status, 3)") in first.sql
    assert "r.params, r.tags FROM run_state AS r FINAL" in first.sql and "tupleElement(r.user, 3)" in first.sql
    later = build_search(["e"], node, [], run_view="active", snapshot={0: 5}, offset=10, limit=10, with_state=True)
    assert "SELECT r.run_id, r.experiment_id, '', tupleElement(r.name, 3)" in later.sql
    plain = build_search(["e"], node, [], run_view="active", snapshot=None, offset=0, limit=10)
    assert not plain.with_state and "r.user" not in plain.sql and "r.tags" not in plain.sql


def test_a_search_reads_the_folds_columns_from_run_states_own_row() -> None:
    assert run_state.row_column("status") == "tupleElement(r.status, 3)"
    assert run_state.row_column("end_time", "s") == "tupleElement(s.end_time, 3)"
    assert run_state.row_column("deleted") == "ifNull(tupleElement(r.deleted, 3), 0)"
    assert [run_state.row_column(c) for c in ("run_id", "start_time", "params", "first_offset")] == [
        "r.run_id", "r.start_time", "r.params", "r.first_offset"]
    node = parse_filter("attributes.status = 'FINISHED' AND attributes.end_time > 0")
    built = build_search(["e"], node, parse_order_by(["attributes.run_name ASC"]), run_view="deleted",
                         snapshot={0: 5}, offset=0, limit=10)
    assert "SELECT r.run_id FROM run_state AS r FINAL WHERE" in built.sql and "(SELECT" not in built.sql
    assert "ifNull(tupleElement(r.deleted, 3), 0) = 1" in built.sql
    assert "tupleElement(r.status, 3) = {p" in built.sql
    assert "toUnixTimestamp64Milli(tupleElement(r.end_time, 3)) > {p" in built.sql
    assert "ORDER BY tupleElement(r.name, 3) ASC NULLS LAST, r.run_id ASC" in built.sql
