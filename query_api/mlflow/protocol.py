"""MLflow's REST protocol, pure: its errors, its limits and checks, and the JSON shapes it answers with.

Field names follow MLflow's protos (service.proto); int64 values are JSON numbers and NaN is "NaN", as MLflow's
own server writes them. Messages copy MLflow's wording, so clients and users see what they already know.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from query_api.errors import ApiError
from schemas.ids import RUN_ID
from schemas.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
)

log = logging.getLogger("runstream.mlflow")

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_ENTITY_KEY_LENGTH = MAX_KEY_LENGTH  # the SDK enforces MLflow's limits too: one definition
MAX_PARAM_VAL_LENGTH = MAX_PARAM_VALUE_LENGTH
MAX_TAG_VAL_LENGTH = MAX_TAG_VALUE_LENGTH
MAX_EXPERIMENT_NAME_LENGTH = MAX_NAME_LENGTH
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_INPUT_TAG_KEY_LENGTH = 255  # MLflow's MAX_INPUT_TAG_KEY_SIZE
MAX_INPUT_TAG_VAL_LENGTH = 500  # MLflow's MAX_INPUT_TAG_VALUE_SIZE
MAX_RESULTS_DEFAULT = 1000
MAX_RESULTS_RUNS = 50000
MAX_RESULTS_EXPERIMENTS = 50000
MAX_HISTORY_PAGE = 25000
BULK_MAX_RUNS = 100
BULK_MAX_POINTS = 2500

_NAME = re.compile(r"^[/\w.\- :]*$")
_EXPERIMENT_ID = re.compile(r"^[0-9]{1,19}$|^[0-9a-f]{32}$")
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"
PARENT_TAG = "mlflow.parentRunId"
SOURCE_TAG = "mlflow.source.name"
CONTEXT_TAG = "mlflow.data.context"
STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


class MlflowError(ApiError):
    """An error in MLflow's terms: error_code and HTTP status as MLflow's server maps them."""

    status_code = 400
    error_code = "INVALID_PARAMETER_VALUE"


class AlreadyExists(MlflowError):
    error_code = "RESOURCE_ALREADY_EXISTS"


class DoesNotExist(MlflowError):
    status_code = 404
    error_code = "RESOURCE_DOES_NOT_EXIST"


class NotImplementedByRunstream(MlflowError):
    """An MLflow route runstream does not serve (MLflow's own answer for what a server leaves out)."""

    status_code = 501
    error_code = "NOT_IMPLEMENTED"


class NotARemoteUri(MlflowError):
    """What MLflow's server answers for a `file:` URI of another host as a model version source: its check raises
    without an error code, so the answer is a 500 INTERNAL_ERROR; clients and MLflow's tests match on it."""

    status_code = 500
    error_code = "INTERNAL_ERROR"


class InvalidState(MlflowError):
    status_code = 409
    error_code = "INVALID_STATE"


# -- checks -------------------------------------------------------------------------------------------------
def invalid_value(path: str, value: Any, message: str | None = None) -> str:
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return f"Invalid value {shown} for parameter '{path}' supplied" + (f": {message}" if message else ".")


def _bad_characters() -> str:
    return ("Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
            "colon(:) and slashes (/).")


def check_key(kind: str, key: Any, path: str) -> str:
    """A metric, param or tag key as MLflow accepts it: its characters, a path that stays itself, ≤ 250."""
    if key is None or key == "":  # MLflow's server: an absent or empty required string is missing
        raise MlflowError(f"Missing value for required parameter '{path}'.")
    if not isinstance(key, str) or not _NAME.match(key):
        raise MlflowError(invalid_value(path, key, _bad_characters()))
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise MlflowError(invalid_value(path, key, (
            "Names may be treated as files in certain cases, and must not resolve to other names when treated "
            f"as such. This name would resolve to {norm!r}")))
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise MlflowError(f"'{kind} name' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} characters"
                          if kind == "Metric" else
                          f"'{kind} key' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} characters")
    return key


def check_value(kind: str, value: Any, limit: int, path: str, *, truncate: bool = False) -> str:
    """A param or tag value; over `limit` it is refused, or cut to the limit with a warning when `truncate`
    (what MLflow's server does to run params and tags)."""
    if value is None:
        raise MlflowError(f"Missing value for required parameter '{path}'.")
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) > limit:
        if truncate:
            log.warning("%s value '%s...' (%d characters) is truncated to %d characters to meet the length limit.",
                        kind, text[:100], len(text), limit)
            return text[:limit]
        raise MlflowError(f"'{kind} value' exceeds the maximum length of {limit} characters")
    return text


def check_string(value: Any, path: str) -> str:
    """A required string field: absent is missing, any other JSON type is an invalid value (MLflow's words)."""
    if value is None:
        raise MlflowError(f"Missing value for required parameter '{path}'.")
    if not isinstance(value, str):
        raise MlflowError(invalid_value(path, value))
    return value


