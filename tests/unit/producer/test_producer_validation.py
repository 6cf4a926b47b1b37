"""producer.validation: what the SDK accepts from a user, checked at the call site."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from producer import validation as v

RUN_ID = "0123456789abcdef0123456789abcdef"


# -- keys ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [
    "loss", "val/loss", "train.acc", "a-b_c", "with space", "ns:metric", "x" * 250, "Größe", "0", "a/b.c-d e:f_g",
])
def test_usable_keys_are_returned_unchanged(key: str) -> None:
    assert v.check_key("metric", key) == key


@pytest.mark.parametrize(("key", "message"), [
    ("", "must not be empty"),
    ("k" * 251, "251 characters; the limit is 250"),
    ("it's", "may only contain"),
    ('say "hi"', "may only contain"),
    ("a,b", "may only contain"),
    ("a;b", "may only contain"),
    ("tab\there", "may only contain"),
    ("back\\slash", "may only contain"),
    ("\nloss", "may only contain"),
    (1, "must be a string, got int"),
    (None, "must be a string, got NoneType"),
    (b"loss", "must be a string, got bytes"),
])
def test_bad_keys_raise_value_error_naming_the_problem(key: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        v.check_key("param", key)
    assert str(info.value).startswith("param key")


def test_a_key_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        v.check_key("metric", "loss\n")


# -- metric values -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (1, 1.0), (0.25, 0.25), (-3, -3.0), (Fraction(1, 4), 0.25), (2**53, float(2**53)), (-0.0, -0.0),
])
def test_numbers_become_floats(value: object, expected: float) -> None:
    result = v.check_metric_value("m", value)
    assert type(result) is float and result == expected


def test_non_finite_values_are_legal() -> None:
    assert math.isnan(v.check_metric_value("m", math.nan))
    assert v.check_metric_value("m", math.inf) == math.inf
    assert v.check_metric_value("m", -math.inf) == -math.inf


@pytest.mark.parametrize("value", ["0.1", None, True, False, b"1", [1.0], Decimal("0.1"), 1j, {"v": 1}])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="'m' value must be a number"):
        v.check_metric_value("m", value)


def test_an_int_too_large_for_a_float_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        v.check_metric_value("m", 10**400)


# -- integers and timestamps ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, 2**63 - 1, -(2**63)])
def test_int64_bounds_are_inclusive(value: int) -> None:
    assert v.check_int64("step", value) == value


@pytest.mark.parametrize(("value", "message"), [
    (2**63, "does not fit in 64 bits"),
    (-(2**63) - 1, "does not fit in 64 bits"),
    (1.0, "must be an integer, got float"),
    ("3", "must be an integer, got str"),
    (True, "must be an integer, got bool"),
    (None, "must be an integer"),
])
def test_bad_int64_values_are_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        v.check_int64("step", value)


def test_timestamps_are_non_negative_milliseconds() -> None:
    assert v.check_timestamp_ms(0) == 0
    assert v.check_timestamp_ms(1_700_000_000_000) == 1_700_000_000_000
    with pytest.raises(ValueError, match="before 1970"):
        v.check_timestamp_ms(-1)
    with pytest.raises(ValueError, match="integer"):
        v.check_timestamp_ms(1.5)
    with pytest.raises(ValueError, match="after 2262"):
        v.check_timestamp_ms(2**63 - 1)  # the projector would dead-letter it


@pytest.mark.parametrize("step", [0, -(2**53 - 1), 2**53 - 1])
def test_steps_the_projector_stores_are_accepted(step: int) -> None:
    assert v.check_step(step) == step


@pytest.mark.parametrize("step", [2**53, -(2**53), 2**63 - 1])
def test_steps_beyond_exact_json_numbers_are_refused(step: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        v.check_step(step)


# -- text values -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [
    ("adam", "adam"), (0.01, "0.01"), (64, "64"), (True, "True"), (None, "None"), (math.nan, "nan"),
    (math.inf, "inf"), (-math.inf, "-inf"), ([1, 2], "[1, 2]"), ("", ""),
])
def test_param_and_tag_values_are_rendered_as_text(value: object, text: str) -> None:
    assert v.check_text("param", "p", value, v.MAX_PARAM_VALUE_LENGTH) == text


def test_text_length_limits() -> None:
    assert v.check_text("param", "p", "x" * 6000, v.MAX_PARAM_VALUE_LENGTH) == "x" * 6000
    with pytest.raises(ValueError, match="6001 characters; the limit is 6000"):
        v.check_text("param", "p", "x" * 6001, v.MAX_PARAM_VALUE_LENGTH)
    assert len(v.check_text("tag", "t", "x" * 8000, v.MAX_TAG_VALUE_LENGTH)) == 8000
    with pytest.raises(ValueError, match="tag 't' value is 8001 characters"):
        v.check_text("tag", "t", "x" * 8001, v.MAX_TAG_VALUE_LENGTH)


# -- names and run ids -----------------------------------------------------------------------------------------------


def test_names() -> None:
    assert v.check_name("run", "trial 7 (lr=0.1)") == "trial 7 (lr=0.1)"
    assert v.check_name("run", "x" * 500) == "x" * 500
    for bad in ("", "   ", None, 3):
        with pytest.raises(ValueError, match="run name must be a non-empty string"):
            v.check_name("run", bad)
    with pytest.raises(ValueError, match="501 characters"):
        v.check_name("experiment", "x" * 501)


def test_run_ids() -> None:
    assert v.check_run_id("parent_run_id", RUN_ID) == RUN_ID
    for bad in ("", RUN_ID.upper(), RUN_ID[:-1], RUN_ID + "a", "z" * 32, None, 12):
        with pytest.raises(ValueError, match="is not a run id"):
            v.check_run_id("parent_run_id", bad)


def test_a_run_id_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        v.check_run_id("parent_run_id", RUN_ID + "\n")
