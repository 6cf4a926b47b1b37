"""Compile a search AST to ClickHouse SQL in which every user value is a bound parameter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from query_api.search.ast import Comparison, Identifier, Logical, Node, OrderKey

ATTRIBUTE_SQL = {
    "status": "r.status", "run_name": "r.name", "run_id": "r.run_id", "user": "r.user",
    "experiment_id": "r.experiment_id",
    "start_time": "toUnixTimestamp64Milli(r.start_time)", "end_time": "toUnixTimestamp64Milli(r.end_time)",
}
METRIC_AGGREGATES = {
    "last": "argMaxMerge(last_value)",
    "min": "min(min_value)",
    "max": "max(max_value)",
    "avg": "sum(sum_value) / sum(value_count)",
    "count": "toFloat64(sum(point_count))",
}
LATEST = "argMax(value, (event_time, seq))"
TAG_LIVE = "argMax(deleted, (event_time, seq)) = 0"


@dataclass
class Binder:
    """Collects bound parameters; returns the {name:Type} placeholder for each value."""

    experiments: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any, type_: str) -> str:
        name = f"p{len(self.parameters)}"
        self.parameters[name] = value
        return f"{{{name}:{type_}}}"


def per_run_values(ident: Identifier, b: Binder) -> tuple[str, str]:
    """(subquery yielding run_id and v, HAVING guard) for a metric, param or tag of every run in scope."""
    key = b.bind(ident.key, "String")
    if ident.entity == "metric":
        return (f"SELECT run_id, {METRIC_AGGREGATES[ident.aggregate]} AS v FROM run_metric_summary "
                f"WHERE experiment_id IN {b.experiments} AND key = {key} GROUP BY run_id"), ""
    table = "params" if ident.entity == "param" else "tags"
    guard = f" HAVING {TAG_LIVE}" if table == "tags" else ""
    return (f"SELECT run_id, {LATEST} AS v FROM {table} "
            f"WHERE experiment_id IN {b.experiments} AND key = {key} GROUP BY run_id{guard}"), guard


def _predicate(expr: str, c: Comparison, b: Binder, *, numeric: bool) -> str:
    op, value = c.op, c.value
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        return f"{expr} {op} {b.bind([str(v) for v in value], 'Array(String)')}"
    if op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"):
        return f"{expr} {op} {b.bind(value, 'String')}"
    if isinstance(value, float):
        target = expr if numeric else f"toFloat64OrNull({expr})"
        return f"{target} {op} {b.bind(value, 'Float64')}"
    return f"{expr} {op} {b.bind(value, 'String')}"


def _comparison(c: Comparison, b: Binder) -> str:
    ident = c.identifier
    if ident.entity == "attribute":
        return _predicate(ATTRIBUTE_SQL[ident.key], c, b, numeric=ident.key.endswith("_time"))
    subquery, _ = per_run_values(ident, b)
    if c.op == "IS NULL":
        return f"r.run_id NOT IN (SELECT run_id FROM ({subquery}))"
    if c.op == "IS NOT NULL":
        return f"r.run_id IN (SELECT run_id FROM ({subquery}))"
    condition = _predicate("v", c, b, numeric=ident.entity == "metric")
    return f"r.run_id IN (SELECT run_id FROM ({subquery}) WHERE {condition})"


def compile_filter(node: Node | None, b: Binder) -> str:
    """A boolean SQL expression over the alias r (runs_current); '1' for no filter."""
    if node is None:
        return "1"
    if isinstance(node, Comparison):
        return _comparison(node, b)
    assert isinstance(node, Logical)
    return "(" + f" {node.op} ".join(compile_filter(item, b) for item in node.items) + ")"


@dataclass
class Ordering:
    joins: list[str]
    order_by: str


def compile_order(keys: list[OrderKey], b: Binder) -> Ordering:
    """LEFT JOINs for per-run values and the ORDER BY: missing values last, ties by run_id."""
    joins: list[str] = []
    terms: list[str] = []
    for i, key in enumerate(keys):
        ident = key.identifier
        direction = "DESC" if key.descending else "ASC"
        if ident.entity == "attribute":
            expr = ATTRIBUTE_SQL[ident.key]
        else:
            subquery, _ = per_run_values(ident, b)
            joins.append(f"LEFT JOIN ({subquery}) AS o{i} ON o{i}.run_id = r.run_id")
            expr = f"o{i}.v"
        terms.append(f"{expr} {direction} NULLS LAST")
    if not keys:
        terms.append("r.start_time DESC NULLS LAST")
    terms.append("r.run_id ASC")
    return Ordering(joins, ", ".join(terms))
