"""The search language end to end: every identifier kind and operator, order_by, paging, hostile input."""

from __future__ import annotations

import math
import random

import pytest

from schemas import RunDeleted
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration
NAN = math.nan
EXPERIMENT = "search-it"


@pytest.fixture(scope="module")
def runs(stack: Stack) -> dict[str, str]:
    """Five runs with known params, tags and series; name -> run_id."""
    tracker = stack.tracker()
    specs = {
        "r0": ({"lr": 0.1, "opt": "adam"}, {"family": "transformer"}, {"loss": [3, 2, 1], "acc": [0.5, NAN]}, None),
        "r1": ({"lr": 0.01, "opt": "sgd"}, {"family": "lstm"}, {"loss": [5, 0.5, 4]}, RuntimeError),
        "r2": ({"lr": 0.001, "opt": "adam"}, {"family": "transformer", "team": "vision a"}, {"loss": [NAN, NAN]}, None),
        "r3": ({"opt": "SGD"}, {}, {"loss": [2]}, None),
        "r4": ({"model.depth": 12}, {"a b": "x y"}, {"acc": [0.9]}, None),
    }
    ids = {}
    for name, (params, tags, series, error) in specs.items():
        try:
            with tracker.start_run(EXPERIMENT, name, params=params, tags=tags) as run:
                for key, values in series.items():
                    for step, value in enumerate(values):
                        run.log_metric(key, value, step=step)
                if error:
                    raise error("boom")
        except RuntimeError:
            pass
        ids[name] = run.run_id
    with tracker.start_run(EXPERIMENT, "gone", params={"opt": "adam"}) as gone:
        gone._publish(RunDeleted("test"))
    ids["gone"] = gone.run_id
    assert tracker.flush(30) == 0
    tracker.close()
    stack.wait_projected()
    return ids


def search(stack: Stack, **body: object) -> dict:
    response = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENT], **body})
    assert response.status_code == 200, response.text
    return response.json()


def names(stack: Stack, filter: str, **body: object) -> set[str]:
    return {r["name"] for r in search(stack, filter=filter, **body)["runs"]}


@pytest.mark.parametrize(("filter", "expected"), [
    ("metrics.loss < 3", {"r0", "r3"}),                       # last value by step: r1 ends at 4
    ("metrics.loss >= 4", {"r1"}),
    ("metrics.loss = 1", {"r0"}),
    ("metrics.loss != 1", {"r1", "r2", "r3"}),                 # NaN != 1 holds; runs without loss do not match
    ("metrics.loss <= 2", {"r0", "r3"}),
    ("metrics.acc > 0.6", {"r4"}),                             # r0's last acc is NaN
    ("min(metrics.loss) < 1", {"r1"}),
    ("max(metrics.loss) > 4", {"r1"}),
    ("avg(metrics.loss) = 2", {"r0", "r3"}),
    ("count(metrics.loss) = 2", {"r2"}),                       # NaN points count
    ("count(metrics.acc) >= 1", {"r0", "r4"}),
    ("max(metrics.acc) = 0.5", {"r0"}),                        # NaN ignored by max
    ("params.opt = 'adam'", {"r0", "r2"}),
    ("params.opt != 'adam'", {"r1", "r3"}),
    ("params.opt LIKE 's%'", {"r1"}),
    ("params.opt ILIKE 's%'", {"r1", "r3"}),
    ("params.opt IN ('sgd', 'SGD')", {"r1", "r3"}),
    ("params.opt NOT IN ('sgd')", {"r0", "r2", "r3"}),
    ("params.lr > 0.005", {"r0", "r1"}),                       # numbers compare numerically
    ("params.lr IS NULL", {"r3", "r4"}),
    ("params.lr IS NOT NULL", {"r0", "r1", "r2"}),
    ("params.`model.depth` = '12'", {"r4"}),
    ("params.model.depth = 12", {"r4"}),
    ("tags.family = 'transformer'", {"r0", "r2"}),
    ("tags.team LIKE 'vision%'", {"r2"}),
    ('tags."a b" = "x y"', {"r4"}),
    ("tags.family IS NULL", {"r3", "r4"}),
    ("attributes.status = 'FAILED'", {"r1"}),
    ("attributes.status != 'FAILED'", {"r0", "r2", "r3", "r4"}),
    ("attributes.run_name IN ('r0', 'r4')", {"r0", "r4"}),
    ("attributes.run_name LIKE 'r%' AND attributes.user != 'nobody'", {"r0", "r1", "r2", "r3", "r4"}),
    ("attributes.start_time > 0 AND attributes.end_time > 0", {"r0", "r1", "r2", "r3", "r4"}),
    ("tags.family = 'lstm' OR params.opt = 'SGD'", {"r1", "r3"}),
    ("(tags.family = 'transformer' OR tags.family = 'lstm') AND metrics.loss < 3.5", {"r0"}),
    ("params.opt = 'adam' and not_a_clause", None),
])
def test_filter(stack: Stack, runs: dict[str, str], filter: str, expected: set[str] | None) -> None:
    if expected is None:
        response = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENT], "filter": filter})
        assert response.status_code == 400
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        return
    assert names(stack, filter) == expected


