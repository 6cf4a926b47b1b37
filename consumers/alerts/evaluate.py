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
FEW_KEYS = 16  # up to this many keys in a fold of best values, one mask per key instead of a sort


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

    def observe_all(self, events: list[LoggedEvent]) -> list[Firing]:
        """`observe` of each event in turn: the same state and the same firings in the same order. While no rule
        looking at points (`POINT_CONDITIONS`) was ever in the book and none comes with these events, a metric
        batch makes no firing and moves only its run (as `observe` does, in turn) and its experiment's best values,
        a minimum and a maximum per key, whatever the order they are taken in: those are folded once per
        experiment for all the batches (one numpy pass instead of one per batch; where a minimum is both 0.0 and
        -0.0, which compare equal, either sign may be the one kept)."""
        if self.rules.ever(POINT_CONDITIONS) or any(isinstance(logged.event.payload, ALERT_RULE_EVENTS)
                                                    for logged in events):
            return [firing for logged in events for firing in self.observe(logged)]
        out: list[Firing] = []
        batches: dict[str, list[MetricsLogged]] = {}
        for logged in events:
            e, p = logged.event, logged.event.payload
            if not isinstance(p, MetricsLogged) or not e.run_id:
                out.extend(self.observe(logged))
                continue
            run = self.runs.setdefault(e.run_id, RunState(e.experiment_id))
            run.last_seen = max(run.last_seen or e.event_time, e.event_time)
            run.where = (logged.partition, logged.offset)
            batches.setdefault(run.experiment_id, []).append(p)
        for experiment_id, metrics in batches.items():
            self._note_best_of(experiment_id, metrics)
        return out

    def _note_best_of(self, experiment_id: str, batches: list[MetricsLogged]) -> None:
        """`_note_best` of several batches of one experiment at once: their keys numbered across the batches."""
        if len(batches) == 1:
            self._note_best(experiment_id, batches[0])
            return
        numbers: dict[str, int] = {}
        for batch in batches:
            for name in batch.names:
                numbers.setdefault(name, len(numbers))
        keys = np.concatenate([np.fromiter((numbers[n] for n in b.names), dtype=np.int64, count=len(b.names))
                               [b.name_index] for b in batches])
        values = np.concatenate([b.values for b in batches])
        self._fold_best(experiment_id, list(numbers), keys, values)

    def _note_best(self, experiment_id: str, batch: MetricsLogged) -> None:
        """What `_point` does to `best` for every point of a batch, with numpy: per key, the finite minimum
        and maximum against the best so far."""
        self._fold_best(experiment_id, batch.names, batch.name_index, batch.values)

    def _fold_best(self, experiment_id: str, names: list[str], keys: np.ndarray, values: np.ndarray) -> None:
        """Per key of `names` (`keys` index them), the finite minimum and maximum of `values` against the best so
        far: a mask per key where there are few (a sweep's 5: no sort), else sorted by key."""
        finite = np.isfinite(values)
        if not finite.all():
            keys, values = keys[finite], values[finite]
        if not len(values):
            return
        found: list[tuple[int, float, float]] = []
        if len(names) <= FEW_KEYS:
            for k in range(len(names)):
                chosen = values[keys == k]
                if len(chosen):
                    found.append((k, float(chosen.min()), float(chosen.max())))
        else:
            order = np.argsort(keys, kind="stable")
            keys, values = keys[order], values[order]
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            lows, highs = np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)
            found = list(zip(keys[starts].tolist(), lows.tolist(), highs.tolist(), strict=True))
        for k, low, high in found:
            key = names[k]
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
