"""Alert rules (created, changed, deleted: each an event through Kafka) and the firings the alert worker made."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Query

from query_api.alerts_models import AlertFiringList, AlertRule, AlertRuleList, AlertRuleSpec
from query_api.deps import ClickHouseDep, StateDep
from query_api.errors import NotFound, Unavailable
from query_api.jsonresponse import JSONResponse
from query_api.queries import alerts, experiments
from schemas import Producer, RunEvent
from schemas.alerts import GLOBAL, AlertRuleChanged, AlertRuleCreated, AlertRuleDeleted

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
RuleId = Query(pattern="^[0-9a-f]{32}$")


def _publish(state: StateDep, experiment_id: str | None, payload: object) -> None:
    if state.publisher is None:
        raise Unavailable("this server has no Kafka producer")
    producer = Producer(socket.gethostname(), os.getpid(), "api", "runstream-api (alerts)")
    event = RunEvent(uuid.uuid4().hex, "", experiment_id or GLOBAL, 1, datetime.now(UTC), producer, payload)  # type: ignore[arg-type]
    state.publisher.publish([event])


def _checked(clickhouse: ClickHouseDep, spec: AlertRuleSpec) -> AlertRuleSpec:
    if spec.experiment_id is not None and not experiments.known_ids(clickhouse, [spec.experiment_id]):
        raise NotFound(f"no experiment with id {spec.experiment_id}")
    return spec


def _current(clickhouse: ClickHouseDep, rule_id: str) -> dict[str, object]:
    found = alerts.rules(clickhouse, rule_id)
    if not found:
        raise NotFound(f"no alert rule with id {rule_id}")
    return found[0]


@router.post("/rules", response_model=AlertRule)
def create_rule(spec: AlertRuleSpec, state: StateDep, clickhouse: ClickHouseDep) -> JSONResponse:
    """Record an AlertRuleCreated event; the alert worker applies the rule to events logged from now on."""
    rule_id = uuid.uuid4().hex
    _publish(state, _checked(clickhouse, spec).experiment_id, AlertRuleCreated(rule_id=rule_id, **spec.model_dump()))
    return JSONResponse({"rule_id": rule_id, **spec.model_dump()})


@router.put("/rules/{rule_id}", response_model=AlertRule)
def change_rule(rule_id: str, spec: AlertRuleSpec, state: StateDep, clickhouse: ClickHouseDep) -> JSONResponse:
    """Replace a rule's definition (an AlertRuleChanged event); it keeps its id and what it already fired."""
    _current(clickhouse, rule_id)
    _publish(state, _checked(clickhouse, spec).experiment_id, AlertRuleChanged(rule_id=rule_id, **spec.model_dump()))
    return JSONResponse({"rule_id": rule_id, **spec.model_dump()})


@router.delete("/rules/{rule_id}")
def delete_rule(rule_id: str, state: StateDep, clickhouse: ClickHouseDep) -> JSONResponse:
    """Record an AlertRuleDeleted event; the rule fires no more."""
    current = _current(clickhouse, rule_id)
    experiment_id = current["experiment_id"]
    _publish(state, experiment_id if isinstance(experiment_id, str) else None, AlertRuleDeleted(rule_id))
    return JSONResponse({"rule_id": rule_id, "deleted": True})


@router.get("/rules", response_model=AlertRuleList)
def list_rules(clickhouse: ClickHouseDep) -> JSONResponse:
    """Every live rule, oldest first."""
    return JSONResponse({"rules": alerts.rules(clickhouse)})


@router.get("/rules/{rule_id}/history")
def rule_history(rule_id: str, clickhouse: ClickHouseDep) -> JSONResponse:
    """The rule's audit trail: created, changed, deleted; who, when, and where in the log."""
    events = alerts.history(clickhouse, rule_id)
    if not events:
        raise NotFound(f"no alert rule with id {rule_id}")
    return JSONResponse({"rule_id": rule_id, "events": events})


@router.get("/firings", response_model=AlertFiringList)
def list_firings(clickhouse: ClickHouseDep, rule_id: str = "", run_id: str = "",
                 limit: int = Query(1000, ge=1, le=10_000)) -> JSONResponse:
    """Firings, newest first, each once, with its delivery (null until a webhook took it)."""
    return JSONResponse({"firings": alerts.firings(clickhouse, rule_id=rule_id, run_id=run_id, limit=limit)})
