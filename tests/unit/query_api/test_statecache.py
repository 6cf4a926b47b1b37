"""The state path's pure evaluator and its bounded, versioned cache (no ClickHouse: reads are stubbed)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from query_api.filters import parse_filter, parse_order_by
from query_api.statecache import cache as cache_module
from query_api.statecache import evaluate
from query_api.statecache.cache import RunStates
from query_api.statecache.state import ExperimentState, RunRow, covers, merged, run_rows

NAN = math.nan


def row(run_id: str, *, partition: int = 0, first_offset: int = 0, name: str | None = "r", status: str = "FINISHED",
        start_ms: int | None = 1000, deleted: int = 0, params: dict[str, str] | None = None,
        params_num: dict[str, float | None] | None = None, tags: dict[str, str] | None = None,
        metrics: dict[str, tuple[Any, ...]] | None = None, experiment_id: str = "e") -> RunRow:
    start_us = None if start_ms is None else start_ms * 1000
    params = params or {}
    return RunRow(run_id, experiment_id, partition, first_offset, name, status, start_us, None, start_ms, None, None,
                  "u", None, None, deleted, params, params_num if params_num is not None else {
                      k: _num(v) for k, v in params.items()}, tags or {}, {}, metrics or {})  # type: ignore[arg-type]


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def state(*rows: RunRow, positions: dict[int, int] | None = None) -> ExperimentState:
    return ExperimentState(1, positions or {0: 100}, tuple(sorted(rows)))


def ids(found: list[RunRow]) -> list[str]:
    return [r.run_id for r in found]


def search(states: list[ExperimentState] | ExperimentState, text: str | None = None, order: list[str] | None = None,
           *, view: str = "active", snapshot: dict[int, int] | None = None, offset: int = 0, limit: int = 100
           ) -> list[str]:
    held = states if isinstance(states, list) else [states]
    return ids(evaluate.search(held, parse_filter(text), parse_order_by(order or []), view=view,
                               snapshot=snapshot or {0: 100}, offset=offset, limit=limit))


RUNS = state(
    row("a", params={"lr": "0.1", "opt": "adam"}, tags={"team": "Vision"}, metrics={"loss": (1.0, 0.5, 2.0, 1.2, 3, 2)},
        start_ms=3000),
    row("b", params={"lr": "abc", "opt": "Adam"}, metrics={"loss": (NAN, None, None, NAN, 2, 1)}, start_ms=2000),
    row("c", params={"opt": "sgd"}, tags={"team": "nlp"}, metrics={"loss": (0.5, 0.5, 0.5, 0.5, 1, 0)},
        start_ms=None),
    row("d", params={"lr": " 1"}, params_num={"lr": 1.0}, start_ms=1000, name=None),
    row("e", params={"opt": "adam"}, deleted=1),
)


@pytest.mark.parametrize(("text", "expected"), [
    ("params.opt = 'adam'", ["a"]),
    ("params.opt != 'adam'", ["b", "c"]),               # a run without the key never matches
    ("params.opt ILIKE 'ADA%'", ["a", "b"]),
    ("params.opt LIKE 'a_am'", ["a"]),
    ("params.opt NOT LIKE 'a%'", ["b", "c"]),
    ("params.opt IN ('sgd', 'Adam')", ["b", "c"]),
    ("params.opt NOT IN ('sgd')", ["a", "b"]),
    ("params.lr > 0.5", ["d"]),                         # numbers as ClickHouse parsed them; 'abc' is NULL
    ("params.lr < 'b'", ["a", "b", "d"]),                # strings compare as strings
    ("params.lr IS NULL", ["c"]),
    ("params.lr IS NOT NULL", ["a", "b", "d"]),
    ("tags.team = 'nlp' OR params.lr = 0.1", ["a", "c"]),
    ("metrics.loss != 1", ["b", "c"]),                   # NaN != 1 holds
    ("min(metrics.loss) < 1", ["a", "c"]),               # b's min is NULL: no match
    ("count(metrics.loss) = 2", ["b"]),
    ("metrics.loss IS NULL", ["d"]),
    ("attributes.run_name = 'r'", ["a", "b", "c"]),     # d's name is NULL
    ("attributes.start_time >= 2000", ["a", "b"]),
    ("attributes.status LIKE '%ED'", ["a", "b", "c", "d"]),
])
def test_filters(text: str, expected: list[str]) -> None:
    assert sorted(search(RUNS, text)) == expected


def test_default_order_is_start_time_descending_nulls_last_then_run_id() -> None:
    assert search(RUNS) == ["a", "b", "d", "c"]


def test_numbers_order_nan_after_values_before_nulls_both_ways() -> None:
    assert search(RUNS, order=["metrics.loss ASC"]) == ["c", "a", "b", "d"]
    assert search(RUNS, order=["metrics.loss DESC"]) == ["a", "c", "b", "d"]


def test_ties_break_by_run_id_under_every_key() -> None:
    assert search(RUNS, order=["attributes.run_name DESC"]) == ["a", "b", "c", "d"]
    assert search(RUNS, order=["params.opt ASC", "attributes.start_time DESC"]) == ["b", "a", "c", "d"]


def test_view_snapshot_and_page() -> None:
    late = row("f", partition=1, first_offset=50)
    held = state(*RUNS.rows, late, positions={0: 100, 1: 60})
    assert search(held, view="deleted") == ["e"]
    assert "e" in search(held, view="all")
    assert "f" in search(held, snapshot={0: 100, 1: 50})
    assert "f" not in search(held, snapshot={0: 100, 1: 49}) and "f" not in search(held, snapshot={0: 100})
    assert search(held, order=["attributes.run_id ASC"], offset=1, limit=2) == ["b", "c"]


def test_several_experiments_merge_by_run_id() -> None:
    other = ExperimentState(1, {0: 100}, (row("bb", experiment_id="x", start_ms=2000),))
    assert search([RUNS, other]) == ["a", "b", "bb", "d", "c"]


def test_backslash_patterns_go_to_sql() -> None:
    with pytest.raises(evaluate.Unsupported):
        evaluate.check(parse_filter(r"params.opt LIKE 'a\\_b'"))


def test_like_spans_lines_and_escapes_regex() -> None:
    assert evaluate.like_pattern("a%", False).fullmatch("a\nb")
    assert not evaluate.like_pattern("a.b", False).fullmatch("axb")
    assert evaluate.like_pattern("É_", True).fullmatch("éx")


def test_positions() -> None:
    assert covers({0: 5, 1: 3}, {0: 5}) and not covers({0: 5}, {0: 6}) and not covers({0: 5}, {1: 0})
    assert merged({0: 5, 1: 2}, {0: 3, 2: 1}) == {0: 5, 1: 2, 2: 1}


def test_replaced_keeps_run_id_order() -> None:
    changed = RUNS.replaced([row("aa"), row("a", name="new")], ["b"], 2, {0: 200})
    assert [r.run_id for r in changed.rows] == ["a", "aa", "c", "d", "e"]
    assert changed.rows[0].name == "new" and changed.generation == 2 and RUNS.rows[0].name == "r"


class Reads:
    """Stubbed experiment_state reads: each experiment's rows, and the runs changed since any position."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.changed: list[str] = []
        self.calls: list[str] = []

    def states(self, client: Any, experiment_ids: list[str], run_ids: list[str] | None = None,
               limit: int = 2**63) -> list[tuple[Any, ...]]:
        self.calls.append("states" if run_ids is None else f"states {len(run_ids)}")
        found = [r for e in experiment_ids for r in self.rows[e] if run_ids is None or r[0] in run_ids]
        return found[:limit]

    def summaries(self, client: Any, experiment_ids: list[str], run_ids: list[str] | None = None
                  ) -> list[tuple[Any, ...]]:
        return []

    def changed_since(self, client: Any, experiment_ids: list[str], after: dict[int, int]) -> list[str]:
        self.calls.append("changed")
        return self.changed