def check_tags(tags: list[tuple[Any, Any]], limit: int = MAX_TAG_VAL_LENGTH, *, truncate: bool = False
               ) -> dict[str, str]:
    """Tags as {key: value}, every key and value checked (`tags[i]` named in errors)."""
    checked = {}
    for i, (key, value) in enumerate(tags):
        checked[check_key("Tag", key, f"tags[{i}].key")] = check_value("Tag", value, limit, f"tags[{i}].value",
                                                                         truncate=truncate)
    return checked


def check_run_id(run_id: Any, path: str = "run_id") -> str:
    if run_id is None or run_id == "":
        raise MlflowError(f"Missing value for required parameter '{path}'.")
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise MlflowError(invalid_value(path, run_id))
    return run_id


def check_experiment_id(experiment_id: Any, path: str = "experiment_id") -> str:
    if experiment_id is None or experiment_id == "":
        raise MlflowError(f"Missing value for required parameter '{path}'.")
    text = str(experiment_id)
    if not _EXPERIMENT_ID.match(text):
        raise MlflowError(f"Invalid experiment ID: '{text}'")
    return text


def check_experiment_name(name: Any, path: str = "name") -> str:
    if name is None:
        raise MlflowError(f"Missing value for required parameter '{path}'.")
    if not isinstance(name, str):
        raise MlflowError(invalid_value(path, name))
    if name == "":
        raise MlflowError("Invalid experiment name: ''")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise MlflowError(f"'name' exceeds the maximum length of {MAX_EXPERIMENT_NAME_LENGTH} characters")
    return name


def check_artifact_location(location: Any, cwd: str) -> str | None:
    """An experiment's artifact location as MLflow's server keeps it: a relative local path is made absolute
    under the server's working directory (`cwd`); URIs and absolute paths stay as sent."""
    if location is None or location == "":
        return None
    if not isinstance(location, str):
        raise MlflowError(invalid_value("artifact_location", location))
    if "://" in location or ":/" in location or posixpath.isabs(location):
        return location
    return posixpath.normpath(posixpath.join(cwd, location))


# The last instant ClickHouse's DateTime64(3) holds (2299-12-31T23:59:59.999Z): a later time in ms overflows the
# tables' time columns (as-of and diff answered 500 after a timestamp of 2**63-1).
MAX_TIMESTAMP_MS = 10_413_791_999_999


def check_int64(value: Any, path: str, *, default: int | None = None, minimum: int = INT64_MIN,
                maximum: int = INT64_MAX) -> int:
    """An int64 sent as a JSON number or a decimal string (proto JSON allows both)."""
    if value is None:
        if default is None:
            raise MlflowError(f"Missing value for required parameter '{path}'.")
        return default
    if isinstance(value, bool):
        raise MlflowError(invalid_value(path, value, "Must be a long (64-bit integer)"))
    try:
        number = int(value) if isinstance(value, int | str) else None
    except ValueError:
        number = None
    if number is None and isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None or not INT64_MIN <= number <= INT64_MAX:
        raise MlflowError(invalid_value(path, value, "Must be a long (64-bit integer)"))
    if not minimum <= number <= maximum:
        raise MlflowError(invalid_value(path, value, f"Must be between {minimum} and {maximum}"))
    return number


def check_metric_value(value: Any, key: str, path: str) -> float:
    """A double as proto JSON carries it: a number, or "NaN", "Infinity", "-Infinity"."""
    if value is None:
        raise MlflowError(f"Missing value for required parameter '{path}'.")
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MlflowError(invalid_value(path, value, f"metric '{key}'. Please specify value as a valid double "
                                                     "(64-bit floating point)"))
    try:
        return float(value)
    except OverflowError:
        raise MlflowError(invalid_value(path, value, "too large for a 64-bit float")) from None


def check_batch_limits(metrics: int, params: int, tags: int) -> None:
    for entity, limit, length in (("metrics", MAX_METRICS_PER_BATCH, metrics),
                                  ("params", MAX_PARAMS_TAGS_PER_BATCH, params),
                                  ("tags", MAX_PARAMS_TAGS_PER_BATCH, tags),
                                  ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH, metrics + params + tags)):
        if length > limit:
            raise MlflowError(f"A batch logging request can contain at most {limit} {entity}. Got {length} "
                              f"{entity}. Please split up {entity} across multiple requests and try again.")


def check_max_results(value: Any, limit: int, default: int = MAX_RESULTS_DEFAULT) -> int:
    number = check_int64(value, "max_results", default=default)
    if number < 1 or number > limit:
        raise MlflowError(f"Invalid value {number} for parameter 'max_results' supplied. It must be at most "
                          f"{limit}" if number > limit else
                          f"Invalid value {number} for parameter 'max_results' supplied. It must be positive")
    return number


