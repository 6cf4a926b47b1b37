"""Compile a search AST to ClickHouse SQL in which every user value is a bound parameter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from query_api.filters.ast import Comparison, Identifier, Logical, Node, OrderKey
from query_api.queries import run_state

ATTRIBUTE_SQL = {
    "status": "r.status", "run_name": "r.name", "run_id": "r.run_id", "user": "r.user",
    "experiment_id": "r.experiment_id",
    "start_time": "toUnixTimestamp64Milli(r.start_time)", "end_time": "toUnixTimestamp64Milli(r.end_time)",
}
METRIC_AGGREGATES = {
    "last": "tupleElement(max(last_point), 5)",  # argMax's last value, without its states (migration 0022)
    "min": "min(min_value)",
    "max": "max(max_value)",
    "avg": "sum(sum_value) / sum(value_count)",
    "count": "toFloat64(sum(point_count))",
}
LATEST = "argMax(value, (event_time, seq))"
TAG_LIVE = "argMax(deleted, (event_time, seq)) = 0"


class Entry(NamedTuple):
    """How a query reads a metric, param or tag of the run r."""

    present: str  # true when the run has it
    value: str  # its value (meaningful only when present)
    sorted_by: str  # its value, NULL when absent


@dataclass
class Binder:
    """Collects bound parameters, and one LEFT JOIN per metric/param/tag the query mentions (with `state`, the
    alias r is run_state's row, whose params and tags maps serve params and tags without a join)."""

    experiments: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    joins: dict[Identifier, str] = field(default_factory=dict)
    join_sql: list[str] = field(default_factory=list)
    state: bool = False
    entries: dict[Identifier, Entry] = field(default_factory=dict)

    def bind(self, value: Any, type_: str) -> str:
        name = f"p{len(self.parameters)}"
        self.parameters[name] = value
        return f"{{{name}:{type_}}}"

    def join(self, ident: Identifier) -> str:
        """The alias whose columns v (the value) and present (NULL when the run lacks the key) serve ident."""
        alias = self.joins.get(ident)
        if alias is None:
            alias = self.joins[ident] = f"j{len(self.joins)}"
            self.join_sql.append(f"LEFT JOIN ({per_run_values(ident, self)}) AS {alias} ON {alias}.run_id = r.run_id")
        return alias

    def entry(self, ident: Identifier) -> Entry:
        """The SQL reading ident: a lookup in run_state's maps (params and tags, with `state`), else a join."""
        found = self.entries.get(ident)
        if found is None:
            if self.state and ident.entity in ("param", "tag"):
                column = f"r.{ident.entity}s[{self.bind(ident.key, 'String')}]"
                if ident.entity == "param":
                    present, value = f"{column} != ''", run_state.param_value(column)
                else:
                    present, value = run_state.tag_live(column), run_state.tag_value(column)
                found = Entry(present, value, f"if({present}, {value}, NULL)")
            else:
                alias = self.join(ident)
                found = Entry(f"{alias}.present IS NOT NULL", f"{alias}.v", f"{alias}.v")
            self.entries[ident] = found
        return found


def per_run_values(ident: Identifier, b: Binder) -> str:
    """A subquery yielding run_id, v and present for a metric, param or tag of every run in scope."""
    key = b.bind(ident.key, "String")
    if ident.entity == "metric":
        return (f"SELECT run_id, {METRIC_AGGREGATES[ident.aggregate]} AS v, 1 AS present FROM run_metric_summary "
                f"WHERE experiment_id IN {b.experiments} AND key = {key} GROUP BY run_id")
    table = "params" if ident.entity == "param" else "tags"
    guard = f" HAVING {TAG_LIVE}" if table == "tags" else ""
    return (f"SELECT run_id, {LATEST} AS v, 1 AS present FROM {table} "
            f"WHERE experiment_id IN {b.experiments} AND key = {key} GROUP BY run_id{guard}")


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
    present, value, _ = b.entry(ident)
    if c.op == "IS NULL":
        return f"NOT ({present})"
    if c.op == "IS NOT NULL":
        return present
    # A run without the key never matches (NULL compares to nothing), as in MLflow.
    return f"({present} AND {_predicate(value, c, b, numeric=ident.entity == 'metric')})"


def compile_filter(node: Node | None, b: Binder) -> str:
    """A boolean SQL expression over the alias r (runs_current) and the joins it asks b for; '1' for none."""
    if node is None:
        return "1"
    if isinstance(node, Comparison):
        return _comparison(node, b)
    assert isinstance(node, Logical)
    return "(" + f" {node.op} ".join(compile_filter(item, b) for item in node.items) + ")"


def compile_order(keys: list[OrderKey], b: Binder) -> str:
    """The ORDER BY terms: missing values last, ties broken by run_id so pages are stable."""
    terms: list[str] = []
    for key in keys:
        ident = key.identifier
        expr = ATTRIBUTE_SQL[ident.key] if ident.entity == "attribute" else b.entry(ident).sorted_by
        terms.append(f"{expr} {'DESC' if key.descending else 'ASC'} NULLS LAST")
    if not keys:
        terms.append("r.start_time DESC NULLS LAST")
    terms.append("r.run_id ASC")
    return ", ".join(terms)
