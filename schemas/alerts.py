"""Alert events: rules (created, changed, deleted) and what the alert worker did (fired, delivered).

None of them is a run's event (a run's history and seq numbers stay its own): run_id is empty and experiment_id
is the rule's experiment, or GLOBAL for a rule over every experiment (the Kafka key then keeps one rule's changes
in order); a firing and its delivery name their run in the payload and carry its experiment.
"""

from __future__ import annotations

from dataclasses import dataclass

GLOBAL = "*"
CONDITIONS = ("threshold", "nan", "run_failed", "stalled", "new_best")


@dataclass(frozen=True, slots=True)
class AlertRuleCreated:
    """A rule: `condition` is one of CONDITIONS; the other fields are the ones that condition reads."""

    rule_id: str
    name: str
    condition: str
    webhook_url: str
    experiment_id: str | None = None  # None: every experiment
    metric_key: str | None = None  # threshold, nan (None: any key), new_best
    op: str | None = None  # threshold: > >= < <=; new_best: min or max
    threshold: float | None = None
    minutes: float | None = None  # stalled: a RUNNING run silent this long


@dataclass(frozen=True, slots=True)
class AlertRuleChanged:
    """The rule's whole new definition (same fields as AlertRuleCreated)."""

    rule_id: str
    name: str
    condition: str
    webhook_url: str
    experiment_id: str | None = None
    metric_key: str | None = None
    op: str | None = None
    threshold: float | None = None
    minutes: float | None = None


@dataclass(frozen=True, slots=True)
class AlertRuleDeleted:
    rule_id: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AlertFired:
    """A rule held for a run; firing_id is derived from (rule, run, condition), so a rule fires once per run."""

    firing_id: str
    rule_id: str
    run_id: str
    condition: str
    text: str
    source_partition: int
    source_offset: int
    value: float | None = None
    metric_key: str | None = None
    step: int | None = None


@dataclass(frozen=True, slots=True)
class AlertDelivered:
    """The webhook took the firing (a 2xx), after `attempts` tries."""

    firing_id: str
    rule_id: str
    run_id: str
    status: int
    attempts: int


ALERT_RULE_EVENTS: tuple[type, ...] = (AlertRuleCreated, AlertRuleChanged, AlertRuleDeleted)
ALERT_EVENTS: tuple[type, ...] = (*ALERT_RULE_EVENTS, AlertFired, AlertDelivered)
