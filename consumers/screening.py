"""Rules an event must obey in its place in the log (its Kafka key, its run's experiment): pure checks.

A run belongs to the experiment of its first event in the log. Runs are keyed by run_id, so all of a run's
events share a partition and "first" is the lowest offset there: a replay finds the same first event and
dead-letters the same later ones, so the rule is deterministic. An event of a run under another experiment
would otherwise put the run in two experiments.
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas import InvalidEventError, RunEvent
from schemas.model_events import REGISTRY_KEY

MAX_KEY_CHARS = 1024
"""Of a dead letter's Kafka key kept in its events row (run_id is the first column of the table's primary key,
whose index lives in memory: a 1 MB key must not be copied there)."""


class WrongKeyError(InvalidEventError):
    """The message's Kafka key is not the event's run id (experiment events: its experiment id)."""

    reason = "wrong_key"


class ExperimentMismatchError(InvalidEventError):
    """An event of a run names another experiment than the run's first event."""

    reason = "experiment_mismatch"


def check_key(event: RunEvent, key: str) -> RunEvent:
    """The event if its Kafka key is the one every producer gives it (its run id, else its experiment id, else
    the registry's key);
    keyed otherwise, a run's events could land in several partitions, out of order, and escape the experiment
    rule."""
    expected = event.run_id or event.experiment_id or REGISTRY_KEY  # registry events: one key, one partition
    if key != expected:
        raise WrongKeyError(f"Kafka key {key[:64]!r} is not the event's {'run' if event.run_id else 'experiment'} "
                            f"id {expected!r}")
    return event


def misfiled(events: Iterable[tuple[int, str, str]], owners: dict[str, str]) -> dict[int, str]:
    """Events, as (offset, run_id, experiment_id) in log order, whose run belongs to another experiment:
    {offset: message}. `owners` maps run_id to its experiment (from earlier offsets) and learns every run seen
    here for the first time."""
    wrong = {}
    for offset, run_id, experiment_id in events:
        if not run_id:
            continue
        owner = owners.setdefault(run_id, experiment_id)
        if owner != experiment_id:
            wrong[offset] = (f"run {run_id} belongs to experiment {owner!r} (its first event); this event names "
                             f"experiment {experiment_id!r}")
    return wrong