def state_row(run_id: str, experiment_id: str, name: str = "r") -> tuple[Any, ...]:
    return (run_id, experiment_id, 0, 0, name, "FINISHED", 1, None, 1, None, None, "u", None, None, 0,
            {}, {}, {}, {})


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    stub = Reads()
    monkeypatch.setattr(cache_module.experiment_state, "states", stub.states)
    monkeypatch.setattr(cache_module.experiment_state, "summaries", stub.summaries)
    monkeypatch.setattr(cache_module.experiment_state, "changed", stub.changed_since)
    return stub


def test_cache_loads_once_refreshes_changed_runs_and_reloads_on_a_new_generation(reads: Reads) -> None:
    reads.rows["e"] = [state_row(f"r{i}", "e") for i in range(10)]
    states = RunStates(100)
    first = states.states(None, ["e"], 1, {0: 10})  # type: ignore[arg-type]
    assert first is not None and len(first[0].rows) == 10 and reads.calls == ["states"]
    assert states.states(None, ["e"], 1, {0: 9}) == first  # type: ignore[arg-type]  # older position: current
    reads.rows["e"][3] = state_row("r3", "e", name="renamed")
    reads.changed = ["r3"]
    second = states.states(None, ["e"], 1, {0: 11})  # type: ignore[arg-type]
    assert second is not None and second[0].rows[3].name == "renamed" and second[0].positions == {0: 11}
    assert reads.calls == ["states", "changed", "states 1"] and states.stats.loads == 1
    states.states(None, ["e"], 2, {0: 11})  # type: ignore[arg-type]
    assert states.stats.loads == 2


