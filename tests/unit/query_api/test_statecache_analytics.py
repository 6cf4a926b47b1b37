"""Leaderboards and parallel coordinates over the in-memory run state (pure), and the cache keeping the summaries
of runs without a state row (which the SQL leaderboard ranks) through loads and refreshes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from query_api.queries.analytics import parallel_answer
from query_api.statecache import analytics as held
from query_api.statecache import cache as cache_module
from query_api.statecache.cache import RunStates
from query_api.statecache.state import ExperimentState
from tests.unit.query_api.test_statecache import Reads, row, state_row

NAN, INF = math.nan, math.inf


def loss(last: float | None, vmin: float | None = None, vmax: float | None = None) -> dict[str, tuple[Any, ...]]:
    return {"loss": (last, last if vmin is None else vmin, last if vmax is None else vmax, last, 1, 0)}


def ranked(state: ExperimentState, descending: bool = False, k: int = 100, agg: str = "last") -> list[Any]:
    return [(e["rank"], e["run_id"], e["value"]) for e in held.leaderboard(state, "loss", agg, descending, k)]


STATE = ExperimentState(1, {0: 1}, tuple(sorted([
    row("a", metrics=loss(1.0)), row("b", metrics=loss(-0.0)), row("c", metrics=loss(0.0)),
    row("d", metrics=loss(NAN)), row("e", metrics=loss(None)), row("f"), row("g", metrics=loss(INF)),
    row("h", metrics=loss(-INF)), row("i", metrics=loss(-9.0), deleted=1), row("j", metrics=loss(1.0)),
])), {"z": loss(0.5), "y": loss(NAN)})


def test_nan_null_missing_and_deleted_never_rank_ties_break_by_run_id() -> None:
    assert ranked(STATE) == [(1, "h", -INF), (2, "b", -0.0), (3, "c", 0.0), (5, "a", 1.0), (6, "j", 1.0),
                             (7, "g", INF)]
    assert ranked(STATE, descending=True) == [(1, "g", INF), (2, "a", 1.0), (3, "j", 1.0), (5, "b", -0.0),
                                              (6, "c", 0.0), (7, "h", -INF)]


def test_an_unheld_run_takes_its_place_and_rank_but_shows_no_card() -> None:
    assert ranked(STATE, k=4) == [(1, "h", -INF), (2, "b", -0.0), (3, "c", 0.0)]  # "z" (0.5) was 4th
    assert ranked(STATE, k=1) == [(1, "h", -INF)]


def test_aggregates_pick_their_summary_value_and_cards_carry_sorted_params() -> None:
    s = ExperimentState(1, {0: 1}, (row("a", metrics=loss(5.0, 1.0, 9.0), params={"z": "1", "b": "x"}, name="n"),
                                    row("b", metrics=loss(4.0, 2.0, 8.0))))
    assert ranked(s, agg="min") == [(1, "a", 1.0), (2, "b", 2.0)]
    assert ranked(s, agg="max", descending=True) == [(1, "a", 9.0), (2, "b", 8.0)]
    assert ranked(s, agg="last") == [(1, "b", 4.0), (2, "a", 5.0)]
    card = held.leaderboard(s, "loss", "min", False, 1)[0]
    assert card == {"rank": 1, "run_id": "a", "name": "n", "status": "FINISHED", "value": 1.0,
                    "params": {"b": "x", "z": "1"}} and list(card["params"]) == ["b", "z"]


def test_parallel_every_live_run_with_the_chosen_params_in_map_order_typed_as_the_sql_path_types_them() -> None:
    s = ExperimentState(1, {0: 1}, (
        row("a", metrics=loss(1.0), params={"lr": "0.1", "opt": "adam", "x": "y", "n": "1_0"}),
        row("b", params={"lr": "abc", "n": "nan"}), row("c", deleted=1, params={"lr": "1", "n": "zzz", "gone": "1"}),
        row("d", metrics=loss(NAN), params={"opt": "sgd", "lr": "2"})))
    asked = ["opt", "lr", "n", "gone", "n"]
    answer = held.parallel(s, "e", asked, "loss", "last")
    runs = answer["runs"]
    assert [(r["run_id"], list(r["params"]), r["metric"]) for r in runs][:2] == [
        ("a", ["lr", "opt", "n"], 1.0), ("b", ["lr", "n"], None)]
    assert runs[0]["params"]["n"] == 10.0 and math.isnan(runs[1]["params"]["n"])  # the deleted run's "zzz" aside
    assert math.isnan(runs[2]["metric"]) and list(runs[2]["params"]) == ["opt", "lr"]
    texts = [{"run_id": r.run_id, "name": r.name, "params": {k: v for k, v in r.params.items() if k in asked},
              "metric": r.metrics["loss"][0] if "loss" in r.metrics else None} for r in s.rows if not r.deleted]
    expected = parallel_answer("e", asked, "loss", "last", texts)
    assert repr(answer) == repr(expected)  # NaN != NaN: compared as text
    assert [d["type"] for d in answer["dimensions"]] == ["categorical", "categorical", "numeric", "categorical",
                                                         "numeric"]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    stub = Reads()
    stub.summary_rows: list[tuple[Any, ...]] = []  # type: ignore[misc]

    def summaries(client: Any, experiment_ids: list[str], run_ids: list[str] | None = None) -> list[Any]:
        return [r for r in stub.summary_rows if run_ids is None or r[0] in run_ids]  # type: ignore[attr-defined]

    monkeypatch.setattr(cache_module.experiment_state, "states", stub.states)
    monkeypatch.setattr(cache_module.experiment_state, "summaries", summaries)
    monkeypatch.setattr(cache_module.experiment_state, "changed", stub.changed_since)
    return stub


def test_unheld_summaries_are_loaded_and_kept_through_refreshes(reads: Reads) -> None:
    reads.rows["e"] = [state_row("r1", "e"), state_row("r2", "e")]
    rows: list[tuple[Any, ...]] = [("r1", "loss", 1.0, 1.0, 1.0, 1.0, 1, 0), ("o1", "loss", 0.5, 0.5, 0.5, 0.5, 1, 0),
                                   ("o2", "loss", 0.7, 0.7, 0.7, 0.7, 1, 0)]
    reads.summary_rows = rows  # type: ignore[attr-defined]
    states = RunStates(100)
    first = states.state_at(None, "e", (1, ((0, 10),)))  # type: ignore[arg-type]
    assert first is not None and set(first.unheld) == {"o1", "o2"} and len(first.rows) == 2
    assert states.state_at(None, "e", None) is None  # type: ignore[arg-type]  # no data version: SQL
    reads.rows["e"].append(state_row("o1", "e"))  # o1 named at last; o2 gets a new point
    rows[2] = ("o2", "loss", 0.1, 0.1, 0.7, 0.4, 2, 1)
    reads.changed = ["o1", "o2"]
    second = states.state_at(None, "e", (1, ((0, 11),)))  # type: ignore[arg-type]
    assert second is not None and states.stats.loads == 1 and states.stats.refreshes == 1
    assert set(second.unheld) == {"o2"} and second.unheld["o2"]["loss"][0] == 0.1
    assert [r.run_id for r in second.rows] == ["o1", "r1", "r2"]
    reads.changed = []
    third = states.state_at(None, "e", (1, ((0, 12),)))  # type: ignore[arg-type]
    assert third is not None and third.unheld == second.unheld
