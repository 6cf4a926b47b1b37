"""query_api.jsonresponse: NaN and infinities as MLflow's strings "NaN", "Infinity", "-Infinity"."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from query_api.jsonresponse import JSONResponse, dumps, finite_json


def test_finite_json_maps_non_finite_floats_inside_nested_dicts_and_lists() -> None:
    value = {
        "a": math.nan,
        "b": [1.5, math.inf, {"c": -math.inf, "d": [math.nan, [math.inf]]}],
        "e": (math.nan, 2),
        "f": {"g": {"h": -math.inf}},
    }
    assert finite_json(value) == {
        "a": "NaN",
        "b": [1.5, "Infinity", {"c": "-Infinity", "d": ["NaN", ["Infinity"]]}],
        "e": ["NaN", 2],
        "f": {"g": {"h": "-Infinity"}},
    }


@pytest.mark.parametrize("value", [0.0, -0.0, 1.5, 1e308, -1e-308, 3, True, None, "NaN", "Infinity", "x"])
def test_finite_json_leaves_everything_else_alone(value: Any) -> None:
    result = finite_json(value)
    assert result == value and type(result) is type(value)


def test_finite_json_does_not_modify_its_input() -> None:
    value = {"a": [math.nan]}
    finite_json(value)
    assert math.isnan(value["a"][0])


def test_top_level_non_finite_floats() -> None:
    assert finite_json(math.nan) == "NaN"
    assert finite_json(math.inf) == "Infinity"
    assert finite_json(-math.inf) == "-Infinity"
    assert finite_json(float("-nan")) == "NaN"


def test_dumps_quotes_the_bare_tokens_and_is_valid_json() -> None:
    text = dumps({"v": [math.nan, math.inf, -math.inf, 0.5], "n": {"x": math.nan}})
    assert text == b'{"v":["NaN","Infinity","-Infinity",0.5],"n":{"x":"NaN"}}'
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} left in the JSON"))


def test_dumps_never_touches_the_words_inside_strings() -> None:
    content = {
        "NaN": "NaN", "s": "say \"Infinity\" or -Infinity", "t": 'back\\slash "NaN"\\', "Infinity": [math.nan],
        "u": "ünïcødé NaN",
    }
    decoded = json.loads(dumps(content))
    assert decoded == {
        "NaN": "NaN", "s": "say \"Infinity\" or -Infinity", "t": 'back\\slash "NaN"\\', "Infinity": ["NaN"],
        "u": "ünïcødé NaN",
    }


def test_dumps_of_finite_content_equals_compact_json() -> None:
    content = {"a": [1, 2.5, None, True], "b": "x"}
    assert dumps(content) == json.dumps(content, separators=(",", ":")).encode()


def test_json_response_renders_non_finite_values() -> None:
    response = JSONResponse({"metrics": {"loss": {"last": math.nan, "min": -math.inf, "max": math.inf}},
                             "points": [{"step": 0, "value": math.nan}]}, status_code=201)
    assert response.status_code == 201
    assert response.media_type == "application/json"
    assert json.loads(response.body) == {
        "metrics": {"loss": {"last": "NaN", "min": "-Infinity", "max": "Infinity"}},
        "points": [{"step": 0, "value": "NaN"}],
    }
    assert int(response.headers["content-length"]) == len(response.body)


@pytest.mark.parametrize("content", [
    {"metrics": [{"key": "loss", "value": 0.1 * i, "timestamp": 1_700_000_000_000 + i, "step": i} for i in range(50)]},
    {"a": [1e16, 1e-5, -0.0, 123456789.123, 2**63 - 1, -(2**63)], "t": ("x", 1), "u": "é ☃ \u2028 \"q\" \\"},
    {"next_page_token": None, "runs": []},  # a None: the standard encoder writes it
    {"v": [1.0, math.nan, math.inf]},  # non-finite floats: MLflow's strings
    {"tag": "null", "value": "NaN text"},  # text that looks like the markers is left as text
    {"big": 2**70, "k": {1: "non-str key"}},  # what orjson refuses, the standard encoder writes
])
def test_dumps_gives_what_the_standard_encoder_gives_whichever_encoder_writes_it(content: Any) -> None:
    expected = json.loads(json.dumps(finite_json(content), ensure_ascii=False))
    assert json.loads(dumps(content)) == expected


def test_dumps_never_writes_a_non_finite_float_as_null() -> None:
    assert json.loads(dumps({"v": [math.nan, -math.inf], "x": [0.5]})) == {"v": ["NaN", "-Infinity"], "x": [0.5]}


def test_nulls_of_nones_keep_orjsons_output_and_a_nan_beside_them_is_still_quoted(monkeypatch: Any) -> None:
    content = {"parent_run_id": None, "runs": [{"metrics": {"loss": {"last": 0.5, "min": 0.25}}, "tags": {}}],
               "t": (1, None)}
    expected = json.dumps(content, separators=(",", ":")).encode()
    with monkeypatch.context() as patched:  # the standard encoder is not needed for Nones alone
        patched.setattr("query_api.jsonresponse.json.dumps", lambda *a, **k: pytest.fail("fell back"))
        assert dumps(content) == expected
    content["runs"][0]["metrics"]["loss"]["min"] = math.nan
    assert json.loads(dumps(content))["runs"][0]["metrics"]["loss"] == {"last": 0.5, "min": "NaN"}
    assert json.loads(dumps({"a": None, "b": [[-math.inf]]})) == {"a": None, "b": [["-Infinity"]]}
