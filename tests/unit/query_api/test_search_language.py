"""The search grammar and its compilation to bound SQL, without ClickHouse."""

from __future__ import annotations

import pytest

from query_api.filters import Comparison, Identifier, Logical, SearchSyntaxError, parse_filter, parse_order_by
from query_api.paging import BadPageToken, PageToken, query_fingerprint
from query_api.queries.run_search import build_search


def test_mlflow_filter_parses_into_an_ast() -> None:
    node = parse_filter("metrics.val_loss < 0.3 and params.optimizer = 'adam' and tags.team LIKE 'vision%' "
                        "and attributes.status = 'FINISHED'")
    assert node == Logical("AND", (
        Comparison(Identifier("metric", "val_loss"), "<", 0.3),
        Comparison(Identifier("param", "optimizer"), "=", "adam"),
        Comparison(Identifier("tag", "team"), "LIKE", "vision%"),
        Comparison(Identifier("attribute", "status"), "=", "FINISHED"),
    ))


def test_or_parentheses_is_null_aggregates_and_quoted_keys() -> None:
    node = parse_filter("min(metrics.loss) <= 1e-3 OR (params.`my.key` IS NULL AND tags.\"a b\" IN ('x', \"y\"))")
    assert node == Logical("OR", (
        Comparison(Identifier("metric", "loss", "min"), "<=", 0.001),
        Logical("AND", (
            Comparison(Identifier("param", "my.key"), "IS NULL"),
            Comparison(Identifier("tag", "a b"), "IN", ("x", "y")),
        )),
    ))


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_filter_is_no_filter(text: str | None) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize(("text", "named"), [
    ("metrics.loss <", "ends too early"),
    ("metrics.loss < 'x'", "number"),
    ("params.a = 1; DROP TABLE runs", "';'"),
    ("attributes.colour = 'red'", "colour"),
    ("count(params.x) > 1", "metrics only"),
    ("metrics.loss > 1e999", "out of range"),
    ("params.a LIKE 5", "'5'"),
    ("attributes.status = 5", "quote"),
    ("(" * 100 + "metrics.a < 1" + ")" * 100, "deep"),
])
def test_bad_filters_raise_naming_the_problem(text: str, named: str) -> None:
    with pytest.raises(SearchSyntaxError, match=None) as info:
        parse_filter(text)
    assert named in str(info.value)


def test_order_by() -> None:
    keys = parse_order_by(["metrics.val_loss", "params.lr DESC", "max(metrics.acc) asc", "attributes.start_time DESC"])
    assert [(k.identifier.entity, k.identifier.key, k.identifier.aggregate, k.descending) for k in keys] == [
        ("metric", "val_loss", "last", False), ("param", "lr", "last", True), ("metric", "acc", "max", False),
        ("attribute", "start_time", "last", True)]
    with pytest.raises(SearchSyntaxError):
        parse_order_by(["metrics.val_loss UPWARDS"])


def test_user_values_are_bound_never_spliced() -> None:
    hostile = "x' OR 1=1; DROP TABLE runs; --"
    node = parse_filter(f'params.opt = "{hostile}" OR tags.`k; DROP` = \'v\'')
    built = build_search(["e"], node, parse_order_by(["metrics.`loss; DROP` DESC"]), run_view="active",
                         snapshot={0: 5}, offset=0, limit=10)
    assert "DROP" not in built.sql and hostile not in built.sql
    assert hostile in built.parameters.values() and "k; DROP" in built.parameters.values()
    assert "loss; DROP" in built.parameters.values()
    assert "NULLS LAST" in built.sql and built.sql.index("ORDER BY") < built.sql.index("r.run_id ASC")


def test_page_tokens_round_trip_and_refuse_other_queries() -> None:
    fp = query_fingerprint({"filter": "metrics.a < 1"})
    token = PageToken(200, {0: 10, 3: 7}, fp)
    assert PageToken.decode(token.encode(), fp) == token
    with pytest.raises(BadPageToken, match="different search"):
        PageToken.decode(token.encode(), query_fingerprint({"filter": "metrics.a < 2"}))
    for garbage in ("", "!!", "e30", token.encode()[:-3] + "xyz"):
        with pytest.raises(BadPageToken):
            PageToken.decode(garbage, fp)


def test_a_first_page_pins_its_own_snapshot_and_folds_only_what_it_reads() -> None:
    node = parse_filter("params.optimizer = 'adam' AND attributes.status = 'FINISHED'")
    first = build_search(["e"], node, [], run_view="active", snapshot=None, offset=0, limit=10)
    assert first.pins_snapshot and first.sql.startswith("WITH (SELECT (groupArray(kafka_partition)")
    assert "SELECT r.run_id, snapshot FROM" in first.sql and "has(snapshot.1, r.kafka_partition)" in first.sql
    assert "tupleElement(r.status, 3) = " in first.sql and "r.user" not in first.sql
    assert "FROM run_state AS r FINAL" in first.sql and "r.experiment_id IN {p0:Array(String)}" in first.sql
    later = build_search(["e"], node, [], run_view="active", snapshot={0: 5}, offset=10, limit=10)
    assert not later.pins_snapshot and "event_offsets" not in later.sql and "snapshot" not in later.sql
