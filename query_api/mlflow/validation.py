"""Checks of whole MLflow requests, pure: each turns a request's loose JSON into typed values or raises an
MlflowError in MLflow's words. Nothing here reads state or publishes (see writes.py for both)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from query_api.mlflow import protocol as p
from schemas import DatasetInput
from schemas.ranges import STEP_MAX, STEP_MIN


class Point(NamedTuple):
    key: str
    value: float
    timestamp: int  # ms
    step: int


@dataclass(frozen=True)
class CheckedBatch:
    points: list[Point]
    params: dict[str, str]
    tags: dict[str, str]
    metrics: Sequence[Any] = ()  # the request's metric objects, one per point (MLflow 3 links some to a model)


@dataclass(frozen=True)
class NewRun:
    experiment_id: str
    name: str | None  # None: named after its id
    user: str
    tags: dict[str, str]
    parent_run_id: str | None
    source: str | None
    description: str | None
    start_ms: int | None  # the client's start time, kept as MLflow keeps it (imports and backfills need it)


def check_point(metric: Any, index: int | None, known: set[str] | None = None) -> Point:
    """A metric of a request (metrics[index], or the request itself when index is None)."""
    if isinstance(metric, dict) and known is not None:  # the common case, without building messages
        key, value, ts = metric.get("key"), metric.get("value"), metric.get("timestamp")
        step = metric.get("step", 0)
        if (key in known and isinstance(value, float | int) and type(value) is not bool
                and type(ts) is int and 0 <= ts <= p.MAX_TIMESTAMP_MS
                and type(step) is int and STEP_MIN <= step <= STEP_MAX):
            return Point(key, float(value), ts, step)
    path = "" if index is None else f"metrics[{index}]"
    if not isinstance(metric, dict):
        raise p.MlflowError(p.invalid_value(path, metric, "expected a metric object"))
    key = p.check_key("Metric", metric.get("key"), f"{path}.key" if path else "key")
    if known is not None:
        known.add(key)
    value = p.check_metric_value(metric.get("value"), key, f"{path}.value" if path else "value")
    timestamp = p.check_int64(metric.get("timestamp"), f"{path}.timestamp" if path else "timestamp", minimum=0,
                              maximum=p.MAX_TIMESTAMP_MS)
    # steps beyond +-(2^53 - 1) would be dead-lettered by the projector (schemas.ranges): refused here instead
    step = p.check_int64(metric.get("step"), f"{path}.step" if path else "step", default=0, minimum=STEP_MIN,
                         maximum=STEP_MAX)
    return Point(key, value, timestamp, step)


def check_log_batch(metrics: Sequence[Any], params: list[tuple[Any, Any]], tags: list[tuple[Any, Any]]
                    ) -> CheckedBatch:
    """Metrics, params and tags of one request, all checked before anything is published."""
    p.check_batch_limits(len(metrics), len(params), len(tags))
    known: set[str] = set()  # each distinct key is checked once (a batch repeats a few keys many times)
    points = [check_point(m, i, known) for i, m in enumerate(metrics)]
    checked_params: dict[str, str] = {}
    for i, (key, value) in enumerate(params):
        key = p.check_key("Param", key, f"params[{i}].key")
        value = p.check_value("Param", value, p.MAX_PARAM_VAL_LENGTH, f"params[{i}].value", truncate=True)
        if key in checked_params and checked_params[key] != value:
            raise p.MlflowError(f"Duplicate parameter keys have been submitted: {[key]}. Please ensure the "
                                "request contains only one param value per param key.")
        checked_params[key] = value
    # MLflow's server cuts long param values and run tags, with a warning
    return CheckedBatch(points, checked_params, p.check_tags(tags, truncate=True), metrics)


def check_new_run(experiment_id: Any, user_id: Any, start_time: Any, run_name: Any,
                  tags: list[tuple[Any, Any]]) -> NewRun:
    """A runs/create request; the run's name comes from run_name or the mlflow.runName tag (equal if both)."""
    experiment_id = p.check_experiment_id(experiment_id)
    checked = p.check_tags(tags, truncate=True)
    run_name = check_run_name(run_name)
    start_ms = None if start_time is None else p.check_int64(start_time, "start_time", minimum=0,
                                                                     maximum=p.MAX_TIMESTAMP_MS)
    tag_name = checked.get(p.RUN_NAME_TAG)
    if run_name and tag_name and run_name != tag_name:
        raise p.MlflowError(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "
            f"(run_name='{run_name}', mlflow.runName='{tag_name}').")
    parent = checked.get(p.PARENT_TAG)
    return NewRun(experiment_id, str(run_name or tag_name) if run_name or tag_name else None,
                  str(user_id or checked.get(p.USER_TAG) or ""), checked,
                  parent if parent and len(parent) == 32 else None, checked.get(p.SOURCE_TAG),
                  checked.get("mlflow.note.content"), start_ms)


