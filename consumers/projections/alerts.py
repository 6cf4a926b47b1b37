"""Alert rules, firings and deliveries: one row per event."""

from consumers.projections.base import COORDINATES, Block, LoggedEvent, Projection, coordinates
from schemas.alerts import AlertDelivered, AlertFired, AlertRuleChanged, AlertRuleCreated, AlertRuleDeleted

RULE_COLUMNS = ("rule_id", "event_type", "event_time", "name", "condition", "webhook_url", "experiment_id",
                "metric_key", "op", "threshold", "minutes", "deleted", "user", *COORDINATES)
FIRING_COLUMNS = ("firing_id", "rule_id", "run_id", "experiment_id", "condition", "text", "value", "metric_key",
                  "step", "source_partition", "source_offset", "event_time", *COORDINATES)
DELIVERY_COLUMNS = ("firing_id", "rule_id", "run_id", "status", "attempts", "event_time", *COORDINATES)


def project_rules(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, AlertRuleCreated | AlertRuleChanged):
        block.append(p.rule_id, e.type, e.event_time, p.name, p.condition, p.webhook_url, p.experiment_id,
                     p.metric_key, p.op, p.threshold, p.minutes, 0, e.producer.user, *coordinates(logged))
    elif isinstance(p, AlertRuleDeleted):
        block.append(p.rule_id, e.type, e.event_time, "", "", "", None, None, None, None, None, 1, e.producer.user,
                     *coordinates(logged))


def project_firings(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, AlertFired):
        block.append(p.firing_id, p.rule_id, p.run_id, e.experiment_id, p.condition, p.text, p.value, p.metric_key,
                     p.step, p.source_partition, p.source_offset, e.event_time, *coordinates(logged))


def project_deliveries(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, AlertDelivered):
        block.append(p.firing_id, p.rule_id, p.run_id, p.status, p.attempts, e.event_time, *coordinates(logged))


RULES = Projection("alert_rules", RULE_COLUMNS, project_rules,
                   payloads=(AlertRuleCreated, AlertRuleChanged, AlertRuleDeleted))
FIRINGS = Projection("alert_firings", FIRING_COLUMNS, project_firings, payloads=(AlertFired,))
DELIVERIES = Projection("alert_deliveries", DELIVERY_COLUMNS, project_deliveries, payloads=(AlertDelivered,))