def test_cache_bound_drops_the_least_recently_used_and_refuses_the_too_big(reads: Reads) -> None:
    reads.rows = {"a": [state_row(f"a{i}", "a") for i in range(4)], "b": [state_row(f"b{i}", "b") for i in range(4)],
                  "big": [state_row(f"c{i}", "big") for i in range(7)]}
    states = RunStates(6)
    assert states.states(None, ["a"], 1, {0: 1}) is not None  # type: ignore[arg-type]
    assert states.states(None, ["b"], 1, {0: 1}) is not None  # type: ignore[arg-type]
    assert states.runs == 4  # a dropped
    assert states.states(None, ["big"], 1, {0: 1}) is None  # type: ignore[arg-type]
    assert states.states(None, ["big"], 1, {0: 1}) is None  # type: ignore[arg-type]
    assert reads.calls.count("states") == 3, "a too-big experiment is not read again at the same generation"
    assert states.states(None, ["a", "b"], 1, {0: 1}) is None  # type: ignore[arg-type]  # 8 runs together


def test_run_rows_attach_summaries() -> None:
    built = run_rows([state_row("r1", "e")], [("r1", "loss", 1.0, 0.5, 2.0, 1.2, 3, 2), ("zz", "x", 1, 1, 1, 1, 1, 1)])
    assert built[0].metrics == {"loss": (1.0, 0.5, 2.0, 1.2, 3, 2)}


def test_concurrent_first_questions_load_once(reads: Reads) -> None:
    import threading

    reads.rows["e"] = [state_row(f"r{i}", "e") for i in range(50)]
    states = RunStates(100)
    found: list[Any] = []

    def ask() -> None:
        found.append(states.states(None, ["e"], 1, {0: 1}))  # type: ignore[arg-type]

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reads.calls.count("states") == 1 and len(found) == 8
    assert all(f is not None and f[0] is found[0][0] for f in found)


def test_in_the_background_a_search_never_waits_for_a_load(reads: Reads) -> None:
    from concurrent.futures import ThreadPoolExecutor

    reads.rows["e"] = [state_row(f"r{i}", "e") for i in range(5)]
    with ThreadPoolExecutor(1) as pool:
        states = RunStates(100, background=pool)
        assert states.states(None, ["e"], 1, {0: 1}) is None  # type: ignore[arg-type]  # handed over
        pool.submit(lambda: None).result()  # the load ran before this
        held = states.states(None, ["e"], 1, {0: 1})  # type: ignore[arg-type]
        assert held is not None and len(held[0].rows) == 5
        reads.changed = ["r1"]
        assert states.states(None, ["e"], 1, {0: 2}) is None  # type: ignore[arg-type]  # stale: refreshed there
        pool.submit(lambda: None).result()
        assert states.states(None, ["e"], 1, {0: 2}) is not None  # type: ignore[arg-type]
        assert states.stats.loads == 1 and states.stats.refreshes == 1


@pytest.mark.parametrize("order", [[], ["metrics.loss DESC"], ["params.opt ASC", "attributes.start_time DESC"]])
@pytest.mark.parametrize("text", [None, "params.opt = 'adam'", "params.lr IS NOT NULL", "metrics.loss != 1"])
def test_walking_every_runs_order_equals_sorting_the_matches(text: str | None, order: list[str]) -> None:
    many = state(*(row(f"{i:03d}", params={"opt": ["adam", "sgd"][i % 2], **({"lr": str(i)} if i % 3 else {})},
                       metrics={"loss": (float(i % 4), 0, 0, 0, 1, 0)} if i % 5 else {}, start_ms=i % 7)
                   for i in range(64)))
    rows = evaluate.Rows([many])
    found = evaluate.matching(parse_filter(text), rows, list(range(64)))
    expected = [many.rows[i].run_id for i in evaluate.ordered(parse_order_by(order), rows, found)]
    for offset, limit in ((0, 100), (3, 5)):
        assert search(many, text, order, offset=offset, limit=limit) == expected[offset:offset + limit]
