"""`Evaluator.observe_all` is `observe` of each event in turn: the same firings in the same order and the same state,
whether it takes its fast path (no rule looking at points ever in the book, none among the events) or not."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumers.alerts.evaluate import FEW_KEYS, Evaluator, Firing
from consumers.logged import LoggedEvent
from schemas import MetricsLogged, Producer, RunEvent, RunStarted, RunStatus, RunStatusChanged
from schemas.alerts import AlertRuleCreated, AlertRuleDeleted

T0 = datetime(2026, 12, 1, tzinfo=UTC)
PRODUCER = Producer("h", 1, "u", "t")
RUNS = ["a" * 32, "b" * 32, "c" * 32, "d" * 32]
SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -1e308, 1e308]


def batch(rng: random.Random, keys: list[str]) -> MetricsLogged:
    names = rng.sample(keys, rng.randint(1, len(keys)))
    n = rng.randint(0, 40)
    values = [rng.choice(SPECIAL) if rng.random() < 0.1 else rng.uniform(-5, 5) for _ in range(n)]
    return MetricsLogged(names, [rng.randrange(len(names)) for _ in range(n)], list(range(n)), [0] * n, values)


def rule(condition: str, rule_id: str, **fields: Any) -> AlertRuleCreated:
    return AlertRuleCreated(rule_id=rule_id, name=rule_id, condition=condition, webhook_url="http://h/", **fields)


def log(rng: random.Random, keys: list[str], *, rules: list[tuple[int, Any]]) -> list[LoggedEvent]:
    """A log of runs starting, logging batches and ending, with `rules` events at the given positions."""
    out: list[LoggedEvent] = []
    at = T0
    for i in range(300):
        at += timedelta(milliseconds=rng.randint(0, 3))
        for position, payload in rules:
            if position == i:
                out.append(LoggedEvent(RunEvent(f"r{i}", "", "*", 1, at, PRODUCER, payload), 0, len(out), ""))
        run = rng.choice(RUNS)
        roll = rng.random()
        payload: Any = (RunStarted(f"run-{run[:2]}", "u") if roll < 0.05 else
                        RunStatusChanged(rng.choice([RunStatus.FAILED, RunStatus.FINISHED])) if roll < 0.1 else
                        batch(rng, keys))
        experiment = "x" if run < "c" else "y"
        out.append(LoggedEvent(RunEvent(f"e{i}", run, experiment, 1, at, PRODUCER, payload), rng.randrange(3),
                               len(out), ""))
    return out


def state(ev: Evaluator) -> Any:
    return (ev.best, {run: (s.experiment_id, s.name, s.status, s.last_seen, s.where) for run, s in ev.runs.items()},
            ev.fired)


def folded(events: list[LoggedEvent], size: int, *, all_at_once: bool) -> tuple[list[Firing], Any]:
    ev, firings = Evaluator(), []
    for i in range(0, len(events), size):
        chunk = events[i:i + size]
        if all_at_once:
            firings.extend(ev.observe_all(chunk))
        else:
            for logged in chunk:
                firings.extend(ev.observe(logged))
    return firings, state(ev)


RULES: dict[str, list[tuple[int, Any]]] = {
    "none": [],
    "run_failed only (fast path)": [(0, rule("run_failed", "f")), (150, rule("stalled", "s", minutes=1.0))],
    "new_best from the start": [(0, rule("new_best", "b", metric_key="k0", op="min"))],
    "threshold from the middle": [(120, rule("threshold", "t", op=">", threshold=4.0))],
    "a point rule created and deleted": [(50, rule("nan", "n")), (60, AlertRuleDeleted("n"))],
}


@pytest.mark.parametrize("rules", list(RULES))
@pytest.mark.parametrize("keys", [3, FEW_KEYS + 4])  # a mask per key, and the sort past FEW_KEYS
@pytest.mark.parametrize("size", [1, 7, 250])
def test_observe_all_is_observe_in_turn(rules: str, keys: int, size: int) -> None:
    rng = random.Random(f"{rules}-{keys}-{size}")
    events = log(rng, [f"k{i}" for i in range(keys)], rules=RULES[rules])
    one_by_one, expected = folded(events, size, all_at_once=False)
    firings, got = folded(events, size, all_at_once=True)
    assert repr(firings) == repr(one_by_one)  # repr: a NaN value is not equal to itself
    assert got == expected
    if rules != "none" and "fast" not in rules:
        assert firings  # the slow path was met with rules that fire


def test_a_best_folded_while_no_rule_stood_is_the_one_a_later_new_best_rule_compares_with() -> None:
    ev = Evaluator()
    run = "a" * 32

    def at(payload: Any, seconds: int, run_id: str = run) -> LoggedEvent:
        return LoggedEvent(RunEvent("e", run_id, "x" if run_id else "*", 1, T0 + timedelta(seconds=seconds),
                                    PRODUCER, payload), 0, seconds, "")

    many = [at(MetricsLogged(["loss"], [0, 0], [0, 1], [0, 0], [v, v + 1]), s) for s, v in enumerate([3.0, 2.0])]
    assert ev.observe_all(many) == []
    assert ev.best[("x", "loss", "min")] == 2.0
    ev.observe(at(rule("new_best", "b", metric_key="loss", op="min"), 5, run_id=""))
    assert ev.observe_all([at(MetricsLogged(["loss"], [0], [0], [0], [2.5]), 6)]) == []
    assert [f.value for f in ev.observe_all([at(MetricsLogged(["loss"], [0], [0], [0], [1.5]), 7)])] == [1.5]
