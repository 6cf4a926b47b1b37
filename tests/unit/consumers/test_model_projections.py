"""Projections of logged-model, run-output and registry events into their tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from consumers.projections import models, registry
from consumers.projections.base import LoggedEvent
from schemas import Producer, RunEvent
from schemas.model_events import (
    LoggedModelCreated,
    LoggedModelMetricsLogged,
    LoggedModelStatusChanged,
    LoggedModelTagDeleted,
    ModelAliasSet,
    ModelVersionCreated,
    RunOutputsLogged,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)
MID = "m-" + "1" * 32


def logged(payload: Any, run_id: str = "", experiment_id: str = "7", offset: int = 5) -> LoggedEvent:
    event = RunEvent(str(uuid.uuid4()), run_id, experiment_id, 1, AT, Producer("h", 1, "ana", "t"), payload)
    return LoggedEvent(event, 0, offset, "fp")


def rows(block: Any) -> list[dict[str, Any]]:
    return [dict(zip(block.columns, values, strict=True)) for values in zip(*block.data, strict=True)]


def test_a_logged_model_becomes_rows_of_its_tables() -> None:
    created = logged(LoggedModelCreated(MID, "model", "r" * 32, "sklearn", "loc", {"p": "1"}, {"t": "2"}))
    (row,) = rows(models.MODELS.block([created, logged(LoggedModelTagDeleted(MID, "t"))]))
    assert (row["model_id"], row["status"], row["deleted"], row["user"]) == (MID, "LOGGED_MODEL_PENDING", 0, "ana")
    kv = rows(models.KV.block([created, logged(LoggedModelTagDeleted(MID, "t"))]))
    assert [(r["kind"], r["key"], r["value"], r["deleted"]) for r in kv] == [
        ("param", "p", "1", 0), ("tag", "t", "2", 0), ("tag", "t", "", 1)]
    (ready,) = rows(models.MODELS.block([logged(LoggedModelStatusChanged(MID, "LOGGED_MODEL_READY"))]))
    assert ready["status"] == "LOGGED_MODEL_READY" and ready["name"] is None


def test_linked_metrics_and_outputs_are_run_rows() -> None:
    points = logged(LoggedModelMetricsLogged(MID, "val", None, ["a", "b"], [1.0, 2.0], [10, 11], [0, 1]), "r" * 32)
    found = rows(models.METRICS.block([points]))
    assert [(r["key"], r["value"], r["dataset_name"], r["dataset_digest"], r["point_index"]) for r in found] == [
        ("a", 1.0, "val", "", 0), ("b", 2.0, "val", "", 1)]
    (output,) = rows(models.OUTPUTS.block([logged(RunOutputsLogged([MID], [3]), "r" * 32)]))
    assert (output["run_id"], output["model_id"], output["step"]) == ("r" * 32, MID, 3)


def test_registry_events_become_change_rows() -> None:
    created = logged(ModelVersionCreated("a" * 32, "clf", 2, f"models:/{MID}", None, MID, tags={"x": "y"},
                                         storage_location="loc"), experiment_id="")
    alias = logged(ModelAliasSet("a" * 32, "clf", "champion", 2), experiment_id="")
    version_row, alias_row = rows(registry.PROJECTION.block([created, alias, logged(RunOutputsLogged([], []),
                                                                                     "r" * 32)]))
    assert (version_row["version"], version_row["stage"], version_row["tags"], version_row["storage_location"]) == (
        2, "None", {"x": "y"}, "loc")
    assert (alias_row["alias"], alias_row["version"], alias_row["tags"]) == ("champion", 2, {})
