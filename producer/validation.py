"""Checks on what a user logs, run at the call site before anything is published."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

from schemas.ids import RUN_ID
from schemas.limits import (
    INT64_MAX,
    INT64_MIN,
    KEY,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
)

__all__ = ["INT64_MAX", "INT64_MIN", "MAX_KEY_LENGTH", "MAX_NAME_LENGTH", "MAX_PARAM_VALUE_LENGTH",
           "MAX_TAG_VALUE_LENGTH"]
from schemas.ranges import STEP_MAX, STEP_MIN, TIME_MAX, TIME_MAX_MS


def check_key(kind: str, key: object) -> str:
    """Return key if it is a usable metric/param/tag key, else raise ValueError saying why."""
    if not isinstance(key, str):
        raise ValueError(f"{kind} key must be a string, got {type(key).__name__}")
    if not key:
        raise ValueError(f"{kind} key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"{kind} key {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}")
    if not KEY.fullmatch(key):
        raise ValueError(
            f"{kind} key {key!r} may only contain letters, digits, underscores, dashes, periods, "
            "spaces, slashes and colons"
        )
    return key


def check_metric_value(key: str, value: object) -> float:
    """A metric value as float; NaN and +-inf are legal, booleans and strings are not."""
    if type(value) is float:  # the training loop's usual value: no ABC check (numbers.Real costs ~1 us a call)
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"metric {key!r} value must be a number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"metric {key!r} value {str(value)[:30]}... is too large for a 64-bit float") from None


def check_int64(what: str, value: object) -> int:
    if type(value) is int and INT64_MIN <= value <= INT64_MAX:  # the usual step or timestamp: no ABC check
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{what} must be an integer, got {type(value).__name__} {value!r}")
    if not INT64_MIN <= int(value) <= INT64_MAX:
        raise ValueError(f"{what} {value} does not fit in 64 bits")
    return int(value)


def check_timestamp_ms(value: object) -> int:
    ts = check_int64("timestamp", value)
    if ts < 0:
        raise ValueError(f"timestamp {ts} is before 1970; pass milliseconds since the epoch")
    if ts >= TIME_MAX_MS:  # the projector would dead-letter the batch (schemas.ranges)
        raise ValueError(f"timestamp {ts} is after {TIME_MAX.year}; pass milliseconds since the epoch")
    return ts


def check_step(value: object) -> int:
    """A metric step within what the projector stores and JSON readers hold exactly (schemas.ranges)."""
    step = check_int64("step", value)
    if not STEP_MIN <= step <= STEP_MAX:
        raise ValueError(f"step {step} is outside [{STEP_MIN}, {STEP_MAX}]")
    return step


def check_text(kind: str, key: str, value: object, limit: int) -> str:
    """A param or tag value rendered as text, within MLflow's length limits."""
    if isinstance(value, float) and not math.isfinite(value):
        text = repr(value)
    else:
        text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise ValueError(f"{kind} {key!r} value is {len(text)} characters; the limit is {limit}")
    return text


def check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{kind} name must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{kind} name is {len(name)} characters; the limit is {MAX_NAME_LENGTH}")
    return name


def check_run_id(what: str, run_id: object) -> str:
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise ValueError(f"{what} {run_id!r} is not a run id (32 lowercase hex characters)")
    return run_id


def check_params(params: Mapping[str, object]) -> dict[str, str]:
    """Params as checked key -> text; raises ValueError naming the first bad one."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a mapping, got {type(params).__name__}")
    return {check_key("param", k): check_text("param", k, x, MAX_PARAM_VALUE_LENGTH) for k, x in params.items()}


def check_tags(tags: Mapping[str, object]) -> dict[str, str]:
    """Tags as checked key -> text; raises ValueError naming the first bad one."""
    if not isinstance(tags, Mapping):
        raise ValueError(f"tags must be a mapping, got {type(tags).__name__}")
    return {check_key("tag", k): check_text("tag", k, x, MAX_TAG_VALUE_LENGTH) for k, x in tags.items()}
