"""The MLflow front door's writes: every change becomes runstream events, made by the shared event factory
and published through Kafka (never a ClickHouse insert), after the request was checked against the state
of its run or experiment."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from query_api.artifacts import StoredFile
from query_api.mlflow import protocol as p
from query_api.mlflow import validation as v
from query_api.mlflow.model_metrics import linked_metrics, split_points
from query_api.mlflow.reader import MlflowReader
from query_api.mlflow.state import ExperimentState, RunState, StateCache
from query_api.publisher import ApiPublisher
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
    RunDeleted,
    RunEvent,
    RunRenamed,
    RunRestored,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    TagDeleted,
    TagsSet,
    metric_columns,
)
from schemas.factory import EventFactory
from schemas.ids import DEFAULT_EXPERIMENT, DEFAULT_EXPERIMENT_ID, experiment_id_for, new_run_id

_CONTENT_IDS = uuid.UUID("0b7c4d0e-3a52-4d7e-9d1f-6c2f1e9a5b33")
CLIENT_USER = "mlflow-client"


def content_event_id(run_id: str, points: Sequence[tuple[str, float, int, int]]) -> str:
    """The event id of a metric batch, derived from its content: a retried request (MLflow's client retries)
    publishes the same id, which the projector counts once. MLflow's own stores keep one row per identical
    (key, value, timestamp, step) too, so this drops nothing MLflow would keep."""
    canonical = json.dumps([[k, repr(x), ts, step] for k, x, ts, step in points], separators=(",", ":"))
    return str(uuid.uuid5(_CONTENT_IDS, f"{run_id}\x00{hashlib.sha256(canonical.encode()).hexdigest()}"))


def metrics_payload(points: Sequence[tuple[str, float, int, int]]) -> MetricsLogged:
    return metric_columns.from_points((key, step, ts, value) for key, value, ts, step in points)


class MlflowWriter:
    """MLflow's tracking writes as events; the run and experiment states cached here see this instance's
    writes at once, so a stream of writes to one run costs no query."""

    def __init__(self, reader: MlflowReader, publisher: ApiPublisher, events: EventFactory) -> None:
        self.reader = reader
        self.publisher = publisher
        self.events = events
        self.runs: StateCache[RunState] = StateCache(reader.run_state)
        self.experiments: StateCache[ExperimentState] = StateCache(reader.experiment_state)
        self._experiment_lock = threading.Lock()

    def event(self, run_id: str, experiment_id: str, seq: int, payload: Payload, *, user: str | None = None,
              event_id: str | None = None) -> RunEvent:
        """An event of this front door (its user: the client's, else mlflow-client)."""
        return self.events.event(run_id, experiment_id, seq, payload, user=user or CLIENT_USER, event_id=event_id)

    # -- experiments -------------------------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None, tags: dict[str, str]) -> str:
        with self._experiment_lock:
            self.reader.barrier.wait()
            if self.reader.name_taken(name):
                raise p.AlreadyExists(f"Experiment(name={name}) already exists.")
            taken = self.reader.experiment_ids()
            attempt = 0
            while (experiment_id := experiment_id_for(name, attempt)) in taken:
                attempt += 1
            location = artifact_location or self.reader.new_experiment_location(experiment_id)
            self.publisher.publish([self.events.event("", experiment_id, 1, ExperimentCreated(
                name, artifact_location=location, tags=tags), user=CLIENT_USER)])
            self.reader.remember_location(experiment_id, location)
            self.experiments.put(experiment_id, ExperimentState(experiment_id, name, False, dict(tags)))
        return experiment_id

    def _experiment_state(self, experiment_id: str, *, active: bool | None) -> ExperimentState:
        state = self.experiments.get(experiment_id)
        if state is None or (active is True and state.deleted) or (active is False and not state.deleted):
            raise p.DoesNotExist(f"No Experiment with id={experiment_id} exists")
        return state

    def _publish_experiment(self, state: ExperimentState, payload: Payload) -> None:
        self.publisher.publish([self.events.event("", state.experiment_id, 1, payload, user=CLIENT_USER)])

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        with self._experiment_lock:
            state = self._experiment_state(experiment_id, active=None)
            if state.deleted:
                raise p.InvalidState("Cannot rename a non-active experiment.")
            self.reader.barrier.wait()
            if self.reader.name_taken(new_name, other_than=state.experiment_id):
                raise p.AlreadyExists(f"Experiment(name={new_name}) already exists.")
            self._publish_experiment(state, ExperimentRenamed(new_name))
            state.name = new_name

    def delete_experiment(self, experiment_id: str) -> None:
        with self._experiment_lock:
            state = self._experiment_state(experiment_id, active=True)
            self._publish_experiment(state, ExperimentDeleted())
            state.deleted = True

    def restore_experiment(self, experiment_id: str) -> None:
        with self._experiment_lock:
            state = self._experiment_state(experiment_id, active=False)
            self._publish_experiment(state, ExperimentRestored())
            state.deleted = False

    def set_experiment_tags(self, experiment_id: str, tags: dict[str, str]) -> None:
        with self._experiment_lock:
            state = self._experiment_state(experiment_id, active=None)
            if state.deleted:
                raise p.MlflowError(f"The experiment {state.experiment_id} must be in the 'active' state. "
                                    "Current state is deleted.")
            self._publish_experiment(state, ExperimentTagsSet(tags))
            state.tags.update(tags)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        with self._experiment_lock:
            state = self._experiment_state(experiment_id, active=True)
            if key not in state.tags:
                raise p.DoesNotExist(f"No tag with name: {key} in experiment with id {state.experiment_id}")
            self._publish_experiment(state, ExperimentTagDeleted(key))
            del state.tags[key]

    # -- runs --------------------------------------------------------------------------------------------
    def active_run(self, run_id: str) -> RunState:
        state = self.runs.get(p.check_run_id(run_id))
        if state is None:
            raise p.DoesNotExist(f"Run with id={run_id} not found")
        experiment = self.experiments.get(state.experiment_id)
        if state.deleted or (experiment is not None and experiment.deleted):
            raise p.MlflowError(f"The run {run_id} must be in the 'active' state. Current state is deleted.")
        return state

    def publish_run(self, state: RunState, payloads: Sequence[Payload], *,
                     metric_ids: dict[int, str] | None = None) -> None:
        """Publish payloads for a run (caller holds state.lock), each with the run's next seq."""
        user = state.user or CLIENT_USER
        events = [self.events.event(state.run_id, state.experiment_id, state.next_seq(), payload, user=user,
                                    event_id=(metric_ids or {}).get(i)) for i, payload in enumerate(payloads)]
        self.publisher.publish(events)

    def create_run(self, request: v.NewRun) -> dict[str, Any]:
        state = self.experiments.get(request.experiment_id)
        if state is None:
            raise p.DoesNotExist(f"No Experiment with id={request.experiment_id} exists")
        if state.deleted:
            raise p.MlflowError(f"The experiment {request.experiment_id} must be in the 'active' state. "
                                "Current state is deleted.")
        run_id = new_run_id()
        name = request.name or f"run-{run_id[:8]}"
        tags = {**request.tags, p.RUN_NAME_TAG: name}
        user = request.user or CLIENT_USER
        # The Default experiment exists before anything is logged; its first run announces it to the log
        # (with a fixed event id, so two servers announcing it are counted once).
        events = [] if state.announced else [self.events.event(
            "", DEFAULT_EXPERIMENT_ID, 1, ExperimentCreated(
                DEFAULT_EXPERIMENT, artifact_location=self.reader.new_experiment_location(DEFAULT_EXPERIMENT_ID)),
            user=CLIENT_USER,
            event_id=str(uuid.uuid5(_CONTENT_IDS, "default-experiment")))]
        started_at = None if request.start_ms is None else datetime.fromtimestamp(request.start_ms / 1000, UTC)
        started = RunStarted(name, request.user, request.parent_run_id, request.source, request.description,
                             started_at)
        events += [self.events.event(run_id, request.experiment_id, 1, started, user=user),
                   self.events.event(run_id, request.experiment_id, 2, TagsSet(tags), user=user)]
        self.publisher.publish(events)
        state.announced = True
        start_ms = request.start_ms if request.start_ms is not None else int(events[-2].event_time.timestamp() * 1000)
        run = RunState(run_id, request.experiment_id, name, False, {}, tags, 2, status="RUNNING",
                       user=request.user, start_ms=start_ms, end_ms=None)
        self.runs.put(run_id, run)
        uri = self.reader.run_artifact_uri(request.experiment_id, run_id)
        return p.run_shape(_state_as_run(run), {}, [], uri)

    def update_run(self, run_id: str, status: Any, end_time: Any, run_name: Any) -> dict[str, Any]:
        status, end_ms = v.check_status_update(status, end_time)
        run_name = v.check_run_name(run_name)
        state = self.active_run(run_id)
        with state.lock:
            payloads: list[Payload] = []
            if status is not None or end_ms is not None:
                ended = datetime.fromtimestamp(end_ms / 1000, UTC) if end_ms is not None else None
                payloads.append(RunStatusChanged(RunStatus(status or state.status), ended))
            if run_name:
                payloads += [RunRenamed(str(run_name)), TagsSet({p.RUN_NAME_TAG: str(run_name)})]
            self.publish_run(state, payloads)
            state.status = str(status or state.status)
            state.end_ms = end_ms if end_ms is not None else state.end_ms
            if run_name:
                state.name = str(run_name)
                state.tags[p.RUN_NAME_TAG] = state.name
            uri = self.reader.run_artifact_uri(state.experiment_id, run_id)
            shape = p.run_shape(_state_as_run(state), {}, [], uri)
            return dict(shape["info"])

    def set_run_deleted(self, run_id: str, deleted: bool) -> None:
        state = self.runs.get(p.check_run_id(run_id))
        if state is None:
            raise p.DoesNotExist(f"Run with id={run_id} not found")
        with state.lock:
            self.publish_run(state, [RunDeleted() if deleted else RunRestored()])
            state.deleted = deleted

    def log_batch(self, run_id: str, batch: v.CheckedBatch) -> None:
        """Metrics, params and tags of one request, published together once checked against the run."""
        state = self.active_run(run_id)
        with state.lock:
            changed = [(k, state.params[k], x) for k, x in batch.params.items()
                       if k in state.params and state.params[k] != x]
            if changed:
                raise p.MlflowError(p.param_change_message(run_id, changed))
            payloads: list[Payload] = []
            metric_ids: dict[int, str] = {}
            fresh = {k: x for k, x in batch.params.items() if k not in state.params}
            if fresh:
                payloads.append(ParamsLogged(fresh))
            if batch.tags:
                if p.RUN_NAME_TAG in batch.tags and batch.tags[p.RUN_NAME_TAG] != state.name:
                    payloads.append(RunRenamed(batch.tags[p.RUN_NAME_TAG]))
                payloads.append(TagsSet(batch.tags))
            points: Sequence[v.Point] = batch.points
            linked = linked_metrics(run_id, batch.metrics, points) if batch.metrics else []
            if linked:  # MLflow 3: points linked to a logged model; a re-logged point is not added twice
                points = split_points(batch.metrics, points, lambda keys: self.reader.existing_points(state, keys))
            if points:
                metric_ids[len(payloads)] = content_event_id(run_id, points)
                payloads.append(metrics_payload(points))
            for event_id, payload in linked:
                metric_ids[len(payloads)] = event_id
                payloads.append(payload)
            self.publish_run(state, payloads, metric_ids=metric_ids)
            state.params.update(fresh)
            state.tags.update(batch.tags)
            if p.RUN_NAME_TAG in batch.tags:
                state.name = batch.tags[p.RUN_NAME_TAG]

    def delete_tag(self, run_id: str, key: str) -> None:
        state = self.active_run(run_id)
        with state.lock:
            if key not in state.tags:
                raise p.DoesNotExist(f"No tag with name: {key} in run with id {run_id}")
            self.publish_run(state, [TagDeleted(key)])
            del state.tags[key]

    def log_inputs(self, run_id: str, datasets: list[DatasetInput], model_ids: list[str] | None = None) -> None:
        state = self.active_run(run_id)
        if not datasets and not model_ids:
            return
        with state.lock:
            self.publish_run(state, [InputsLogged(datasets, list(model_ids or []))])

    def check_can_log(self, run_id: str, experiment_id: str) -> None:
        """Raise unless the run exists, is active and belongs to the experiment (before storing a file)."""
        state = self.active_run(run_id)
        if state.experiment_id != experiment_id:
            raise p.MlflowError(f"Run {run_id} belongs to experiment {state.experiment_id}, not {experiment_id}")

    def log_artifact(self, run_id: str, experiment_id: str, stored: StoredFile, relative: str,
                     media_type: str | None) -> None:
        """Record a stored artifact as an ArtifactLogged event (path relative to the run's artifact root)."""
        self.check_can_log(run_id, experiment_id)
        state = self.active_run(run_id)
        with state.lock:
            self.publish_run(state, [ArtifactLogged(relative, f"mlflow-artifacts:/{stored.path}", stored.size,
                                                     stored.digest, media_type)])


def _state_as_run(s: RunState) -> dict[str, Any]:
    return {"run_id": s.run_id, "experiment_id": s.experiment_id, "name": s.name, "status": s.status,
            "user": s.user, "start_ms": s.start_ms, "end_ms": s.end_ms, "deleted": s.deleted,
            "params": s.params, "tags": s.tags}
