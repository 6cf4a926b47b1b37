"""MLflow 3 logged models over the event log: every change is an event through Kafka; reads fold the
projected tables after this instance's writes are projected (the read barrier)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from query_api.mlflow import entity_filter
from query_api.mlflow import protocol as p
from query_api.mlflow.service import MlflowService
from query_api.queries import models as q
from schemas import Payload
from schemas.model_events import (
    LoggedModelArtifactLogged,
    LoggedModelCreated,
    LoggedModelDeleted,
    LoggedModelParamsLogged,
    LoggedModelStatusChanged,
    LoggedModelTagDeleted,
    LoggedModelTagsSet,
    RunOutputsLogged,
)

STATUSES = {"LOGGED_MODEL_PENDING": 1, "LOGGED_MODEL_READY": 2, "LOGGED_MODEL_UPLOAD_FAILED": 3}
_BAD_NAME_CHARS = ("/", ":", ".", "%", '"', "'")
SEARCH_DEFAULT = 100
_ALIASES = {"creation_time": "creation_timestamp_ms", "creation_timestamp": "creation_timestamp_ms",
            "last_updated_timestamp": "last_updated_timestamp_ms", "run_id": "source_run_id"}
_ORDERABLE = {"name", "model_id", "creation_timestamp_ms", "last_updated_timestamp_ms", "source_run_id",
              "status", "model_type", "experiment_id"}


def model_shape(m: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """A LoggedModel as MLflow's protos write it."""
    info = p.drop_none({
        "experiment_id": m["experiment_id"], "model_id": m["model_id"], "name": m["name"],
        "artifact_uri": m["artifact_location"], "creation_timestamp_ms": m["creation_timestamp_ms"],
        "last_updated_timestamp_ms": m["last_updated_timestamp_ms"], "model_type": m["model_type"],
        "source_run_id": m["source_run_id"], "status": m["status"], "status_message": m["status_message"],
        "tags": [{"key": k, "value": v} for k, v in sorted(extra["tags"].items())] or None,
    })
    data = p.drop_none({
        "params": [{"key": k, "value": v} for k, v in sorted(extra["params"].items())] or None,
        "metrics": [p.drop_none(dict(x)) for x in extra["metrics"]] or None,
    })
    return {"info": info, "data": data}


