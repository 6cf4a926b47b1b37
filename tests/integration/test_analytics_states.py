"""Leaderboards and parallel coordinates evaluated over the in-memory run state answer exactly what the SQL path
answers (the encoded bytes compared): every aggregate, both orders, limits from 1 to all, over adversarial runs
(ties, -0.0, NaN, +-inf, NULL and missing metrics, runs without params, deleted and restored runs, metrics
logged for runs never started, which rank in SQL but have no card), then again after an incremental refresh."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import pytest

from producer.run import ActiveRun
from query_api.jsonresponse import dumps
from query_api.queries import analytics
from query_api.state import AppState
from query_api.statecache import analytics as held
from query_api.statecache.cache import RunStates
from query_api.statecache.state import covers
from schemas import RunDeleted, RunRenamed, RunRestored, RunStarted
from schemas.ids import experiment_id_for, new_run_id
from tests.integration.conftest import Stack, wait_for

pytestmark = pytest.mark.integration
NAN, INF = math.nan, math.inf
EXPERIMENT = "analytics-states"
VALUES = [1.0, 2.0, -1.0, 0.0, -0.0, NAN, INF, -INF, 2.0, 0.5, 1.0]
LR = ["0.1", "1e-3", "10", "abc", "", "-0", "inf"]
OPT = ["adam", "sgd", "Adam", "a b"]


def _points(run: ActiveRun, rng: random.Random) -> None:
    for key in ("loss", "acc"):
        if rng.random() < 0.75:
            for step in range(rng.randrange(1, 4)):
                run.log_metric(key, rng.choice(VALUES), step=rng.choice([step, 0]))


def _populate(tracker: Any, rng: random.Random, count: int, orphans: list[ActiveRun], prefix: str
              ) -> list[ActiveRun]:
    runs = []
    experiment_id = experiment_id_for(EXPERIMENT)
    for n in range(count):
        deleted, restored = rng.random() < 0.12, rng.random() < 0.3
        # numeric for every live run, not for runs that stay deleted: the dimension is still numeric
        params: dict[str, object] = {"seed": "x" if deleted and not restored else n}
        if rng.random() < 0.8:
            params["lr"] = rng.choice(LR)
        if rng.random() < 0.7:
            params["opt"] = rng.choice(OPT)
        if rng.random() < 0.5:
            params["depth"] = rng.randrange(1, 5)
        run = tracker.start_run(EXPERIMENT, f"{prefix}{rng.choice(['a', 'b', 'c'])}", params=params)
        _points(run, rng)
        if rng.random() < 0.6:
            run.end(rng.choice(["FINISHED", "FAILED"]))
        if deleted:
            run._publish(RunDeleted("test"))
            if restored:
                run._publish(RunRestored("test"))
        runs.append(run)
        if n % 9 == 0:  # metrics of a run that no attribute event names: ranked by the SQL, never shown
            orphan = ActiveRun(tracker._channel, run_id=new_run_id(), experiment_id=experiment_id, name="orphan",
                               batch_points=1000)
            orphan.log_metric("loss", rng.choice([-5.0, -INF, 0.0, NAN, 1.0]), step=0)
            orphan.log_metric("acc", rng.choice([5.0, INF, 0.5]), step=0)
            orphan.flush_metrics()
            orphans.append(orphan)
    assert tracker.flush(30) == 0
    return runs


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[dict[str, Any]]:
    rng = random.Random(7)
    tracker = stack.tracker()
    orphans: list[ActiveRun] = []
    runs = _populate(tracker, rng, 70, orphans, "")
    stack.wait_projected()
    yield {"rng": rng, "tracker": tracker, "runs": runs, "orphans": orphans}
    tracker.close()


def _app(stack: Stack) -> AppState:
    state: AppState = stack.api.app.state.runstream  # type: ignore[attr-defined]
    return state


def _zero(value: Any) -> Any:
    """-0.0 as 0.0: min/max of a run holding both zeros is whichever ClickHouse meets first (they compare
    equal), so it may differ between two reads of the same rows once their parts merge; the order cannot."""
    return 0.0 if value == 0 and isinstance(value, float) else value


def _signless(answer: Any, agg: str) -> Any:
    if agg == "last":
        return answer
    if isinstance(answer, list):
        return [{**e, "value": _zero(e["value"])} for e in answer]
    return {**answer, "runs": [{**r, "metric": _zero(r["metric"])} for r in answer["runs"]]}


PARAM_LISTS = [["lr"], ["lr", "opt"], ["opt", "lr", "depth"], ["lr", "lr", "absent"], ["absent"], ["depth"],
               ["seed", "depth", "seed"]]


def _compare(stack: Stack, states: RunStates) -> dict[str, int]:
    """Every question through both paths; the counts of what they showed (to prove the cases were met)."""
    app = _app(stack)
    client = app.clickhouse
    experiment_id = experiment_id_for(EXPERIMENT)
    assert app.data_version is not None
    version = app.data_version()
    state = states.state_at(client, experiment_id, version)
    assert state is not None, "the state path answers"
    seen = {"entries": 0, "skipped_ranks": 0, "deleted_left_out": 0, "numeric_seed": 0}
    deleted = {row.run_id for row in state.rows if row.deleted}
    for metric in ("loss", "acc", "absent"):
        for agg in ("last", "min", "max"):
            for descending in (False, True):
                for k in (1, 2, 3, 10, 1000):
                    sql = analytics.leaderboard(client, experiment_id, metric, agg, descending, k)  # type: ignore[arg-type]
                    mine = held.leaderboard(state, metric, agg, descending, k)
                    assert dumps(_signless(mine, agg)) == dumps(_signless(sql, agg)), (metric, agg, descending, k)
                    seen["entries"] += len(sql)
                    seen["skipped_ranks"] += sum(e["rank"] != i for i, e in enumerate(sql, 1))
            for params in PARAM_LISTS:
                sql_pc = analytics.parallel_coordinates(client, experiment_id, params, metric, agg)  # type: ignore[arg-type]
                mine_pc = held.parallel(state, experiment_id, params, metric, agg)
                assert dumps(_signless(mine_pc, agg)) == dumps(_signless(sql_pc, agg)), (metric, agg, params)
                seen["deleted_left_out"] += len(deleted) * (not {r["run_id"] for r in sql_pc["runs"]} & deleted)
                seen["numeric_seed"] += params[0] == "seed" and sql_pc["dimensions"][0]["type"] == "numeric"
    return seen


def test_leaderboards_and_parallel_coordinates_answer_as_sql(stack: Stack, world: dict[str, Any]) -> None:
    states = RunStates(10_000)
    seen = _compare(stack, states)
    assert states.stats.loads == 1
    assert seen["entries"] > 500 and seen["skipped_ranks"] > 0 and seen["deleted_left_out"] > 0, seen
    assert seen["numeric_seed"] > 0, "a deleted run's non-number left a dimension numeric"


def test_after_an_incremental_refresh_they_answer_as_sql(stack: Stack, world: dict[str, Any]) -> None:
    states = RunStates(10_000)
    _compare(stack, states)
    rng, tracker = world["rng"], world["tracker"]
    for run in world["runs"][:12]:
        _points(run, rng)
    for run in world["runs"][12:16]:
        run._publish(RunDeleted("refresh"))
    for run in world["runs"][16:18]:
        run._publish(RunRestored("refresh"))
        run._publish(RunRenamed("renamed"))
    for orphan in world["orphans"][:2]:  # a run named at last: no longer unheld, now a card
        orphan._publish(RunStarted("found", "u", None, None, None))
    for orphan in world["orphans"][2:4]:
        orphan.log_metric("loss", rng.choice([-7.0, 3.0]), step=5)
        orphan.flush_metrics()
    _populate(tracker, rng, 10, [], "late-")
    stack.wait_projected()
    seen = _compare(stack, states)
    assert states.stats.loads == 1 and states.stats.refreshes >= 1, "refreshed, not loaded again"
    assert seen["skipped_ranks"] > 0


def test_the_routes_take_the_state_path_once_loaded(stack: Stack, world: dict[str, Any]) -> None:
    states = _app(stack).run_states
    assert states is not None and states.background is not None
    experiment_id = experiment_id_for(EXPERIMENT)
    # `last`: a min or max over -0.0 and 0.0 may change its sign between two reads (see _zero)
    paths = [f"/api/v1/experiments/{experiment_id}/leaderboard?metric=loss&order=desc&k=5&agg=last",
             f"/api/v1/experiments/{experiment_id}/parallel-coordinates?params=lr,opt,seed&metric=acc&agg=last"]

    def ask(path: str) -> bytes:
        response = stack.api.get(path, headers={"Cache-Control": "no-cache"})
        assert response.status_code == 200
        return response.content

    first = [ask(path) for path in paths]  # the SQL path answers, and the state loads in the background
    wait_for(lambda: states.stats.loads + states.stats.refreshes > 0 and not any(
        slot.pending for slot in states._slots.values()), 30, what="the state loaded")
    for path, answered in zip(paths, first, strict=True):
        current = states.stats.current
        assert ask(path) == answered
        assert states.stats.current == current + 1, f"{path} was evaluated over the state"


def test_new_events_with_no_question_asked_leave_the_state_current(stack: Stack, world: dict[str, Any]) -> None:
    """The hosted projector announces its moves: after new events land and nobody asks anything, the held state
    catches up by itself, and the next cold leaderboard and parallel coordinates are answered from it, equal (to
    the byte) to what ClickHouse answers."""
    app = _app(stack)
    states = app.run_states
    assert states is not None and states.version is not None
    experiment_id = experiment_id_for(EXPERIMENT)
    leaderboard = f"/api/v1/experiments/{experiment_id}/leaderboard?metric=loss&order=asc&k=1000&agg=last"
    parallel = f"/api/v1/experiments/{experiment_id}/parallel-coordinates?params=lr,opt,seed&metric=acc&agg=last"

    def ask(path: str) -> bytes:
        response = stack.api.get(path, headers={"Cache-Control": "no-cache"})
        assert response.status_code == 200
        return response.content

    def current() -> bool:
        """The held state holds the data version, looked at without asking (a question would start a refresh)."""
        assert states.version is not None
        version = states.version()
        assert isinstance(version, tuple)
        slot = states._slots.get(experiment_id)
        held = slot.state if slot is not None else None
        return held is not None and held.generation == version[0] and covers(held.positions, dict(version[1]))

    ask(leaderboard)  # held from here on (loaded in the background)
    wait_for(current, 30, what="the state loaded")
    caught_up = states.stats.catch_ups
    rng, tracker = world["rng"], world["tracker"]
    for run in world["runs"][20:30]:
        _points(run, rng)
        run.log_metric("loss", rng.choice([-3.0, 0.25, 9.0]), step=50)
        run.flush_metrics()
    for run in world["runs"][30:32]:
        run._publish(RunDeleted("no question"))
    late = _populate(tracker, rng, 4, [], "quiet-")
    stack.wait_projected()
    wait_for(lambda: states.stats.catch_ups > caught_up and current(), 30, what="a catch-up with no question")
    client = app.clickhouse
    for question, path in (("leaderboard", leaderboard), ("parallel_coordinates", parallel)):
        before = states.answer_counts().get((question, "state"), 0)
        answered = ask(path)
        assert states.answer_counts().get((question, "state"), 0) == before + 1, f"{question} from the state"
        if question == "leaderboard":
            sql: Any = analytics.leaderboard(client, experiment_id, "loss", "last", False, 1000)
            assert answered == dumps({"experiment_id": experiment_id, "metric": "loss", "agg": "last",
                                      "order": "asc", "runs": sql})
            state = states._slots[experiment_id].state
            assert state is not None and {run.run_id for run in late} <= set(state.index), "the new runs are in"
        else:
            sql = analytics.parallel_coordinates(client, experiment_id, ["lr", "opt", "seed"], "acc", "last")
            assert answered == dumps(sql)
