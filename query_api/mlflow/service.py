"""The MLflow front door's operations: every write becomes runstream events published through Kafka (never a
ClickHouse insert); every read first waits for the projector to pass this instance's own writes."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from producer.ids import DEFAULT_EXPERIMENT, DEFAULT_EXPERIMENT_ID, experiment_id_for, new_event_id, new_run_id
from query_api.artifacts import ArtifactStore, StoredFile
from query_api.consistency import ReadBarrier
from query_api.mlflow import protocol as p
from query_api.mlflow.model_metrics import linked_metrics, split_points
from query_api.mlflow.state import ExperimentState, RunState, StateCache
from query_api.publisher import ApiPublisher
from query_api.queries import mlflow as q
from query_api.queries import models as model_queries
from query_api.queries import runs as run_queries
from schemas import (
    ArtifactLogged,
    DatasetInput,
    ExperimentCreated,
    ExperimentDeleted,
    ExperimentRenamed,
    ExperimentRestored,
    ExperimentTagDeleted,
    ExperimentTagsSet,
    InputsLogged,
    MetricsLogged,
    ParamsLogged,
    Payload,
    Producer,
    RunDeleted,
    RunEvent,
    RunRenamed,
    RunRestored,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
)

_CONTENT_IDS = uuid.UUID("0b7c4d0e-3a52-4d7e-9d1f-6c2f1e9a5b33")
Point = tuple[str, float, int, int]  # key, value, timestamp ms, step


def content_event_id(run_id: str, points: Sequence[Point]) -> str:
    """The event id of a metric batch, derived from its content: a retried request (MLflow's client retries)
    publishes the same id, which the projector counts once. MLflow's own stores keep one row per identical
    (key, value, timestamp, step) too, so this drops nothing MLflow would keep."""
    canonical = json.dumps([[k, repr(v), ts, step] for k, v, ts, step in points], separators=(",", ":"))
    return str(uuid.uuid5(_CONTENT_IDS, f"{run_id}\x00{hashlib.sha256(canonical.encode()).hexdigest()}"))


def metrics_payload(points: Sequence[Point]) -> MetricsLogged:
    names: list[str] = []
    index: dict[str, int] = {}
    for key, *_ in points:
        if key not in index:
            index[key] = len(names)
            names.append(key)
    return MetricsLogged(names, [index[k] for k, *_ in points], [s for *_, s in points],
                         [ts for _, _, ts, _ in points], [v for _, v, _, _ in points])


def _iso_ms(value: str | None) -> int | None:
    return None if value is None else int(datetime.fromisoformat(value).timestamp() * 1000)


class MlflowService:
    """MLflow's tracking operations over runstream's log and tables."""

    def __init__(self, clickhouse: Client, publisher: ApiPublisher, barrier: ReadBarrier,
                 artifacts: ArtifactStore) -> None:
        self.clickhouse = clickhouse
        self.artifacts = artifacts
        self.publisher = publisher
        self.barrier = barrier
        self._host, self._pid = socket.gethostname(), os.getpid()
        self.runs: StateCache[RunState] = StateCache(self._load_run)
        self.experiments: StateCache[ExperimentState] = StateCache(self._load_experiment)
        self._experiment_lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------------------------
    def _event(self, run_id: str, experiment_id: str, seq: int, payload: Payload, *, user: str = "",
               event_id: str | None = None) -> RunEvent:
        producer = Producer(self._host, self._pid, user or "mlflow-client", "runstream-api (MLflow REST)")
        return RunEvent(event_id or new_event_id(), run_id, experiment_id, seq, datetime.now(UTC), producer,
                        payload)

    def _load_run(self, run_id: str) -> RunState | None:
        self.barrier.wait()
        found = run_queries.fetch_runs(self.clickhouse, [run_id])
        if not found:
            return None
        run = found[0]
        return RunState(run_id, run["experiment_id"], run["name"], run["deleted"], dict(run["params"]),
                        dict(run["tags"]), q.max_seq(self.clickhouse, run_id), status=run["status"],
                        user=run["user"] or "", start_ms=_iso_ms(run["start_time"]), end_ms=_iso_ms(run["end_time"]))

    def _load_experiment(self, experiment_id: str) -> ExperimentState | None:
        found = self.experiment(experiment_id, missing_ok=True)
        if found is None:
            return None
        tags = {t["key"]: t["value"] for t in found.get("tags", [])}
        return ExperimentState(experiment_id, found["name"], found["lifecycle_stage"] == "deleted", tags,
                               announced="creation_time" in found)

    def _active_run(self, run_id: str) -> RunState:
        state = self.runs.get(p.check_run_id(run_id))
        if state is None:
            raise p.DoesNotExist(f"Run with id={run_id} not found")
        experiment = self.experiments.get(state.experiment_id)
        if state.deleted or (experiment is not None and experiment.deleted):
            raise p.MlflowError(f"The run {run_id} must be in the 'active' state. Current state is deleted.")
        return state

    # -- experiments: reads ---------------------------------------------------------------------------------
    def all_experiments(self) -> list[dict[str, Any]]:
        """Every experiment with its tags, the Default one ("0") included even before anything was logged."""
        self.barrier.wait()
        rows = q.experiments(self.clickhouse)
        if not any(r["experiment_id"] == DEFAULT_EXPERIMENT_ID for r in rows):
            rows.append({"experiment_id": DEFAULT_EXPERIMENT_ID, "name": DEFAULT_EXPERIMENT, "artifact_location": None,
                         "creation_time": None, "last_update_time": None, "deleted": False})
        tags = q.experiment_tags(self.clickhouse, [r["experiment_id"] for r in rows])
        return [p.experiment_shape(r, tags[r["experiment_id"]]) for r in rows]

    def experiment(self, experiment_id: Any, *, missing_ok: bool = False) -> dict[str, Any] | None:
        experiment_id = p.check_experiment_id(experiment_id)
        for exp in self.all_experiments():
            if exp["experiment_id"] == experiment_id:
                return exp
        if missing_ok:
            return None
        raise p.DoesNotExist(f"No Experiment with id={experiment_id} exists")

    def experiment_by_name(self, name: Any) -> dict[str, Any]:
        name = p.check_experiment_name(name)
        for exp in self.all_experiments():
            if exp["name"] == name:
                return exp
        raise p.DoesNotExist(f"Could not find experiment with name '{name}'")

    # -- experiments: writes --------------------------------------------------------------------------------
    def create_experiment(self, name: Any, artifact_location: str | None, tags: list[tuple[Any, Any]]) -> str:
        name = p.check_experiment_name(name)
        checked = p.check_tags(tags, p.MAX_EXPERIMENT_TAG_VAL_LENGTH)
        with self._experiment_lock:
            existing = self.all_experiments()
            if any(e["name"] == name for e in existing):
                raise p.AlreadyExists(f"Experiment(name={name}) already exists.")
            taken = {e["experiment_id"] for e in existing}
            attempt = 0
            while (experiment_id := experiment_id_for(name, attempt)) in taken:
                attempt += 1
            self.publisher.publish([self._event("", experiment_id, 1, ExperimentCreated(
                name, artifact_location=artifact_location, tags=checked))])
            self.experiments.put(experiment_id, ExperimentState(experiment_id, name, False, checked))
        return experiment_id

    def _experiment_state(self, experiment_id: Any, *, active: bool | None) -> ExperimentState:
        experiment_id = p.check_experiment_id(experiment_id)
        state = self.experiments.get(experiment_id)
        if state is None or (active is True and state.deleted) or (active is False and not state.deleted):
            raise p.DoesNotExist(f"No Experiment with id={experiment_id} exists")
        return state

    def _publish_experiment(self, state: ExperimentState, payload: Payload) -> None:
        self.publisher.publish([self._event("", state.experiment_id, 1, payload)])

    def rename_experiment(self, experiment_id: Any, new_name: Any) -> None:
        new_name = p.check_experiment_name(new_name)
        with self._experiment_lock:
            state = self._experiment_state(experiment_id, active=None)
            if state.deleted:
                raise p.InvalidState("Cannot rename a non-active experiment.")
            if any(e["name"] == new_name and e["experiment_id"] != state.experiment_id
                   for e in self.all_experiments()):
                raise p.AlreadyExists(f"Experiment(name={new_name}) already exists.")
            self._publish_experiment(state, ExperimentRenamed(new_name))
            state.name = new_name

    def delete_experiment(self, experiment_id: Any) -> None:
        with self._experiment_lock:
            state = self._experiment_state(experiment_id, active=True)
            self._publish_experiment(state, ExperimentDeleted())
            state.deleted = True

    def restore_experiment(self, experiment_id: Any) -> None:
        with self._experiment_lock:
            state = self._experiment_state(experiment_id, active=False)
            self._publish_experiment(state, ExperimentRestored())
            state.deleted = False

    def set_experiment_tag(self, experiment_id: Any, key: Any, value: Any) -> None:
        tags = p.check_tags([(key, value)], p.MAX_EXPERIMENT_TAG_VAL_LENGTH)
        with self._experiment_lock:
            state = self._experiment_state(experiment_id, active=None)
            if state.deleted:
                raise p.MlflowError(f"The experiment {state.experiment_id} must be in the 'active' state. "
                                    "Current state is deleted.")
            self._publish_experiment(state, ExperimentTagsSet(tags))
            state.tags.update(tags)

    def delete_experiment_tag(self, experiment_id: Any, key: Any) -> None:
        key = p.check_key("Tag", key, "key")
        with self._experiment_lock:
            state = self._experiment_state(experiment_id, active=True)
            if key not in state.tags:
                raise p.DoesNotExist(f"No tag with name: {key} in experiment with id {state.experiment_id}")
            self._publish_experiment(state, ExperimentTagDeleted(key))
            del state.tags[key]

    # -- runs: writes ----------------------------------------------------------------------------------------
    def create_run(self, experiment_id: Any, user_id: Any, start_time: Any, run_name: Any,
                   tags: list[tuple[Any, Any]]) -> dict[str, Any]:
        experiment_id = p.check_experiment_id(experiment_id)
        checked = p.check_tags(tags, truncate=True)
        start_ms = None if start_time is None else p.check_int64(start_time, "start_time", minimum=0)
        started_at = None if start_ms is None else datetime.fromtimestamp(start_ms / 1000, UTC)
        user = str(user_id or checked.get(p.USER_TAG) or "")
        tag_name = checked.get(p.RUN_NAME_TAG)
        if run_name and tag_name and run_name != tag_name:
            raise p.MlflowError(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "
                f"(run_name='{run_name}', mlflow.runName='{tag_name}').")
        run_id = new_run_id()
        name = str(run_name or tag_name or f"run-{run_id[:8]}")
        checked[p.RUN_NAME_TAG] = name
        parent = checked.get(p.PARENT_TAG)
        state = self.experiments.get(experiment_id)
        if state is None:
            raise p.DoesNotExist(f"No Experiment with id={experiment_id} exists")
        if state.deleted:
            raise p.MlflowError(f"The experiment {experiment_id} must be in the 'active' state. "
                                "Current state is deleted.")
        # The Default experiment exists before anything is logged; its first run announces it to the log
        # (with a fixed event id, so two servers announcing it are counted once).
        events = [] if state.announced else [self._event("", DEFAULT_EXPERIMENT_ID, 1, ExperimentCreated(
            DEFAULT_EXPERIMENT), event_id=str(uuid.uuid5(_CONTENT_IDS, "default-experiment")))]
        events += [
            self._event(run_id, experiment_id, 1, RunStarted(name, user, parent if parent and len(parent) == 32
                                                             else None, checked.get(p.SOURCE_TAG),
                                                             checked.get("mlflow.note.content"), started_at),
                        user=user),
            self._event(run_id, experiment_id, 2, TagsSet(checked), user=user),
        ]
        self.publisher.publish(events)
        state.announced = True
        if start_ms is None:
            start_ms = int(events[-2].event_time.timestamp() * 1000)
        run = RunState(run_id, experiment_id, name, False, {}, dict(checked), 2, status="RUNNING", user=user,
                       start_ms=start_ms, end_ms=None)
        self.runs.put(run_id, run)
        return p.run_shape(self._state_as_run(run), {}, [], self.artifact_uri(experiment_id, run_id))

    def artifact_uri(self, experiment_id: str, run_id: str) -> str:
        return f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"

    def _state_as_run(self, s: RunState) -> dict[str, Any]:
        return {"run_id": s.run_id, "experiment_id": s.experiment_id, "name": s.name, "status": s.status,
                "user": s.user, "start_ms": s.start_ms, "end_ms": s.end_ms, "deleted": s.deleted,
                "params": s.params, "tags": s.tags}

    def _publish_run(self, state: RunState, payloads: Sequence[Payload], *, metric_ids: dict[int, str] | None = None
                     ) -> None:
        """Publish payloads for a run (caller holds state.lock), each with the run's next seq."""
        events = [self._event(state.run_id, state.experiment_id, state.next_seq(), payload, user=state.user,
                              event_id=(metric_ids or {}).get(i)) for i, payload in enumerate(payloads)]
        self.publisher.publish(events)

    def update_run(self, run_id: str, status: Any, end_time: Any, run_name: Any) -> dict[str, Any]:
        state = self._active_run(run_id)
        if status is not None and status not in p.STATUSES:
            raise p.MlflowError(p.invalid_value("status", status, f"must be one of {', '.join(p.STATUSES)}"))
        end_ms = None if end_time is None else p.check_int64(end_time, "end_time", minimum=0)
        with state.lock:
            payloads: list[Payload] = []
            if status is not None or end_ms is not None:
                new_status = RunStatus(status or state.status)
                ended = datetime.fromtimestamp(end_ms / 1000, UTC) if end_ms is not None else None
                payloads.append(RunStatusChanged(new_status, ended))
            if run_name:
                payloads += [RunRenamed(str(run_name)), TagsSet({p.RUN_NAME_TAG: str(run_name)})]
            self._publish_run(state, payloads)
            state.status = str(status or state.status)
            state.end_ms = end_ms if end_ms is not None else state.end_ms
            if run_name:
                state.name = str(run_name)
                state.tags[p.RUN_NAME_TAG] = state.name
            shape = p.run_shape(self._state_as_run(state), {}, [], self.artifact_uri(state.experiment_id, run_id))
            return dict(shape["info"])

    def set_run_deleted(self, run_id: str, deleted: bool) -> None:
        state = self.runs.get(p.check_run_id(run_id))
        if state is None:
            raise p.DoesNotExist(f"Run with id={run_id} not found")
        with state.lock:
            self._publish_run(state, [RunDeleted() if deleted else RunRestored()])
            state.deleted = deleted

    def log_batch(self, run_id: str, metrics: list[dict[str, Any]], params: list[tuple[Any, Any]],
                  tags: list[tuple[Any, Any]]) -> None:
        """Metrics, params and tags in one request: all checked before anything is published."""
        p.check_batch_limits(len(metrics), len(params), len(tags))
        known: set[str] = set()  # each distinct key is checked once (a batch repeats a few keys many times)
        points = [self._point(m, i, known) for i, m in enumerate(metrics)]
        new_params: dict[str, str] = {}
        for i, (key, value) in enumerate(params):
            key = p.check_key("Param", key, f"params[{i}].key")
            value = p.check_value("Param", value, p.MAX_PARAM_VAL_LENGTH, f"params[{i}].value", truncate=True)
            if key in new_params and new_params[key] != value:
                raise p.MlflowError(f"Duplicate parameter keys have been submitted: {[key]}. Please ensure the "
                                    "request contains only one param value per param key.")
            new_params[key] = value
        checked_tags = p.check_tags(tags, truncate=True)  # MLflow's server cuts long run tags, with a warning
        state = self._active_run(run_id)
        with state.lock:
            changed = [(k, state.params[k], v) for k, v in new_params.items() if k in state.params
                       and state.params[k] != v]
            if changed:
                raise p.MlflowError(p.param_change_message(run_id, changed))
            payloads: list[Payload] = []
            metric_ids: dict[int, str] = {}
            fresh = {k: v for k, v in new_params.items() if k not in state.params}
            if fresh:
                payloads.append(ParamsLogged(fresh))
            if checked_tags:
                if p.RUN_NAME_TAG in checked_tags and checked_tags[p.RUN_NAME_TAG] != state.name:
                    payloads.append(RunRenamed(checked_tags[p.RUN_NAME_TAG]))
                payloads.append(TagsSet(checked_tags))
            linked = linked_metrics(run_id, metrics, points)  # MLflow 3: points linked to a logged model
            if linked:
                points = split_points(metrics, points, lambda keys: self._existing_points(state, keys))
            if points:
                metric_ids[len(payloads)] = content_event_id(run_id, points)
                payloads.append(metrics_payload(points))
            for event_id, payload in linked:
                metric_ids[len(payloads)] = event_id
                payloads.append(payload)
            self._publish_run(state, payloads, metric_ids=metric_ids)
            state.params.update(fresh)
            state.tags.update(checked_tags)
            if p.RUN_NAME_TAG in checked_tags:
                state.name = checked_tags[p.RUN_NAME_TAG]

    def _existing_points(self, state: RunState, keys: list[str]) -> set[tuple[str, int, int, float]]:
        self.barrier.wait()
        return model_queries.existing_points(self.clickhouse, state.experiment_id, state.run_id, keys)

    def _point(self, metric: Any, index: int | None, known: set[str] | None = None) -> Point:
        """(key, value, timestamp, step) of metrics[index] (of the request itself when index is None)."""
        if isinstance(metric, dict) and known is not None:  # the common case, without building messages
            key, value, ts = metric.get("key"), metric.get("value"), metric.get("timestamp")
            step = metric.get("step", 0)
            if (key in known and isinstance(value, float | int) and type(value) is not bool
                    and type(ts) is int and 0 <= ts <= p.INT64_MAX
                    and type(step) is int and p.INT64_MIN <= step <= p.INT64_MAX):
                return key, float(value), ts, step
        path = "" if index is None else f"metrics[{index}]"
        if not isinstance(metric, dict):
            raise p.MlflowError(p.invalid_value(path, metric, "expected a metric object"))
        key = p.check_key("Metric", metric.get("key"), f"{path}.key" if path else "key")
        if known is not None:
            known.add(key)
        value = p.check_metric_value(metric.get("value"), key, f"{path}.value" if path else "value")
        timestamp = p.check_int64(metric.get("timestamp"), f"{path}.timestamp" if path else "timestamp", minimum=0)
        step = p.check_int64(metric.get("step"), f"{path}.step" if path else "step", default=0)
        return key, value, timestamp, step

    def log_metric(self, run_id: str, body: dict[str, Any]) -> None:
        self._point(body, None)  # errors name the request's own fields
        self.log_batch(run_id, [body], [], [])

    def delete_tag(self, run_id: str, key: Any) -> None:
        key = p.check_key("Tag", key, "key")
        state = self._active_run(run_id)
        with state.lock:
            if key not in state.tags:
                raise p.DoesNotExist(f"No tag with name: {key} in run with id {run_id}")
            self._publish_run(state, [TagDeleted(key)])
            del state.tags[key]

    def log_inputs(self, run_id: str, datasets: Any) -> None:
        if datasets is None:
            datasets = []
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
            context = next((t.get("value") for t in item.get("tags") or []
                            if isinstance(t, dict) and t.get("key") == p.CONTEXT_TAG), None)
            checked.append(DatasetInput(
                dataset["name"], dataset["digest"], source_type=_text(dataset.get("source_type")),
                source=_text(dataset.get("source")), context=_text(context), schema=_text(dataset.get("schema")),
                profile=_text(dataset.get("profile"))))
        state = self._active_run(run_id)
        if not checked:
            return
        with state.lock:
            self._publish_run(state, [InputsLogged(checked)])

    def check_can_log(self, run_id: str, experiment_id: str) -> None:
        """Raise unless the run exists, is active and belongs to the experiment (before storing a file)."""
        state = self._active_run(run_id)
        if state.experiment_id != experiment_id:
            raise p.MlflowError(f"Run {run_id} belongs to experiment {state.experiment_id}, not {experiment_id}")

    def log_artifact(self, run_id: str, experiment_id: str, stored: StoredFile, relative: str,
                     media_type: str | None) -> None:
        """Record a stored artifact as an ArtifactLogged event (path relative to the run's artifact root)."""
        self.check_can_log(run_id, experiment_id)
        state = self._active_run(run_id)
        with state.lock:
            self._publish_run(state, [ArtifactLogged(relative, f"mlflow-artifacts:/{stored.path}", stored.size,
                                                     stored.digest, media_type)])

    # -- runs: reads -----------------------------------------------------------------------------------------
    def deleted_experiments(self) -> set[str]:
        return {e["experiment_id"] for e in q.experiments(self.clickhouse) if e["deleted"]}

    def get_runs(self, run_ids: list[str], experiment_ids: list[str] | None = None,
                 deleted_experiments: set[str] | None = None) -> list[dict[str, Any]]:
        """MLflow Run shapes, in run_ids order (runs that do not exist are left out); a search that already
        waited and knows the deleted experiments passes them."""
        if deleted_experiments is None:
            self.barrier.wait()
            deleted_experiments = self.deleted_experiments()
        found = run_queries.fetch_runs(self.clickhouse, run_ids, experiment_ids=experiment_ids)
        if not found:
            return []
        ids = [r["run_id"] for r in found]
        exps = sorted({r["experiment_id"] for r in found})
        latest = q.latest_metrics(self.clickhouse, exps, ids)
        inputs = q.inputs(self.clickhouse, exps, ids)
        outputs = model_queries.outputs(self.clickhouse, ids)  # MLflow 3: logged models the runs produced
        shaped = []
        for run in found:
            run = {**run, "start_ms": _iso_ms(run["start_time"]), "end_ms": _iso_ms(run["end_time"])}
            shaped.append(p.run_shape(run, latest[run["run_id"]], inputs[run["run_id"]],
                                      self.artifact_uri(run["experiment_id"], run["run_id"]),
                                      run["experiment_id"] in deleted_experiments))
            if produced := outputs[run["run_id"]]:
                shaped[-1]["outputs"] = {"model_outputs": [{"model_id": m, "step": s} for m, s in produced]}
        return shaped

    def get_run(self, run_id: str) -> dict[str, Any]:
        found = self.get_runs([p.check_run_id(run_id)])
        if not found:
            raise p.DoesNotExist(f"Run with id={run_id} not found")
        return found[0]

    def run_experiment(self, run_id: str) -> str:
        self.barrier.wait()
        experiment_id = run_queries.run_experiment(self.clickhouse, p.check_run_id(run_id))
        if experiment_id is None:
            raise p.DoesNotExist(f"Run with id={run_id} not found")
        return experiment_id


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)
