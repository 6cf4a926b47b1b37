"""The in-memory state path of run searches answers exactly what the SQL path answers: many random filters and
orders (every comparator, params/tags/attributes/metrics, LIKE/ILIKE, IN, NULL and missing keys, numeric and
string comparisons, NaN and infinities, ties) through both paths on the same data, pages and tokens included,
then again after an incremental refresh (new runs, changed tags, statuses, deletions, more points)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import pytest

from query_api import run_search
from query_api.answers import positions_of
from query_api.filters import parse_filter
from query_api.queries import runs as run_queries
from query_api.run_search import RunQuery
from query_api.state import AppState
from query_api.statecache.cache import RunStates
from schemas import RunDeleted, RunRenamed, RunRestored
from tests.integration.conftest import Stack, wait_for

pytestmark = pytest.mark.integration
NAN, INF = math.nan, math.inf
EXPERIMENTS = ("states-eq-a", "states-eq-b")
NAMES = ["alpha", "Alpha", "beta", "β-run", "x_1", "x%1", "ſtrange", "É", "10", "9", "alpha"]
LR = ["0.1", "1e-3", " 1", "nan", "inf", "abc", "", "10", "9", "-0", "0", "0x10", "1_0"]
OPT = ["adam", "Adam", "ADAM", "sgd", "a_b", "a%b", "ÉCOLE", "école", "x\ny", "kelvin K"]
TEAM = ["vision", "Vision", "nlp", "", "vision a"]
LOSS = [1.0, 2.0, -1.0, 0.0, NAN, INF, -INF, 2.0, 0.5, 1e-9]


def _populate(tracker: Any, rng: random.Random, count: int, open_runs: list[Any], prefix: str) -> None:
    for n in range(count):
        experiment = EXPERIMENTS[0] if n % 5 else EXPERIMENTS[1]
        params: dict[str, object] = {}
        if rng.random() < 0.8:
            params["lr"] = rng.choice(LR)
        if rng.random() < 0.8:
            params["opt"] = rng.choice(OPT)
        if rng.random() < 0.5:
            params["depth"] = rng.randrange(1, 20)
        tags = {"team": rng.choice(TEAM)} if rng.random() < 0.6 else {}
        if rng.random() < 0.4:
            tags["prio"] = rng.choice(["1", "2", "10", "high"])
        run = tracker.start_run(experiment, f"{prefix}{rng.choice(NAMES)}", params=params, tags=tags,
                                description=rng.choice([None, "d"]))
        if rng.random() < 0.8:
            for step in range(rng.randrange(1, 4)):
                run.log_metric("loss", rng.choice(LOSS), step=step)
        if rng.random() < 0.5:
            run.log_metric("acc", rng.choice([NAN, 0.5, 0.9, 0.5]), step=0)
        if rng.random() < 0.15:
            run.delete_tag("team")
        fate = rng.random()
        if fate < 0.5:
            run.end("FINISHED")
        elif fate < 0.65:
            run.end("FAILED")
        elif fate < 0.75:
            run.end("KILLED")
        else:
            open_runs.append(run)  # stays RUNNING (changed in the refresh phase)
        if rng.random() < 0.1:
            run._publish(RunDeleted("test"))
    assert tracker.flush(30) == 0


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[dict[str, Any]]:
    rng = random.Random(15)
    open_runs: list[Any] = []
    tracker = stack.tracker()
    _populate(tracker, rng, 60, open_runs, "")
    stack.wait_projected()
    yield {"rng": rng, "open": open_runs, "tracker": tracker}
    tracker.close()


def _app(stack: Stack) -> AppState:
    state: AppState = stack.api.app.state.runstream  # type: ignore[attr-defined]
    return state


def _value(rng: random.Random, numeric: bool, pool: list[str]) -> str:
    if numeric:
        return rng.choice(["0", "1", "0.001", "9", "10", "-1", "0.5", "2", "1e-9"])
    return "'" + rng.choice(pool) + "'"


def _comparison(rng: random.Random) -> str:
    entity = rng.choice(["param", "param", "tag", "metric", "metric", "attribute", "attribute"])
    if entity == "metric":
        aggregate = rng.choice(["", "", "min", "max", "avg", "count"])
        key = rng.choice(["loss", "acc", "nothing"])
        ident = f"{aggregate}(metrics.{key})" if aggregate else f"metrics.{key}"
        if rng.random() < 0.15:
            return f"{ident} IS {rng.choice(['', 'NOT '])}NULL" if not aggregate else f"metrics.{key} IS NULL"
        return f"{ident} {rng.choice(['=', '!=', '<', '<=', '>', '>='])} {_value(rng, True, [])}"
    if entity == "attribute":
        key = rng.choice(["status", "run_name", "user", "run_id", "experiment_id", "start_time", "end_time"])
        if key.endswith("_time"):
            return f"attributes.{key} {rng.choice(['=', '!=', '<', '>=', '>'])} {rng.choice(['0', '1e15', '2e12'])}"
        pool = {"status": ["FINISHED", "FAILED", "KILLED", "RUNNING", "F%", "%ED", "r%"],
                "run_name": [*NAMES, "a%", "%a", "_", "x_1", "x%%", "É%", "é%", "ſ%", "S%"],
                "user": ["%", "x", "a%"], "run_id": ["%", "0%", "a%"], "experiment_id": ["%", "1%"]}[key]
        return _string_test(rng, f"attributes.{key}", pool)
    key = rng.choice(["lr", "opt", "depth", "absent"] if entity == "param" else ["team", "prio", "absent"])
    ident = f"{entity}s.{key}"
    if rng.random() < 0.15:
        return f"{ident} IS {rng.choice(['', 'NOT '])}NULL"
    if rng.random() < 0.35:
        return f"{ident} {rng.choice(['=', '!=', '<', '<=', '>', '>='])} {_value(rng, True, [])}"
    pool = LR + [o for o in OPT if "\n" not in o] + TEAM + ["1", "2", "10", "high", "a%", "%a%", "_", "%1",
                                                            "é%", "É%", "v%", "%K", "%k"]
    return _string_test(rng, ident, pool)


def _string_test(rng: random.Random, ident: str, pool: list[str]) -> str:
    op = rng.choice(["=", "!=", "<", ">=", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN", "NOT IN"])
    if op in ("IN", "NOT IN"):
        return f"{ident} {op} ({', '.join(repr_(v) for v in rng.sample(pool, min(3, len(pool))))})"
    return f"{ident} {op} {repr_(rng.choice(pool))}"


def repr_(value: str) -> str:
    return "'" + value + "'"


def _filter(rng: random.Random, depth: int = 0) -> str:
    if depth < 2 and rng.random() < 0.4:
        op = rng.choice([" AND ", " OR "])
        return "(" + op.join(_filter(rng, depth + 1) for _ in range(rng.randrange(2, 4))) + ")"
    return _comparison(rng)


ORDER_KEYS = ["metrics.loss", "min(metrics.loss)", "max(metrics.acc)", "avg(metrics.loss)", "count(metrics.loss)",
              "params.lr", "params.opt", "params.absent", "tags.team", "attributes.run_name", "attributes.status",
              "attributes.start_time", "attributes.end_time", "attributes.user", "attributes.experiment_id"]


def _order(rng: random.Random) -> list[str]:
    return [f"{k} {rng.choice(['ASC', 'DESC'])}" for k in rng.sample(ORDER_KEYS, rng.randrange(0, 4))]


def _pages(stack: Stack, states: RunStates | None, query: RunQuery, limit: int, pages: int = 3
           ) -> list[tuple[Any, ...]]:
    """Up to `pages` pages of the query, each (run ids, next token, read_at, shaped records)."""
    app = _app(stack)
    client = app.clickhouse
    version = app.data_version() if app.data_version is not None else None
    assert version is not None
    out: list[tuple[Any, ...]] = []
    token = None
    for _ in range(pages):
        page = run_search.search_runs(client, query, limit=limit, token=token, with_state=True,
                                      at=positions_of(version) if token is None else None, states=states,
                                      version=version)
        if states is None:
            assert page.records is None
            records = run_queries.fetch_runs(client, page.run_ids)
        else:
            assert page.records is not None, "the state path answered"
            records = run_queries.named(page.records,
                                        run_queries.experiment_names(client, list(query.experiment_ids)))
        out.append((page.run_ids, page.next_token.encode() if page.next_token else None, page.read_at,
                    _comparable(records)))
        if page.next_token is None:
            break
        token = page.next_token
    return out


def _comparable(records: list[Any]) -> list[Any]:
    """Records with NaN made comparable (NaN != NaN)."""
    def fix(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        return value
    return [fix(dict(r)) for r in records]


def _experiment_ids(stack: Stack) -> list[str]:
    from schemas.ids import experiment_id_for
    return [experiment_id_for(name) for name in EXPERIMENTS]


def _compare_many(stack: Stack, states: RunStates, rng: random.Random, count: int) -> int:
    experiments = _experiment_ids(stack)
    compared = 0
    for n in range(count):
        text = _filter(rng) if rng.random() < 0.9 else ""
        order = _order(rng)
        scope = [experiments[0]] if n % 4 else experiments
        view = rng.choice(["active", "active", "deleted", "all"])
        query = RunQuery.of(scope, text, parse_filter(text), order, view)  # type: ignore[arg-type]
        limit = rng.choice([1, 3, 7, 100])
        sql = _pages(stack, None, query, limit)
        held = _pages(stack, states, query, limit) if "\\" not in text else sql
        assert held == sql, f"filter {text!r} order {order} view {view} limit {limit}"
        compared += sum(len(page[0]) for page in sql)
    return compared


def test_random_filters_and_orders_answer_as_sql(stack: Stack, world: dict[str, Any]) -> None:
    states = RunStates(10_000)
    compared = _compare_many(stack, states, world["rng"], 400)
    assert compared > 1000, "the filters found runs"
    assert states.stats.loads == 2


def test_an_incremental_refresh_answers_as_sql(stack: Stack, world: dict[str, Any]) -> None:
    states = RunStates(10_000)
    _compare_many(stack, states, world["rng"], 20)
    assert states.stats.loads == 2
    rng = world["rng"]
    tracker = world["tracker"]
    for run in world["open"][:5]:
        run.log_metric("loss", rng.choice(LOSS), step=10)
        run.set_tags({"team": rng.choice(TEAM), "late": "1"})
        run.end(rng.choice(["FINISHED", "FAILED"]))
    for run in world["open"][5:8]:
        run._publish(RunDeleted("refresh"))
    for run in world["open"][8:9]:
        run._publish(RunRestored("refresh"))
        run._publish(RunRenamed("renamed"))
    assert len(world["open"]) >= 9
    _populate(tracker, rng, 6, [], "late-")
    stack.wait_projected()
    _compare_many(stack, states, rng, 150)
    assert states.stats.loads == 2, "refreshed, not loaded again"
    assert states.stats.refreshes >= 2
    assert 0 < states.stats.last_refresh_runs < 30


def test_above_the_bound_the_sql_path_answers(stack: Stack, world: dict[str, Any]) -> None:
    app = _app(stack)
    version = app.data_version() if app.data_version is not None else None
    assert isinstance(version, tuple)
    states = RunStates(5)
    assert states.states(app.clickhouse, _experiment_ids(stack)[:1], version[0], dict(version[1])) is None
    query = RunQuery.of(_experiment_ids(stack)[:1], "", None, [], "active")
    page = run_search.search_runs(app.clickhouse, query, limit=10, with_state=True,
                                  at=positions_of(version), states=states, version=version)
    assert page.records is None and len(page.run_ids) == 10


def test_the_search_route_takes_the_state_path_once_loaded(stack: Stack, world: dict[str, Any]) -> None:
    states = _app(stack).run_states
    assert states is not None and states.background is not None

    def ask() -> list[Any]:
        response = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENTS[0]],
                                                               "filter": "params.opt = 'adam'"},
                                  headers={"Cache-Control": "no-cache"})
        assert response.status_code == 200
        runs: list[Any] = response.json()["runs"]
        assert runs and all(run["params"]["opt"] == "adam" for run in runs)
        return runs

    first = ask()  # the SQL path answers, and the state loads in the background
    wait_for(lambda: states.stats.loads + states.stats.refreshes > 0 and not any(
        slot.pending for slot in states._slots.values()), 30, what="the state loaded")
    current = states.stats.current
    assert ask() == first
    assert states.stats.current == current + 1, "the second search was evaluated over the state"
