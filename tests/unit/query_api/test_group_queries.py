"""Group keys, bucket widths and the curves body, without ClickHouse."""

from __future__ import annotations

import json

import pytest

from query_api.filters import SearchSyntaxError
from query_api.filters.ast import Identifier
from query_api.queries.groups import EMPTY_SERIES, SERIES, Group, _sort_key, bucket_width, parse_group_key
from query_api.routes.groups import render_curves


@pytest.mark.parametrize(("text", "ident"), [
    ("params.lr", Identifier("param", "lr")),
    ("tags.`a b`", Identifier("tag", "a b")),
    ("attributes.name", Identifier("attribute", "run_name")),
    ('params."model.depth"', Identifier("param", "model.depth")),
])
def test_group_keys_read_like_the_search_language(text: str, ident: Identifier) -> None:
    assert parse_group_key(text) == ident


@pytest.mark.parametrize(("text", "message"), [
    ("metrics.loss", "not metrics"), ("min(metrics.loss)", "not metrics"), ("params.lr desc", "ASC/DESC"),
    ("attributes.colour", "unknown attribute"), ("lr", "unexpected"),
])
def test_bad_group_keys(text: str, message: str) -> None:
    with pytest.raises(SearchSyntaxError, match=message):
        parse_group_key(text)


@pytest.mark.parametrize(("lo", "hi", "distinct", "max_points", "width"), [
    (0, 999, 1000, 1000, 1),      # no more steps than max_points: every step its own bucket
    (0, 10_000, 4, 4, 1),         # four distinct steps far apart: still one bucket each
    (0, 999, 1000, 500, 2),
    (0, 999, 1000, 300, 4),       # ceil(1000 / 300)
    (-5, 5, 11, 2, 6),
])
def test_bucket_width(lo: int, hi: int, distinct: int, max_points: int, width: int) -> None:
    assert bucket_width(lo, hi, distinct, max_points) == width
    assert -(-(hi - lo + 1) // width) <= max_points or width == 1


def test_groups_sort_numbers_numerically_then_text_then_missing() -> None:
    keys = [("0.1",), (None,), ("adam",), ("0.01",), ("1e-3",)]
    assert sorted(keys, key=_sort_key) == [("1e-3",), ("0.01",), ("0.1",), ("adam",), (None,)]


def test_the_curves_body_is_json_around_the_series() -> None:
    found = [Group({"params.lr": "0.1", "tags.t": None}, ["a" * 32]), Group({"params.lr": '"q"', "tags.t": "x"}, [])]
    series = [{"loss": '{"step":[0],"mean":[1.5],"std":[null],"min":[1.5],"max":[1.5],"median":[1.5],'
                       '"count":[1],"nan_count":[0]}'}, {"loss": EMPTY_SERIES}]
    body = json.loads(render_curves(found, series))
    assert body["groups"][0] == {"key": {"params.lr": "0.1", "tags.t": None}, "run_ids": ["a" * 32],
                                 "metrics": {"loss": json.loads(series[0]["loss"])}}
    assert body["groups"][1]["key"]["params.lr"] == '"q"'
    assert body["groups"][1]["metrics"]["loss"] == {s: [] for s in SERIES}
