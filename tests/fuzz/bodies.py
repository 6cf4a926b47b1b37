"""Generated request bodies for what the OpenAPI schema cannot describe: the MLflow routes (their bodies are free
JSON, as MLflow's protobuf JSON is) and analyst SQL (text whose shape matters). Every answer must be below 500,
JSON, and free of a canary: a file's contents and a value only the server's environment holds."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MB = 1 << 20
BIG = st.sampled_from(["x" * 300, "y" * MB, "9" * 400, "é" * 1000])
NUMBERS = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from([2**63 - 1, 2**63, -1, 0]) | st.floats()
SCALARS = st.none() | st.booleans() | NUMBERS | st.text(max_size=40) | BIG
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)

# route -> the fields MLflow's client sends there (each may be missing, well-formed, or anything at all)
ROUTES: dict[str, tuple[str, ...]] = {
    "experiments/create": ("name", "artifact_location", "tags"),
    "experiments/search": ("max_results", "filter", "order_by", "page_token", "view_type"),
    "experiments/update": ("experiment_id", "new_name"),
    "experiments/delete": ("experiment_id",),
    "experiments/restore": ("experiment_id",),
    "experiments/set-experiment-tag": ("experiment_id", "key", "value"),
    "experiments/delete-experiment-tag": ("experiment_id", "key"),
    "runs/create": ("experiment_id", "user_id", "start_time", "tags", "run_name"),
    "runs/update": ("run_id", "status", "end_time", "run_name"),
    "runs/delete": ("run_id",),
    "runs/restore": ("run_id",),
    "runs/log-metric": ("run_id", "key", "value", "timestamp", "step"),
    "runs/log-parameter": ("run_id", "key", "value"),
    "runs/log-batch": ("run_id", "metrics", "params", "tags"),
    "runs/set-tag": ("run_id", "key", "value"),
    "runs/delete-tag": ("run_id", "key"),
    "runs/log-inputs": ("run_id", "datasets"),
    "runs/search": ("experiment_ids", "filter", "run_view_type", "max_results", "order_by", "page_token"),
    "logged-models/search": ("experiment_ids", "filter", "max_results", "page_token"),
}


@dataclass
class Target:
    base_url: str
    run_id: str
    experiment_id: str
    canaries: tuple[str, ...]
    canary_file: str
    failures: list[str] = field(default_factory=list)
    requests: int = 0

    def call(self, method: str, path: str, body: Any) -> None:
        data = json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data, {"Content-Type": "application/json"},
                                         method=method)
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        where = f"{method} {path} {json.dumps(body)[:300]}"
        if status >= 500:
            self.failures.append(f"{status} for {where}: {text[:300]}")
        if any(canary in text for canary in self.canaries):
            self.failures.append(f"a canary leaked from {where}")
        try:
            json.loads(text)
        except ValueError:
            self.failures.append(f"not JSON ({status}) for {where}: {text[:200]}")


def plausible(target: Target, name: str) -> st.SearchStrategy[Any]:
    """Values that get past the first checks, so the deeper ones are reached too."""
    known = {"run_id": st.just(target.run_id), "experiment_id": st.just(target.experiment_id),
             "experiment_ids": st.just([target.experiment_id]), "key": st.sampled_from(["loss", "a/b", "k" * 251]),
             "metrics": st.lists(st.fixed_dictionaries({"key": st.just("loss"), "value": NUMBERS | SCALARS,
                                                         "timestamp": NUMBERS, "step": NUMBERS}), max_size=3),
             "tags": st.lists(st.fixed_dictionaries({"key": st.text(max_size=5) | BIG, "value": SCALARS}), max_size=3),
             "datasets": st.lists(st.fixed_dictionaries({"dataset": st.fixed_dictionaries(
                 {"name": st.just("d"), "digest": st.just("1"), "schema": SCALARS, "source": SCALARS})}), max_size=2)}
    return known.get(name, SCALARS)


def fuzz_mlflow(target: Target, max_examples: int) -> None:
    for route, fields in ROUTES.items():
        _fuzz_route(target, route, fields, max_examples)


def _fuzz_route(target: Target, route: str, fields: tuple[str, ...], max_examples: int) -> None:
    body = st.fixed_dictionaries({}, optional={f: plausible(target, f) | JSON for f in fields})

    @settings(max_examples=max_examples, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(body=body)
    def one(body: dict[str, Any]) -> None:
        target.call("POST", f"/api/2.0/mlflow/{route}", body)

    one()


def sql_expressions(canary_file: str) -> st.SearchStrategy[str]:
    reach = st.sampled_from([f"file('{canary_file}')", "file('/proc/self/environ')", "getServerSetting('path')",
                             "hostName()", "currentDatabase()", "toString(x)"])
    atoms = st.sampled_from(["1", "x", "'a'", "nan", "[1, 2]", "(1, 'b')", "NULL"]) | reach
    return st.recursive(atoms, lambda e: st.builds("({} + {})".format, e, e)
                        | st.builds("arrayMap(y -> {}, [1])".format, e)
                        | st.builds("if({}, {}, 0)".format, e, e)
                        | st.builds("[{}]".format, e)
                        | st.builds("(SELECT {})".format, e)
                        | st.builds("toString({})".format, e), max_leaves=6)


def sql_statements(canary_file: str) -> st.SearchStrategy[str]:
    e = sql_expressions(canary_file)
    one_x = "FROM (SELECT 1 AS x)"
    return st.one_of(
        st.builds(f"SELECT {{}} AS v {one_x}".format, e),
        st.builds(f"SELECT * APPLY(x -> {{}}) {one_x}".format, e),
        st.builds(f"SELECT * REPLACE({{}} AS x) {one_x}".format, e),
        st.builds(f"SELECT COLUMNS('x') APPLY(x -> {{}}) {one_x}".format, e),
        st.builds(f"SELECT t.* APPLY(x -> {{}}) {one_x} AS t".format, e),
        st.builds(f"WITH ({{}}) AS w SELECT w, x {one_x}".format, e),
        st.builds("SELECT count() FROM runs_current WHERE run_id = toString({})".format, e),
        st.builds(f"SELECT x {one_x} UNION ALL SELECT {{}}".format, e),
        st.builds(lambda n, inner: "SELECT " + "(" * n + inner + ")" * n, st.integers(1, 600), e),
        st.builds(lambda n: "SELECT " + "abs(" * n + "1" + ")" * n, st.integers(1, 600)),
        st.text(max_size=80),
    )


def fuzz_sql(target: Target, max_examples: int) -> None:
    @settings(max_examples=max_examples, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(query=sql_statements(target.canary_file))
    def one(query: str) -> None:
        target.call("POST", "/api/v1/sql", {"query": query})

    one()
