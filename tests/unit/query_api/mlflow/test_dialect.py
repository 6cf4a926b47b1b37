"""MLflow's search dialect: no OR, experiment filters and order, page tokens."""

from __future__ import annotations

import pytest

from query_api.mlflow import dialect as s
from query_api.mlflow.protocol import MlflowError
from query_api.paging import BadPageToken, PageToken, query_fingerprint

EXPERIMENTS = [
    {"experiment_id": "0", "name": "Default", "creation_time": 100, "last_update_time": 100, "tags": []},
    {"experiment_id": "17", "name": "vision-lr", "creation_time": 300, "last_update_time": 900,
     "tags": [{"key": "team", "value": "vision"}]},
    {"experiment_id": "9", "name": "Vision-batch", "creation_time": 200, "last_update_time": 200,
     "tags": [{"key": "team", "value": "nlp"}, {"key": "a b", "value": "x"}]},
]


def names(filter_text: str | None) -> list[str]:
    keep = s.experiment_filter(filter_text)
    return [e["name"] for e in EXPERIMENTS if keep(e)]


@pytest.mark.parametrize(("text", "expected"), [
    (None, ["Default", "vision-lr", "Vision-batch"]),
    ("name = 'Default'", ["Default"]),
    ("attribute.name != 'Default'", ["vision-lr", "Vision-batch"]),
    ("name LIKE 'vision%'", ["vision-lr"]),
    ("name ILIKE 'vision%'", ["vision-lr", "Vision-batch"]),
    ("name NOT ILIKE 'vision%'", ["Default"]),
    ("tags.team = 'vision'", ["vision-lr"]),
    ("tags.`a b` = 'x'", ["Vision-batch"]),
    ("creation_time > 150 AND tags.team != 'vision'", ["Vision-batch"]),
    ("last_update_time >= 900", ["vision-lr"]),
    ("name LIKE 'v_sion%' and creation_time < 1000", ["vision-lr"]),
    ("tags.`mlflow.experiment.isGateway` IS NULL", ["Default", "vision-lr", "Vision-batch"]),  # MLflow's UI
    ("tags.`a b` IS NULL AND name ILIKE 'vision%'", ["vision-lr"]),
    ("tags.team IS NOT NULL", ["vision-lr", "Vision-batch"]),
])
def test_experiment_filters(text: str | None, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize("text", ["name = ", "name = 'a' OR name = 'b'", "creation_time = 'yesterday'",
                                  "size > 3", "name = 'a' name = 'b'",
                                  "name IS NULL"])
def test_bad_experiment_filters(text: str) -> None:
    with pytest.raises(MlflowError):
        s.experiment_filter(text)


def test_experiment_order() -> None:
    assert [e["experiment_id"] for e in s.experiment_order(None)(EXPERIMENTS)] == ["17", "9", "0"]
    assert [e["name"] for e in s.experiment_order(["name ASC"])(EXPERIMENTS)] == ["Default", "Vision-batch",
                                                                                 "vision-lr"]
    assert [e["experiment_id"] for e in s.experiment_order(["experiment_id"])(EXPERIMENTS)] == ["0", "9", "17"]
    with pytest.raises(MlflowError, match="Invalid order_by clause"):
        s.experiment_order(["size DESC"])


def test_or_is_not_mlflows() -> None:
    assert s.run_filter("params.a = '1' and metrics.m < 2") is not None
    assert s.run_filter(None) is None
    with pytest.raises(MlflowError, match="'OR' is not supported"):
        s.run_filter("params.a = '1' and (params.b = '2' or params.c = '3')")


def test_view_types() -> None:
    assert [s.view_type(v) for v in (None, "ACTIVE_ONLY", "deleted_only", "ALL", 1, "2", 3)] == [
        "active", "active", "deleted", "all", "active", "deleted", "all"]
    with pytest.raises(MlflowError):
        s.view_type("SOME")


def test_page_tokens_are_mlflow_shaped_and_tied_to_their_query() -> None:
    import base64
    import json

    query = query_fingerprint({"filter": "x", "order_by": []})
    token = PageToken(50, {0: 10, 1: 20}, query).encode_mlflow()
    assert json.loads(base64.b64decode(token))["offset"] == 50
    assert s.decode_token(token, query) == PageToken(50, {0: 10, 1: 20}, query)
    assert s.decode_token(None, query) is None and s.page_offset(None, query) == 0
    assert s.page_offset(s.next_token(5, query), query) == 5
    with pytest.raises(BadPageToken, match="different search"):
        s.decode_token(token, query_fingerprint({"filter": "y", "order_by": []}))
    negative = base64.b64encode(json.dumps({"offset": -1, "query": query}).encode()).decode()
    for bad in ("not base64!", base64.b64encode(b"[]").decode(), base64.b64encode(b'{"offset": 1}').decode(), negative):
        with pytest.raises(BadPageToken):
            s.decode_token(bad, query)