def test_run_id_and_experiment_attributes(stack: Stack, runs: dict[str, str]) -> None:
    assert names(stack, f"attributes.run_id = '{runs['r2']}'") == {"r2"}
    found = search(stack, filter="attributes.run_name = 'r0'")["runs"][0]
    experiment_id = found["experiment_id"]
    assert found["experiment_name"] == EXPERIMENT and found["name"] == "r0" and found["status"] == "FINISHED"
    assert len(names(stack, f"attributes.experiment_id = '{experiment_id}'")) == 5


def test_run_view(stack: Stack, runs: dict[str, str]) -> None:
    assert "gone" not in names(stack, "")
    assert names(stack, "", run_view="deleted") == {"gone"}
    assert names(stack, "params.opt = 'adam'", run_view="all") == {"r0", "r2", "gone"}


def test_order_by_with_missing_keys_last(stack: Stack, runs: dict[str, str]) -> None:
    ordered = [r["name"] for r in search(stack, order_by=["metrics.loss ASC"])["runs"]]
    assert ordered[:3] == ["r0", "r3", "r1"] and set(ordered[3:]) == {"r2", "r4"}
    assert ordered[-1] == "r4", "a run without the metric sorts last"
    ordered = [r["name"] for r in search(stack, order_by=["metrics.loss DESC"])["runs"]]
    assert ordered[-1] == "r4" and ordered.index("r1") < ordered.index("r3") < ordered.index("r0")
    ordered = [r["name"] for r in search(stack, order_by=["min(metrics.loss) ASC", "attributes.run_name DESC"])["runs"]]
    assert ordered[:3] == ["r1", "r0", "r3"]
    assert ordered[-2:] == ["r4", "r2"] or set(ordered[-2:]) == {"r2", "r4"}
    ordered = [r["name"] for r in search(stack, order_by=["params.opt ASC", "attributes.run_name ASC"])["runs"]]
    assert ordered == ["r3", "r0", "r2", "r1", "r4"]  # strings: 'SGD' < 'adam' < 'sgd'; r4 has none
    assert [r["name"] for r in search(stack, order_by=["attributes.run_name DESC"])["runs"]] == [
        "r4", "r3", "r2", "r1", "r0"]


def test_paging_is_stable_while_runs_arrive(stack: Stack, runs: dict[str, str]) -> None:
    first = search(stack, order_by=["attributes.run_name ASC"], max_results=2)
    assert [r["name"] for r in first["runs"]] == ["r0", "r1"] and first["next_page_token"]
    tracker = stack.tracker()
    with tracker.start_run(EXPERIMENT, "a-newcomer"):  # would sort first, and shift every later page
        pass
    tracker.close()
    stack.wait_projected()
    second = search(stack, order_by=["attributes.run_name ASC"], max_results=2, page_token=first["next_page_token"])
    third = search(stack, order_by=["attributes.run_name ASC"], max_results=2, page_token=second["next_page_token"])
    assert [r["name"] for r in second["runs"]] == ["r2", "r3"]
    assert [r["name"] for r in third["runs"]] == ["r4"] and third["next_page_token"] is None
    fresh = search(stack, order_by=["attributes.run_name ASC"], max_results=1)
    assert fresh["runs"][0]["name"] == "a-newcomer"
    response = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENT], "max_results": 2,
                                                           "page_token": first["next_page_token"]})
    assert response.status_code == 400, "a token of another query (order_by differs) is refused"
    response = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENT], "page_token": "x!"})
    assert response.status_code == 400


