"""The alert evaluator as a pure fold over events: which rules fire, once per (rule, run, condition)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from consumers.alerts.evaluate import Evaluator, firing_id
from consumers.projections.base import LoggedEvent
from schemas import MetricsLogged, Producer, RunEvent, RunStarted, RunStatus, RunStatusChanged
from schemas.alerts import AlertFired, AlertRuleChanged, AlertRuleCreated, AlertRuleDeleted

T0 = datetime(2026, 12, 1, tzinfo=UTC)
RUN_A, RUN_B = "a" * 32, "b" * 32
PRODUCER = Producer("h", 1, "u", "t")
offset = iter(range(1, 10**6))


def logged(payload: object, run_id: str = RUN_A, at: datetime = T0, experiment: str = "1") -> LoggedEvent:
    event = RunEvent("e", run_id, experiment, 1, at, PRODUCER, payload)  # type: ignore[arg-type]
    return LoggedEvent(event, 0, next(offset), "")


def points(*values: float, key: str = "loss") -> MetricsLogged:
    return MetricsLogged([key], [0] * len(values), list(range(len(values))), [0] * len(values), list(values))


def rule(condition: str, at: datetime = T0 - timedelta(seconds=1), **fields: object) -> LoggedEvent:
    spec = {"rule_id": condition, "name": condition, "condition": condition, "webhook_url": "http://h/", **fields}
    return logged(AlertRuleCreated(**spec), run_id="", at=at, experiment="*")  # type: ignore[arg-type]


def fired(ev: Evaluator, *events: LoggedEvent) -> list[tuple[str, str]]:
    return [(f.condition, f.run_id) for e in events for f in ev.observe(e)]


def test_threshold_fires_once_per_run_at_the_first_crossing() -> None:
    ev = Evaluator()
    ev.observe(rule("threshold", metric_key="loss", op=">", threshold=5.0))
    first = ev.observe(logged(points(1.0, 6.0, 7.0, math.nan)))
    assert [(f.condition, f.value, f.step) for f in first] == [("threshold", 6.0, 1)]
    assert fired(ev, logged(points(9.0)), logged(points(8.0), run_id=RUN_B)) == [("threshold", RUN_B)]


def test_nan_and_inf_fire_once_for_any_key_when_the_rule_names_none() -> None:
    ev = Evaluator()
    ev.observe(rule("nan"))
    assert fired(ev, logged(points(1.0, math.inf, math.nan, key="acc"))) == [("nan", RUN_A)]


def test_a_run_ending_failed_or_killed_fires_and_finished_does_not() -> None:
    ev = Evaluator()
    ev.observe(rule("run_failed"))
    assert fired(ev, logged(RunStatusChanged(RunStatus.FINISHED)), logged(RunStatusChanged(RunStatus.KILLED), RUN_B),
                 logged(RunStatusChanged(RunStatus.FAILED), RUN_B)) == [("run_failed", RUN_B)]


def test_new_best_needs_a_previous_best_and_the_right_direction() -> None:
    ev = Evaluator()
    ev.observe(rule("new_best", metric_key="acc", op="max"))
    assert fired(ev, logged(points(0.5, key="acc"))) == []  # the first value is no news
    assert fired(ev, logged(points(0.4, key="acc"), RUN_B)) == []
    assert fired(ev, logged(points(0.6, 0.7, key="acc"), RUN_B)) == [("new_best", RUN_B)]


def test_a_silent_running_run_stalls_once_and_an_ended_one_never() -> None:
    ev = Evaluator()
    ev.observe(rule("stalled", minutes=5.0))
    ev.observe(logged(RunStarted("a", "u")))
    ev.observe(logged(RunStarted("b", "u"), RUN_B))
    ev.observe(logged(RunStatusChanged(RunStatus.FINISHED), RUN_B))
    assert ev.stalled(T0 + timedelta(minutes=4)) == []
    assert [(f.condition, f.run_id) for f in ev.stalled(T0 + timedelta(minutes=6))] == [("stalled", RUN_A)]
    assert ev.stalled(T0 + timedelta(minutes=60)) == []


def test_rules_apply_while_they_stand_and_scope_to_their_experiment() -> None:
    ev = Evaluator()
    ev.observe(rule("threshold", metric_key="loss", op="<", threshold=0.0, experiment_id="1"))
    ev.observe(logged(AlertRuleChanged("threshold", "t", "threshold", "http://h/", "1", "loss", "<", 1.0), "",
                      T0 + timedelta(minutes=1), "1"))
    ev.observe(logged(AlertRuleDeleted("threshold"), "", T0 + timedelta(minutes=2), "1"))
    assert fired(ev, logged(points(0.5))) == []  # before the change: < 0
    assert fired(ev, logged(points(0.5), RUN_B, experiment="2", at=T0 + timedelta(seconds=90))) == []  # elsewhere
    assert fired(ev, logged(points(0.5), at=T0 + timedelta(seconds=90))) == [("threshold", RUN_A)]
    assert fired(ev, logged(points(0.5), "c" * 32, at=T0 + timedelta(minutes=3))) == []  # deleted


def test_a_firing_already_in_the_log_is_not_made_again() -> None:
    ev = Evaluator()
    ev.observe(rule("nan"))
    fid = firing_id("nan", RUN_A, "nan")
    ev.observe(logged(AlertFired(fid, "nan", RUN_A, "nan", "t", 0, 1), run_id=""))
    assert fired(ev, logged(points(math.nan))) == []
    assert firing_id("nan", RUN_A, "nan") == fid != firing_id("nan", RUN_B, "nan")


def test_a_batch_is_evaluated_in_event_time_order_across_partitions() -> None:
    """The consumer hands over one partition's messages after another's; a rule created before a run's NaN (in
    another partition) still applies to it."""
    from dataclasses import replace

    from consumers.alerts.worker import in_time_order

    nan = replace(logged(points(math.nan), at=T0 + timedelta(seconds=2)), partition=1)
    later = replace(logged(points(1.0), at=T0 + timedelta(seconds=1)), partition=1)  # clock skew: kept after nan
    created = replace(rule("nan", at=T0, metric_key="loss"), partition=2)
    ordered = in_time_order([nan, later, created])
    assert ordered == [created, nan, later], "partitions merged by time, each partition's own order kept"
    assert fired(Evaluator(), *ordered) == [("nan", RUN_A)]
    assert fired(Evaluator(), nan, later, created) == [], "in the consumer's order the rule came too late"


def mixed_batch(seed: int) -> MetricsLogged:
    import random

    rng = random.Random(seed)
    names = ["loss", "acc", "lr"]
    size = rng.randint(1, 300)
    values = [rng.choice([math.nan, math.inf, -math.inf]) if rng.random() < 0.05 else rng.uniform(-5, 5)
              for _ in range(size)]
    return MetricsLogged(names, [rng.randrange(3) for _ in range(size)], list(range(size)), [0] * size, values)


def test_batches_no_rule_watches_keep_the_same_best_as_point_by_point() -> None:
    fast, reference = Evaluator(), Evaluator()
    reference.observe(rule("nan"))  # watches every key: the point-by-point path
    for seed in range(40):
        experiment = str(seed % 3)
        fast.observe(logged(mixed_batch(seed), experiment=experiment))
        reference.observe(logged(mixed_batch(seed), experiment=experiment))
    assert fast.best == reference.best
    assert fast.best  # the batches had finite values


def test_a_batch_without_the_watched_key_still_feeds_a_later_new_best() -> None:
    ev = Evaluator()
    ev.observe(rule("new_best", metric_key="acc", op="max"))
    assert fired(ev, logged(points(0.5, 0.9, math.nan, key="loss"))) == []  # no rule looks at loss
    ev.observe(rule("new_best", rule_id="loss_best", name="loss_best", metric_key="loss", op="min"))
    assert fired(ev, logged(points(0.6, key="loss"))) == []  # 0.5 stays the best
    assert fired(ev, logged(points(0.4, key="loss"))) == [("new_best", RUN_A)]
