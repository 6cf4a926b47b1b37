"""Which rules an event makes fire: a pure state machine over the log (no I/O, no clock of its own)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from consumers.alerts.rules import Rule, RuleBook
from consumers.logged import LoggedEvent
from schemas import MetricsLogged, RunStarted, RunStatus, RunStatusChanged
from schemas.alerts import ALERT_RULE_EVENTS, AlertDelivered, AlertFired

FIRING_NAMESPACE = uuid.UUID("6f1e3c4e-7d1a-4c55-9a51-2a3d0e6b8a10")
ENDED_BADLY = (RunStatus.FAILED, RunStatus.KILLED)
POINT_CONDITIONS = ("threshold", "nan", "new_best")  # the conditions `_point` evaluates on each metric point


def firing_id(rule_id: str, run_id: str, condition: str) -> str:
    """One id per (rule, run, condition): the idempotency key of the firing, wherever and however often it is made."""
    return str(uuid.uuid5(FIRING_NAMESPACE, f"{rule_id}|{run_id}|{condition}"))


@dataclass(frozen=True)
class Firing:
    firing_id: str
    rule: Rule
    run_id: str
    experiment_id: str
    condition: str
    text: str
    partition: int
    offset: int
    value: float | None = None
    metric_key: str | None = None
    step: int | None = None


@dataclass
class RunState:
    experiment_id: str
    name: str = ""
    status: str = RunStatus.RUNNING
    last_seen: datetime | None = None
    where: tuple[int, int] = (0, 0)  # the log position of its latest event


@dataclass
class Evaluator:
    """Folds the log: rules, runs, each experiment's best values, and what was already fired and delivered."""

    rules: RuleBook = field(default_factory=RuleBook)
    runs: dict[str, RunState] = field(default_factory=dict)
    best: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (experiment, key, op) -> best value
    fired: set[str] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)
    recorded: dict[str, tuple[AlertFired, str]] = field(default_factory=dict)  # firing_id -> (event, experiment)

    def observe(self, logged: LoggedEvent) -> list[Firing]:
        """Take one event; the firings it causes that were not made before (each once)."""
        e, p = logged.event, logged.event.payload
        if isinstance(p, ALERT_RULE_EVENTS):
            self.rules.apply(p, e.event_time)
            return []
        if isinstance(p, AlertFired):
            self.fired.add(p.firing_id)
            self.recorded[p.firing_id] = (p, e.experiment_id)
            return []
        if isinstance(p, AlertDelivered):
            self.delivered.add(p.firing_id)
            return []
        if not e.run_id:
            return []
        run = self.runs.setdefault(e.run_id, RunState(e.experiment_id))
        run.last_seen = max(run.last_seen or e.event_time, e.event_time)
        run.where = (logged.partition, logged.offset)
        if isinstance(p, RunStarted):
            run.name = p.name
        rules = [r for r in self.rules.at(e.event_time) if r.covers(e.experiment_id)]
        out: list[Firing] = []
        if isinstance(p, RunStatusChanged):
            run.status = p.status
            for rule in rules:
                if rule.condition == "run_failed" and p.status in ENDED_BADLY:
                    out.append(self._firing(rule, logged, run, f"ended {p.status}"))
        elif isinstance(p, MetricsLogged):
            watched = {r.metric_key for r in rules if r.condition in POINT_CONDITIONS}
            if None in watched or not watched.isdisjoint(p.names):
                for key, step, _, value in p.points():
                    out.extend(self._point(rules, logged, run, key, step, value))
            else:  # no rule looks at these points: only the experiment's best moves, a column at a time
                self._note_best(run.experiment_id, p)
        return self._new(out)

    def _note_best(self, experiment_id: str, batch: MetricsLogged) -> None:
        """What `_point` does to `best` for every point of a batch, with numpy: per key, the finite minimum
        and maximum against the best so far."""
        finite = np.isfinite(batch.values)
        keys, values = batch.name_index[finite], batch.values[finite]
        if not len(values):
            return
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        lows, highs = np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)
        for k, low, high in zip(keys[starts].tolist(), lows.tolist(), highs.tolist(), strict=True):
            key = batch.names[k]
            for op, value in (("min", low), ("max", high)):
                slot = (experiment_id, key, op)
                best = self.best.get(slot)
                if best is None or (value < best if op == "min" else value > best):
                    self.best[slot] = value

    def _point(self, rules: list[Rule], logged: LoggedEvent, run: RunState, key: str, step: int,
               value: float) -> list[Firing]:
        out = []
        for rule in rules:
            if rule.metric_key not in (None, key):
                continue
            if rule.condition == "threshold" and rule.crossed(value):
                what = f"{key} = {value:g} at step {step}, {rule.op} {rule.threshold:g}"
                out.append(self._firing(rule, logged, run, what, value, key, step))
            elif rule.condition == "nan" and not math.isfinite(value):
                out.append(self._firing(rule, logged, run, f"{key} became {value} at step {step}", value, key, step))
            elif rule.condition == "new_best" and math.isfinite(value):
                slot = (run.experiment_id, key, rule.op or "min")
                best = self.best.get(slot)
                if best is not None and (value < best if slot[2] == "min" else value > best):
                    out.append(self._firing(rule, logged, run, f"new best {key} = {value:g} at step {step} "
                                            f"(was {best:g})", value, key, step))
        for op in ("min", "max"):  # the experiment's best, kept whether or not a rule watches it yet
            slot = (run.experiment_id, key, op)
            if math.isfinite(value) and (slot not in self.best or (value < self.best[slot] if op == "min"
                                                                   else value > self.best[slot])):
                self.best[slot] = value
        return out

    def stalled(self, now: datetime) -> list[Firing]:
        """RUNNING runs silent for longer than a stalled rule allows (the clock is the caller's)."""
        out = []
        for run_id, run in self.runs.items():
            if run.status != RunStatus.RUNNING or run.last_seen is None:
                continue
            for rule in self.rules.at(now):
                if rule.condition == "stalled" and rule.minutes is not None and rule.covers(run.experiment_id) and (
                        now - run.last_seen > timedelta(minutes=rule.minutes)):
                    silent = (now - run.last_seen).total_seconds() / 60
                    logged_at = run.where
                    out.append(Firing(firing_id(rule.rule_id, run_id, rule.condition), rule, run_id, run.experiment_id,
                                      rule.condition, self._text(rule, run_id, f"silent for {silent:.1f} min"),
                                      logged_at[0], logged_at[1], silent))
        return self._new(out)

    def _firing(self, rule: Rule, logged: LoggedEvent, run: RunState, what: str, value: float | None = None,
                key: str | None = None, step: int | None = None) -> Firing:
        run_id = logged.event.run_id
        return Firing(firing_id(rule.rule_id, run_id, rule.condition), rule, run_id, run.experiment_id,
                      rule.condition, self._text(rule, run_id, what), logged.partition, logged.offset, value, key, step)

    def _text(self, rule: Rule, run_id: str, what: str) -> str:
        name = self.runs[run_id].name if run_id in self.runs else ""
        return f"[runstream] {rule.name}: run {name or run_id[:8]} ({run_id}) {what}"

    def _new(self, firings: list[Firing]) -> list[Firing]:
        out = []
        for f in firings:
            if f.firing_id not in self.fired:
                self.fired.add(f.firing_id)
                out.append(f)
        return out