@pytest.mark.parametrize(("filter", "token"), [
    ("metrics.loss <", "ends too early"),
    ("metrics.loss < 'a'", "number"),
    ("params.x = 1; DROP TABLE runs", "';'"),
    ("bogus.x = 1", "bogus.x"),
    ("attributes.colour = 'red'", "colour"),
    ("metrics.loss < 1 AND AND params.a = 'b'", "AND"),
])
def test_bad_filters_name_the_offending_token(stack: Stack, runs: dict[str, str], filter: str, token: str) -> None:
    response = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENT], "filter": filter})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE" and token in body["message"], body


def test_bad_order_by_is_400(stack: Stack, runs: dict[str, str]) -> None:
    for order_by in (["metrics.loss UP"], ["loss"], ["count(params.x)"], ["metrics.a; DROP TABLE x"]):
        response = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENT], "order_by": order_by})
        assert response.status_code == 400, order_by


HOSTILE = [
    "params.opt = 'adam'' OR 1=1 --'", "params.opt = 'x' UNION SELECT * FROM system.tables", "params.opt = 'a';",
    "params.`opt` = '`; DROP TABLE runs; --'", "tags.x = '\\' OR 1=1'", "metrics.loss < 1e308", "metrics.loss < 1e309",
    "metrics.loss < 99999999999999999999999999999999", "/* comment */ metrics.loss < 1", "metrics.loss < 1 -- x",
    "(" * 200 + "metrics.loss < 1" + ")" * 200, "(" * 40 + "metrics.loss < 1" + ")" * 40, "params.opt IN ()",
    "params.opt = \"'\"", "params.`a``b` = 'c'", "tags.`` = 'x'", "\x00", "params.opt = '\u2028'",
    "metrics.`loss` < -0",
    "count(metrics.loss) IS NULL", "params.opt LIKE '%' ESCAPE '\\'", "attributes.start_time > '2020-01-01'",
]


def test_hostile_filters_get_400_or_a_correct_answer(stack: Stack, runs: dict[str, str]) -> None:
    rng = random.Random(1234)
    alphabet = list("()'\"`;,.=<>!%_ -*/\\") + ["AND", "OR", "IN", "NOT", "IS", "NULL", "LIKE", "metrics.loss",
                                                 "params.opt", "tags.family", "1", "'adam'", "min(", "UNION", "--"]
    fuzz = [" ".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(150)]
    for text in HOSTILE + fuzz:
        response = stack.api.post("/api/v1/runs/search", json={"experiment_names": [EXPERIMENT], "filter": text})
        assert response.status_code in (200, 400), (text, response.status_code, response.text)
    assert names(stack, "params.opt = 'adam\\' OR 1=1 --'") == set(), "the escaped quote stays inside the string"
    assert names(stack, "params.opt = \"adam' OR '1'='1\"") == set()
    assert len(names(stack, "")) >= 5, "nothing was dropped"
    deep = "(" * 40 + "metrics.loss < 1.5" + ")" * 40
    assert names(stack, deep) == {"r0"}


def test_a_deleted_runs_history_needs_include_deleted(stack: Stack, runs: dict[str, str]) -> None:
    path = f"/api/v1/runs/{runs['gone']}/history"
    response = stack.api.get(path)
    assert response.status_code == 404 and "include_deleted" in response.json()["message"]
    events = stack.api.get(path, params={"include_deleted": "true"}).json()["events"]
    assert [e["type"] for e in events][-2:] == ["RunDeleted", "RunStatusChanged"]