def check_run_name(run_name: Any) -> str | None:
    """A run name is the mlflow.runName tag's value too: the tag's limit, checked before anything is published."""
    if run_name is None or run_name == "":
        return None
    return p.check_value("Tag", run_name, p.MAX_TAG_VAL_LENGTH, "run_name")


def check_status_update(status: Any, end_time: Any) -> tuple[str | None, int | None]:
    """(status, end time ms) of a runs/update request; each None when not given."""
    if status is not None and status not in p.STATUSES:
        raise p.MlflowError(p.invalid_value("status", status, f"must be one of {', '.join(p.STATUSES)}"))
    end_ms = None if end_time is None else p.check_int64(end_time, "end_time", minimum=0,
                                                                 maximum=p.MAX_TIMESTAMP_MS)
    return status, end_ms


def check_datasets(datasets: Any) -> list[DatasetInput]:
    """The dataset inputs of a runs/log-inputs request."""
    if datasets is None:
        return []
    if not isinstance(datasets, list):
        raise p.MlflowError(p.invalid_value("datasets", datasets, "expected a list"))
    checked = []
    for i, item in enumerate(datasets):
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(dataset, dict):
            raise p.MlflowError(f"Missing value for required parameter 'datasets[{i}].dataset'.")
        for field, limit in (("name", p.MAX_DATASET_NAME_SIZE), ("digest", p.MAX_DATASET_DIGEST_SIZE)):
            value = dataset.get(field)
            if not isinstance(value, str) or not value:
                raise p.MlflowError(f"Missing value for required parameter 'datasets[{i}].dataset.{field}'.")
            if len(value) > limit:
                raise p.MlflowError(f"'dataset {field}' exceeds the maximum length of {limit} characters")
        tags = _input_tags(item.get("tags"), i)
        context = next((value for key, value in tags if key == p.CONTEXT_TAG), None)
        checked.append(DatasetInput(
            dataset["name"], dataset["digest"], source_type=_text(dataset.get("source_type")),
            source=_text(dataset.get("source")), context=context, schema=_text(dataset.get("schema")),
            profile=_text(dataset.get("profile")), tags=tags))
    return checked


def check_model_inputs(models: Any) -> list[str]:
    """The logged models of a runs/log-inputs request ([{model_id}, ...]), as ids."""
    if models is None:
        return []
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise p.MlflowError(p.invalid_value("models", models, "expected a list of {model_id} objects"))
    return [p.check_string(m.get("model_id"), f"models[{i}].model_id") for i, m in enumerate(models)]


def _input_tags(tags: Any, index: int) -> tuple[tuple[str, str], ...]:
    """A dataset input's tags, in the order sent (MLflow keeps them all, its context tag among them)."""
    if tags is None:
        return ()
    if not isinstance(tags, list) or not all(isinstance(t, dict) for t in tags):
        raise p.MlflowError(p.invalid_value(f"datasets[{index}].tags", tags, "expected a list of {key, value} objects"))
    checked = []
    for j, tag in enumerate(tags):
        key = p.check_value("Input tag key", tag.get("key"), p.MAX_INPUT_TAG_KEY_LENGTH,
                            f"datasets[{index}].tags[{j}].key")
        checked.append((key, p.check_value("Input tag", tag.get("value"), p.MAX_INPUT_TAG_VAL_LENGTH,
                                           f"datasets[{index}].tags[{j}].value")))
    return tuple(checked)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)
