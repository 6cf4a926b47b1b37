"""Alert rules folded from their events, on a timeline: a rule applies to events logged while it stood."""

from __future__ import annotations

import bisect
import math
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from schemas.alerts import AlertRuleChanged, AlertRuleCreated, AlertRuleDeleted

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}


@dataclass(frozen=True)
class Rule:
    rule_id: str
    name: str
    condition: str
    webhook_url: str
    experiment_id: str | None
    metric_key: str | None
    op: str | None
    threshold: float | None
    minutes: float | None

    def covers(self, experiment_id: str) -> bool:
        return self.experiment_id is None or self.experiment_id == experiment_id

    def crossed(self, value: float) -> bool:
        """threshold: the value is on the rule's side of the threshold (NaN never is)."""
        compare = COMPARISONS.get(self.op or "")
        return compare is not None and self.threshold is not None and not math.isnan(value) and compare(
            value, self.threshold)


@dataclass
class _Timeline:
    times: list[datetime] = field(default_factory=list)
    versions: list[Rule | None] = field(default_factory=list)  # None: deleted from then on


class RuleBook:
    """Every rule's versions by event time; `at(t)` gives the rules that stood at t."""

    def __init__(self) -> None:
        self._rules: dict[str, _Timeline] = {}

    def apply(self, payload: object, at: datetime) -> None:
        if isinstance(payload, AlertRuleCreated | AlertRuleChanged):
            fields = {name: getattr(payload, name) for name in Rule.__dataclass_fields__}
            self._add(payload.rule_id, at, Rule(**fields))
        elif isinstance(payload, AlertRuleDeleted):
            self._add(payload.rule_id, at, None)

    def _add(self, rule_id: str, at: datetime, rule: Rule | None) -> None:
        line = self._rules.setdefault(rule_id, _Timeline())
        i = bisect.bisect_right(line.times, at)
        line.times.insert(i, at)
        line.versions.insert(i, rule)

    def at(self, when: datetime) -> Iterator[Rule]:
        for line in self._rules.values():
            i = bisect.bisect_right(line.times, when)
            if i and line.versions[i - 1] is not None:
                rule = line.versions[i - 1]
                assert rule is not None
                yield rule

    def ever(self, conditions: tuple[str, ...]) -> bool:
        """Whether any version of any rule, deleted or not, at any time, has one of these conditions."""
        return any(rule is not None and rule.condition in conditions
                   for line in self._rules.values() for rule in line.versions)

    def get(self, rule_id: str) -> Rule | None:
        """The rule as it stands now (its latest version)."""
        line = self._rules.get(rule_id)
        return line.versions[-1] if line else None
