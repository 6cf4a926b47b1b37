"""The MLflow front door's reads: experiments, runs in MLflow's shapes, and the write state its checks need.
Every read first waits (bounded) until the projector has passed this instance's own writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.client import Client

from query_api.consistency import ReadBarrier
from query_api.facts import Facts
from query_api.mlflow import protocol as p
from query_api.mlflow.state import ExperimentState, RunState
from query_api.queries import mlflow as q
from query_api.queries import models as model_queries
from query_api.queries import runs as run_queries
from query_api.queries.mlflow import ExperimentRow
from schemas.ids import DEFAULT_EXPERIMENT, DEFAULT_EXPERIMENT_ID

if TYPE_CHECKING:
    from query_api.clientpool import Readers


def _iso_ms(value: str | None) -> int | None:
    return None if value is None else int(datetime.fromisoformat(value).timestamp() * 1000)


_DEFAULT = ExperimentRow(experiment_id=DEFAULT_EXPERIMENT_ID, name=DEFAULT_EXPERIMENT, artifact_location=None,
                         creation_time=None, last_update_time=None, deleted=False)


class MlflowReader:
    """Reads over runstream's tables, in MLflow's shapes."""

    def __init__(self, clickhouse: Client, barrier: ReadBarrier, default_artifact_root: str | None = None, *,
                 facts: Facts | None = None) -> None:
        self.clickhouse = clickhouse
        self.barrier = barrier
        self.facts = facts or Facts()  # runs' experiments (a run never changes experiment), remembered once read
        # None: runs' files pass through this server (mlflow-artifacts:); else the root new experiments get
        self.default_artifact_root = default_artifact_root.rstrip("/") if default_artifact_root else None
        self._locations: dict[str, str] = {}  # an experiment's artifact location never changes once created

    def new_experiment_location(self, experiment_id: str) -> str | None:
        """The location recorded for an experiment created without one (None: served by this server)."""
        return f"{self.default_artifact_root}/{experiment_id}" if self.default_artifact_root else None

    def experiment_location(self, experiment_id: str) -> str | None:
        if experiment_id not in self._locations:
            found = self.experiment(experiment_id, missing_ok=True)
            if found is None:
                return None
            self._locations[experiment_id] = found["artifact_location"]
        return self._locations[experiment_id]

    def remember_location(self, experiment_id: str, location: str | None) -> None:
        if location:
            self._locations[experiment_id] = location

    def run_artifact_uri(self, experiment_id: str, run_id: str) -> str:
        return p.run_artifact_uri(self.experiment_location(experiment_id), experiment_id, run_id)

    # -- experiments -------------------------------------------------------------------------------------
    def _shaped(self, rows: list[ExperimentRow]) -> list[dict[str, Any]]:
        tags = q.experiment_tags(self.clickhouse, [r["experiment_id"] for r in rows])
        # the Default experiment is never created by a client: without a recorded location it has the server's
        return [p.experiment_shape({**r, "artifact_location": r["artifact_location"] or (
            self.new_experiment_location(r["experiment_id"]) if r["experiment_id"] == DEFAULT_EXPERIMENT_ID
            else None)}, tags[r["experiment_id"]]) for r in rows]

    def all_experiments(self) -> list[dict[str, Any]]:
        """Every experiment with its tags, the Default one ("0") included even before anything was logged."""
        self.barrier.wait()
        rows = q.experiments(self.clickhouse)
        if not any(r["experiment_id"] == DEFAULT_EXPERIMENT_ID for r in rows):
            rows.append(_DEFAULT)
        return self._shaped(rows)

    def experiment(self, experiment_id: Any, *, missing_ok: bool = False) -> dict[str, Any] | None:
        experiment_id = p.check_experiment_id(experiment_id)
        self.barrier.wait()
        rows = q.experiments(self.clickhouse, experiment_id=experiment_id)
        if not rows and experiment_id == DEFAULT_EXPERIMENT_ID:
            rows = [_DEFAULT]
        if rows:
            return self._shaped(rows)[0]
        if missing_ok:
            return None
        raise p.DoesNotExist(f"No Experiment with id={experiment_id} exists")

    def experiment_by_name(self, name: Any) -> dict[str, Any]:
        name = p.check_experiment_name(name)
        self.barrier.wait()
        rows = q.experiments(self.clickhouse, name=name)
        if not rows and name == DEFAULT_EXPERIMENT:
            rows = [r for r in [_DEFAULT] if not q.experiments(self.clickhouse, experiment_id=DEFAULT_EXPERIMENT_ID)]
        if not rows:
            raise p.DoesNotExist(f"Could not find experiment with name '{name}'")
        return self._shaped(rows)[0]

    def name_taken(self, name: str, *, other_than: str | None = None) -> bool:
        """True when an experiment other than `other_than` holds this name."""
        found = {r["experiment_id"] for r in q.experiments(self.clickhouse, name=name)}
        if name == DEFAULT_EXPERIMENT and not q.experiments(self.clickhouse, experiment_id=DEFAULT_EXPERIMENT_ID):
            found.add(DEFAULT_EXPERIMENT_ID)
        return bool(found - {other_than})

    def experiment_ids(self) -> set[str]:
        return {r["experiment_id"] for r in q.experiments(self.clickhouse)} | {DEFAULT_EXPERIMENT_ID}

    def deleted_experiments(self) -> set[str]:
        return q.deleted_experiments(self.clickhouse)

    # -- runs --------------------------------------------------------------------------------------------
    def get_runs(self, run_ids: list[str], experiment_ids: list[str] | None = None,
                 deleted_experiments: set[str] | None = None, *, state: Sequence[Sequence[Any]] | None = None,
                 readers: Readers | None = None) -> list[dict[str, Any]]:
        """MLflow Run shapes, in run_ids order (runs that do not exist are left out); a search that already
        waited and knows the deleted experiments passes them, and with `readers` the page's `state` rows it
        read with its ids: then every other read of the page runs side by side."""
        if deleted_experiments is None:
            self.barrier.wait()
            deleted_experiments = self.deleted_experiments()
        if state is not None and readers is not None:
            if not state:
                return []
            found, (latest, inputs, outputs, model_inputs) = self._shaped_beside(run_ids, state, readers)
        else:
            found = run_queries.fetch_runs(self.clickhouse, run_ids, experiment_ids=experiment_ids)
            if not found:
                return []
            ids = [r["run_id"] for r in found]
            exps = sorted({r["experiment_id"] for r in found})
            latest = q.latest_metrics(self.clickhouse, exps, ids)
            inputs = q.inputs(self.clickhouse, exps, ids)
            outputs = model_queries.outputs(self.clickhouse, ids)  # MLflow 3: logged models the runs produced
            model_inputs = model_queries.model_inputs(self.clickhouse, ids)  # ... and the ones they took as inputs
        shaped = []
        for run in found:
            times = {"start_ms": _iso_ms(run["start_time"]), "end_ms": _iso_ms(run["end_time"])}
            shaped.append(p.run_shape({**run, **times}, latest[run["run_id"]], inputs[run["run_id"]],
                                      self.run_artifact_uri(run["experiment_id"], run["run_id"]),
                                      run["experiment_id"] in deleted_experiments))
            if taken := model_inputs[run["run_id"]]:
                models_taken = [{"model_id": m} for m in taken]
                shaped[-1]["inputs"] = {**shaped[-1].get("inputs", {}), "model_inputs": models_taken}
            if produced := outputs[run["run_id"]]:
                shaped[-1]["outputs"] = {"model_outputs": [{"model_id": m, "step": s} for m, s in produced]}
        return shaped

    def _shaped_beside(self, run_ids: list[str], state: Sequence[Sequence[Any]], readers: Readers
                       ) -> tuple[list[run_queries.RunRecord], tuple[Any, Any, Any, Any]]:
        """The runs of a search page from their state rows, their latest metrics, inputs and models read side by
        side (MLflow's run shape has no experiment name and no metric summaries, so neither is read)."""
        ids, exps = [row[0] for row in state], sorted({row[1] for row in state})
        results: list[Any] = readers.run(
            lambda c: q.latest_metrics(c, exps, ids), lambda c: q.inputs(c, exps, ids),
            lambda c: model_queries.outputs(c, ids), lambda c: model_queries.model_inputs(c, ids))
        self.facts.remember_runs({row[0]: row[1] for row in state})
        found = run_queries.shape_results(run_ids, [state, [], []])
        return found, (results[0], results[1], results[2], results[3])

    def get_run(self, run_id: str) -> dict[str, Any]:
        found = self.get_runs([p.check_run_id(run_id)])
        if not found:
            raise p.DoesNotExist(f"Run with id={run_id} not found")
        return found[0]

    def run_experiment(self, run_id: str) -> str:
        self.barrier.wait()
        experiment_id = self.facts.run_experiment(self.clickhouse, p.check_run_id(run_id))
        if experiment_id is None:
            raise p.DoesNotExist(f"Run with id={run_id} not found")
        return experiment_id

    def run_experiments(self, run_ids: list[str]) -> set[str]:
        """The experiments of these (checked) runs, in one read for those not remembered; the first run that
        does not exist is named in the error, as asking them one by one would."""
        self.barrier.wait()
        found = self.facts.run_experiments(self.clickhouse, run_ids)
        if missing := [r for r in run_ids if r not in found]:
            raise p.DoesNotExist(f"Run with id={missing[0]} not found")
        return set(found.values())

    def existing_points(self, state: RunState, keys: list[str]) -> set[tuple[str, int, int, float]]:
        """The run's points of these keys (key, step, timestamp, value): a model-linked point re-logged by
        MLflow's client is not added to the run twice."""
        self.barrier.wait()
        return model_queries.existing_points(self.clickhouse, state.experiment_id, state.run_id, keys)

    # -- the state writes are checked against ------------------------------------------------------------
    def run_state(self, run_id: str) -> RunState | None:
        self.barrier.wait()
        found = run_queries.fetch_runs(self.clickhouse, [run_id])
        if not found:
            return None
        run = found[0]
        return RunState(run_id, run["experiment_id"], run["name"], run["deleted"], dict(run["params"]),
                        dict(run["tags"]), q.max_seq(self.clickhouse, run_id), status=run["status"],
                        user=run["user"] or "", start_ms=_iso_ms(run["start_time"]),
                        end_ms=_iso_ms(run["end_time"]))

    def experiment_state(self, experiment_id: str) -> ExperimentState | None:
        found = self.experiment(experiment_id, missing_ok=True)
        if found is None:
            return None
        tags = {t["key"]: t["value"] for t in found.get("tags", [])}
        return ExperimentState(experiment_id, found["name"], found["lifecycle_stage"] == "deleted", tags,
                               announced="creation_time" in found)