def param_change_message(run_id: str, changed: Sequence[tuple[str, str, str]]) -> str:
    """MLflow's wording when a param is logged again with another value."""
    if len(changed) == 1:
        key, old, new = changed[0]
        return (f"Changing param values is not allowed. Param with key='{key}' was already logged with "
                f"value='{old}' for run ID='{run_id}'. Attempted logging new value '{new}'.")
    listed = [{"key": k, "old_value": o, "new_value": n} for k, o, n in changed]
    return f"Changing param values is not allowed. Params were already logged='{listed}' for run ID='{run_id}'."


def key_values(items: Any, path: str) -> list[tuple[str, Any]]:
    """[{"key": k, "value": v}, ...] as pairs; anything else is an invalid parameter."""
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise MlflowError(invalid_value(path, items, "expected a list of {key, value} objects"))
    return [(i.get("key"), i.get("value")) for i in items]


# -- shapes -------------------------------------------------------------------------------------------------
def ms(micros: int | None) -> int | None:
    return None if micros is None else micros // 1000


def drop_none(shape: dict[str, Any]) -> dict[str, Any]:
    """MLflow's server omits unset fields."""
    return {k: v for k, v in shape.items() if v is not None}


def experiment_shape(exp: Mapping[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
    return drop_none({
        "experiment_id": exp["experiment_id"],
        "name": exp["name"],
        "artifact_location": exp.get("artifact_location") or f"mlflow-artifacts:/{exp['experiment_id']}",
        "lifecycle_stage": "deleted" if exp.get("deleted") else "active",
        "last_update_time": exp.get("last_update_time"),
        "creation_time": exp.get("creation_time"),
        "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())] or None,
    })


def metric_shape(key: str, value: float, timestamp: int, step: int, run_id: str | None = None) -> dict[str, Any]:
    shape: dict[str, Any] = {"key": key, "value": value, "timestamp": timestamp, "step": step}
    if run_id is not None:
        shape["run_id"] = run_id
    return shape


PROXIED = "mlflow-artifacts:"


def run_artifact_uri(experiment_location: str | None, experiment_id: str, run_id: str) -> str:
    """Where a run's files go, as MLflow's server says it: under its experiment's artifact location. Files under
    `mlflow-artifacts:` pass through this server (each an ArtifactLogged event); any other location (a `file://`
    or `s3://` root the client writes to itself, as with `mlflow server --no-serve-artifacts`) is only recorded."""
    if not experiment_location or experiment_location.startswith(PROXIED):
        return f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    return f"{experiment_location.rstrip('/')}/{run_id}/artifacts"


def proxied_path(uri: str) -> str | None:
    """The path under this server's artifact store of a `mlflow-artifacts:` URI; None for a location the client
    writes to itself (this server holds none of its files)."""
    return uri.removeprefix(PROXIED).strip("/") if uri.startswith(PROXIED) else None


def run_shape(run: Mapping[str, Any], latest: Mapping[str, tuple[float, int, int]],
              inputs: Sequence[Mapping[str, Any]], artifact_uri: str,
              experiment_deleted: bool = False) -> dict[str, Any]:
    """An MLflow Run from runstream's run shape, its latest metric points and its dataset inputs."""
    deleted = bool(run.get("deleted")) or experiment_deleted
    info = drop_none({
        "run_id": run["run_id"],
        "run_uuid": run["run_id"],
        "run_name": run.get("name"),
        "experiment_id": run["experiment_id"],
        "user_id": run.get("user") or "",
        "status": run.get("status"),
        "start_time": run.get("start_ms"),
        "end_time": run.get("end_ms"),
        "artifact_uri": artifact_uri,
        "lifecycle_stage": "deleted" if deleted else "active",
    })
    data = drop_none({
        "metrics": [metric_shape(k, v, ts, step) for k, (v, ts, step) in sorted(latest.items())] or None,
        "params": [{"key": k, "value": v} for k, v in sorted(run.get("params", {}).items())] or None,
        "tags": [{"key": k, "value": v} for k, v in sorted(run.get("tags", {}).items())] or None,
    })
    shaped: dict[str, Any] = {"info": info, "data": data}
    shaped["inputs"] = {"dataset_inputs": [dataset_input_shape(d) for d in inputs]} if inputs else {}
    return shaped


def dataset_input_shape(d: Mapping[str, Any]) -> dict[str, Any]:
    dataset = drop_none({k: d.get(k) for k in ("name", "digest", "source_type", "source", "schema", "profile")})
    tags: list[dict[str, Any]] | None
    if d.get("tags"):  # every tag as sent (schema v7)
        tags = [{"key": k, "value": v} for k, v in d["tags"]]
    else:  # events before v7 kept the context tag only
        tags = [{"key": CONTEXT_TAG, "value": d["context"]}] if d.get("context") else None
    return drop_none({"tags": tags, "dataset": dataset})