def _status(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = next((k for k, v in STATUSES.items() if v == value), value)
    if value not in STATUSES:
        raise p.MlflowError(p.invalid_value("status", value, f"must be one of {', '.join(STATUSES)}"))
    return str(value)


class LoggedModels:
    """Logged-model operations; runs and experiments are checked through the tracking service."""

    def __init__(self, tracking: MlflowService) -> None:
        self.tracking = tracking
        self.clickhouse = tracking.reader.clickhouse

    # -- reads ------------------------------------------------------------------------------------------
    def _found(self, model_id: Any, *, allow_deleted: bool = True) -> dict[str, Any]:
        if not isinstance(model_id, str) or not model_id:
            raise p.MlflowError("Missing value for required parameter 'model_id'.")
        self.tracking.reader.barrier.wait()
        found = q.models(self.clickhouse, model_ids=[model_id])
        if not found or (found[0]["deleted"] and not allow_deleted):
            raise p.DoesNotExist(f"Logged model with ID '{model_id}' not found.")
        return found[0]

    def _shapes(self, found: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        extra = q.details(self.clickhouse, [m["model_id"] for m in found])
        return [model_shape(m, extra[m["model_id"]]) for m in found]

    def get(self, model_id: Any) -> dict[str, Any]:
        return self._shapes([self._found(model_id, allow_deleted=False)])[0]

    def search(self, experiment_ids: list[str], filter_string: Any, datasets: Any, max_results: Any,
               order_by: Any, page_token: Any) -> tuple[list[dict[str, Any]], str | None]:
        clauses = entity_filter.parse(filter_string if isinstance(filter_string, str) else None)
        limit = p.check_max_results(max_results, 50_000, default=SEARCH_DEFAULT)
        wanted = [(d.get("dataset_name"), d.get("dataset_digest")) for d in datasets or [] if isinstance(d, dict)]
        if datasets and any(not name for name, _ in wanted):
            raise p.MlflowError("`dataset_name` in the `datasets` clause must be specified.")
        query = {"experiment_ids": sorted(experiment_ids), "filter": filter_string or "", "order_by": order_by or []}
        offset = decode_page_token(page_token, query)
        self.tracking.reader.barrier.wait()
        found = [m for m in q.models(self.clickhouse, experiment_ids=experiment_ids) if not m["deleted"]]
        extra = q.details(self.clickhouse, [m["model_id"] for m in found])
        entities = []
        for m in found:
            points = [x for x in extra[m["model_id"]]["metrics"] if _in_datasets(x, wanted)]
            if wanted and not points:
                continue
            entity = {**m, "params": extra[m["model_id"]]["params"], "tags": extra[m["model_id"]]["tags"],
                      "metrics": _latest(points)}
            for alias, name in _ALIASES.items():
                entity.setdefault(alias, m.get(name))
            if entity_filter.matches(clauses, entity):
                entities.append((entity, points))
        entities = _order(entities, order_by or [])
        page = entities[offset: offset + limit]
        token = encode_page_token(offset + limit, query) if offset + limit < len(entities) else None
        return [model_shape(e, extra[e["model_id"]]) for e, _ in page], token

    # -- writes -----------------------------------------------------------------------------------------
    def _publish(self, m: dict[str, Any], payloads: Sequence[Payload]) -> None:
        writer = self.tracking.writer
        writer.publisher.publish([writer.event("", m["experiment_id"], 1, payload) for payload in payloads])

    def create(self, experiment_id: Any, name: Any, source_run_id: Any, model_type: Any,
               params: list[tuple[Any, Any]], tags: list[tuple[Any, Any]]) -> dict[str, Any]:
        experiment = self.tracking.reader.experiment(experiment_id)
        assert experiment is not None
        if experiment["lifecycle_stage"] == "deleted":
            raise p.MlflowError(f"The experiment {experiment['experiment_id']} must be in the 'active' state. "
                                "Current state is deleted.")
        if name is not None and (not isinstance(name, str) or not name or any(c in name for c in _BAD_NAME_CHARS)):
            raise p.MlflowError(f"Invalid model name ({name!r}) provided. Model name must be a non-empty string "
                                f"and cannot contain the following characters: {_BAD_NAME_CHARS}")
        model_id = f"m-{uuid.uuid4().hex}"
        checked_params = {p.check_key("Param", k, f"params[{i}].key"): p.check_value(
            "Param", v, p.MAX_PARAM_VAL_LENGTH, f"params[{i}].value") for i, (k, v) in enumerate(params)}
        location = f"{experiment['artifact_location'].rstrip('/')}/models/{model_id}/artifacts"
        created = LoggedModelCreated(model_id, name or f"model-{model_id[2:10]}", source_run_id or None,
                                     model_type or None, location, checked_params, p.check_tags(tags))
        self._publish({"experiment_id": experiment["experiment_id"]}, [created])
        return self.get(model_id)

    def finalize(self, model_id: Any, status: Any) -> dict[str, Any]:
        m = self._found(model_id)
        self._publish(m, [LoggedModelStatusChanged(m["model_id"], _status(status))])
        return self.get(model_id)

    def delete(self, model_id: Any) -> None:
        m = self._found(model_id)
        self._publish(m, [LoggedModelDeleted(m["model_id"])])

    def set_tags(self, model_id: Any, tags: list[tuple[Any, Any]]) -> None:
        m = self._found(model_id)
        checked = p.check_tags(tags)
        if checked:
            self._publish(m, [LoggedModelTagsSet(m["model_id"], checked)])

    def delete_tag(self, model_id: Any, key: Any) -> None:
        m = self._found(model_id)
        if key not in q.details(self.clickhouse, [m["model_id"]])[m["model_id"]]["tags"]:
            raise p.DoesNotExist(f"No tag with key {key!r} found for model with ID {model_id!r}.")
        self._publish(m, [LoggedModelTagDeleted(m["model_id"], str(key))])

    def log_params(self, model_id: Any, params: list[tuple[Any, Any]]) -> None:
        m = self._found(model_id)
        checked = {p.check_key("Param", k, f"params[{i}].key"): p.check_value(
            "Param", v, p.MAX_PARAM_VAL_LENGTH, f"params[{i}].value") for i, (k, v) in enumerate(params)}
        if checked:
            self._publish(m, [LoggedModelParamsLogged(m["model_id"], checked)])

    def log_outputs(self, run_id: str, outputs: Any) -> None:
        if not isinstance(outputs, list):
            raise p.MlflowError(p.invalid_value("models", outputs, "expected a list"))
        ids, steps = [], []
        for i, item in enumerate(outputs):
            if not isinstance(item, dict) or not item.get("model_id"):
                raise p.MlflowError(f"Missing value for required parameter 'models[{i}].model_id'.")
            ids.append(str(item["model_id"]))
            steps.append(p.check_int64(item.get("step"), f"models[{i}].step", default=0))
        state = self.tracking.writer.active_run(run_id)
        if ids:
            with state.lock:
                self.tracking.writer.publish_run(state, [RunOutputsLogged(ids, steps)])

    def check_can_upload(self, experiment_id: str, model_id: str) -> None:
        m = self._found(model_id, allow_deleted=False)
        if m["experiment_id"] != experiment_id:
            raise p.MlflowError(f"Logged model {model_id} belongs to experiment {m['experiment_id']}, "
                                f"not {experiment_id}")

    def log_artifact(self, experiment_id: str, model_id: str, relative: str, uri: str, size: int, digest: str,
                     media_type: str | None) -> None:
        self._publish({"experiment_id": experiment_id},
                      [LoggedModelArtifactLogged(model_id, relative, uri, size, digest, media_type)])


def _in_datasets(point: dict[str, Any], wanted: list[tuple[Any, Any]]) -> bool:
    return not wanted or any(point["dataset_name"] == n and (d is None or point["dataset_digest"] == d)
                             for n, d in wanted)


def _latest(points: list[dict[str, Any]]) -> dict[str, float]:
    latest: dict[str, tuple[int, int, float]] = {}
    for x in points:
        mark = (x["timestamp"], x["step"], x["value"])
        if x["key"] not in latest or mark[:2] >= latest[x["key"]][:2]:
            latest[x["key"]] = mark
    return {k: v for k, (_, _, v) in latest.items()}


def _order(entities: list[tuple[dict[str, Any], list[dict[str, Any]]]], order_by: list[Any]
           ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """MLflow's order: the given keys (nulls last), then newest first, then model_id."""
    out = sorted(entities, key=lambda e: e[0]["model_id"])
    out.sort(key=lambda e: e[0]["creation_timestamp_ms"], reverse=True)
    for item in reversed(order_by):
        if not isinstance(item, dict) or not item.get("field_name"):
            raise p.MlflowError(p.invalid_value("order_by", item, "expected {field_name, ascending}"))
        field, ascending = str(item["field_name"]), item.get("ascending", True) is not False
        value = _order_value(field, item)
        present = [e for e in out if value(e) is not None]
        present.sort(key=value, reverse=not ascending)
        out = present + [e for e in out if value(e) is None]
    return out


def _order_value(field: str, item: dict[str, Any]) -> Callable[[tuple[dict[str, Any], list[dict[str, Any]]]], Any]:
    """What an order_by key sorts on: a model attribute, or a metric's latest value (on a dataset)."""
    if field.startswith("metrics."):
        wanted = [(item["dataset_name"], item.get("dataset_digest"))] if item.get("dataset_name") else []
        key = field.split(".", 1)[1]
        return lambda e: _latest([x for x in e[1] if x["key"] == key and _in_datasets(x, wanted)]).get(key)
    if "." in field:
        raise p.MlflowError(f"Invalid order by field name: {field}. Only metrics are supported.")
    name = _ALIASES.get(field, field)
    if name not in _ORDERABLE:
        raise p.MlflowError(f"Invalid order by field name: {field}")
    return lambda e: e[0].get(name)


def encode_page_token(offset: int, query: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps({"offset": offset, **query}).encode()).decode()


def decode_page_token(token: Any, query: dict[str, Any]) -> int:
    if not token:
        return 0
    try:
        decoded = json.loads(base64.b64decode(str(token)))
        offset = int(decoded.pop("offset"))
    except (ValueError, KeyError, TypeError) as exc:
        raise p.MlflowError(f"Invalid page token: {exc}") from None
    if decoded != json.loads(json.dumps(query)):
        raise p.MlflowError("The page token does not belong to this search (its filter or order changed)")
    return offset
