"""The filter language of logged-model and registry searches, parsed and evaluated over entity dicts."""

from __future__ import annotations

from typing import Any

import pytest

from query_api.mlflow.entity_filter import Clause, matches, parse
from query_api.mlflow.protocol import MlflowError

MODEL: dict[str, Any] = {"name": "model", "source_run_id": "abc", "status": "LOGGED_MODEL_READY",
                         "metrics": {"acc": 0.9}, "params": {"depth": "3"}, "tags": {"team": "vision", "a b": "x"}}


@pytest.mark.parametrize(("text", "expected"), [
    ("name = 'model'", True), ("name != 'model'", False), ("name LIKE 'mo%'", True), ("name ILIKE 'MO%'", True),
    ("name NOT LIKE 'mo%'", False), ("metrics.acc > 0.5", True), ("metrics.acc >= 0.95", False),
    ("metrics.missing > 0", False), ("params.depth = '3'", True), ("params.depth = 3", True),
    ("tags.team = 'vision' AND name = 'model'", True), ("tags.`a b` = 'x'", True),
    ("source_run_id IN ('abc', 'def')", True), ("source_run_id NOT IN ('abc')", False),
    ("tags.absent IS NULL", True), ("tags.team IS NOT NULL", True),
    ("tags.`mlflow.prompt.is_prompt` != 'true'", True),  # a missing tag is "not equal" (the client's prompt filter)
    ("name = \"model\" and status = 'LOGGED_MODEL_READY'", True), ("", True),
])
def test_filters_match_as_mlflow_means_them(text: str, expected: bool) -> None:
    assert matches(parse(text), MODEL) is expected


def test_and_inside_quotes_is_a_value() -> None:
    assert parse("name = 'a AND b'") == [Clause("", "name", "=", "a AND b")]


@pytest.mark.parametrize("text", ["name = 'a' OR name = 'b'", "name ~ 'x'", "metrics.acc > high", "name IN 'x'"])
def test_bad_filters_are_invalid_parameters(text: str) -> None:
    with pytest.raises(MlflowError):
        parse(text)
