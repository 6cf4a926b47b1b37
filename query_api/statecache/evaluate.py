"""A run search evaluated over in-memory run state, answering exactly what query_api/queries/run_search.py's SQL
answers: the same filter semantics (queries/filters.py), the same order (NULLs last, NaN after every number and
before NULL, ties by run_id), the same view, snapshot and page. Pure: no I/O.

A filter feature it cannot answer exactly raises Unsupported before anything is evaluated, and the caller asks
the SQL path instead: LIKE patterns holding a backslash (ClickHouse's escapes there are its own)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

from query_api.filters.ast import Comparison, Identifier, Logical, Node, OrderKey
from query_api.statecache.state import ExperimentState, RunRow

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
ATTRIBUTES: dict[str, Callable[[RunRow], Any]] = {
    "status": operator.attrgetter("status"), "run_name": operator.attrgetter("name"),
    "run_id": operator.attrgetter("run_id"), "user": operator.attrgetter("user"),
    "experiment_id": operator.attrgetter("experiment_id"),
    "start_time": operator.attrgetter("start_ms"), "end_time": operator.attrgetter("end_ms"),
}
AGGREGATES = {"last": 0, "min": 1, "max": 2, "avg": 3, "count": 4}
MISSING = object()
"""A run without the key (as against one whose value is NULL)."""


class Unsupported(ValueError):
    """The request uses something this path does not answer exactly: ask the SQL path."""


class Rows:
    """The rows of one or more experiment states as one list sorted by run_id, with value columns by key."""

    def __init__(self, states: Sequence[ExperimentState]) -> None:
        self.states = states
        if len(states) == 1:
            self.rows: Sequence[RunRow] = states[0].rows
        else:
            self.rows = sorted((row for s in states for row in s.rows), key=operator.attrgetter("run_id"))

    def column(self, name: Any, build: Callable[[RunRow], Any]) -> list[Any]:
        if len(self.states) == 1:
            return self.states[0].column(name, build)
        return [build(row) for row in self.rows]

    def whole(self, name: Any, build: Callable[[Sequence[RunRow]], list[Any]]) -> list[Any]:
        """build(rows), built once per state (a list over all rows at once)."""
        if len(self.states) == 1:
            return self.states[0].whole(name, build)
        return build(self.rows)


def _value_column(rows: Rows, ident: Identifier, numeric: bool) -> list[Any]:
    """Per run: the value the SQL compares (None when NULL) or MISSING when the run lacks the key."""
    key = ident.key
    if ident.entity == "attribute":
        return rows.column(("attribute", key), ATTRIBUTES[key])
    if ident.entity == "metric":
        at = AGGREGATES[ident.aggregate]

        def metric(row: RunRow) -> Any:
            found = row.metrics.get(key)
            if found is None:
                return MISSING
            return float(found[4]) if at == 4 else found[at]
        return rows.column(("metric", key, at), metric)
    if ident.entity == "param":
        source = operator.attrgetter("params_num" if numeric else "params")
    else:
        source = operator.attrgetter("tags_num" if numeric else "tags")
    return rows.column((ident.entity, key, numeric), lambda row: source(row).get(key, MISSING))


def like_pattern(pattern: str, insensitive: bool) -> re.Pattern[str]:
    """ClickHouse's LIKE as a regular expression: % any text (newlines too), _ one character."""
    if "\\" in pattern:
        raise Unsupported("a LIKE pattern with a backslash")
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if insensitive else 0))


def _predicate(c: Comparison) -> Callable[[Any], bool]:
    """A test of a present, non-NULL value (the caller handles MISSING and None: neither ever matches)."""
    op, value = c.op, c.value
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        members = frozenset(str(v) for v in value)
        return members.__contains__ if op == "IN" else (lambda x: x not in members)
    if op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"):
        assert isinstance(value, str)
        match = like_pattern(value, "ILIKE" in op).fullmatch
        return (lambda x: match(x) is not None) if not op.startswith("NOT") else (lambda x: match(x) is None)
    compare = OPS[op]
    return lambda x: compare(x, value)


def _numeric(c: Comparison) -> bool:
    return c.op in OPS and isinstance(c.value, float)


def check(node: Node | None) -> None:
    """Raise Unsupported when any part of the filter cannot be answered exactly here."""
    if node is None:
        return
    if isinstance(node, Logical):
        for item in node.items:
            check(item)
        return
    if node.op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"):
        assert isinstance(node.value, str)
        like_pattern(node.value, False)
    if node.identifier.entity == "attribute" and node.op in ("IS NULL", "IS NOT NULL"):
        raise Unsupported("IS NULL on an attribute")


def matching(node: Node | None, rows: Rows, candidates: list[int]) -> list[int]:
    """The candidates (row indexes, ascending) for which the filter holds, ascending."""
    if node is None:
        return candidates
    if isinstance(node, Logical):
        if node.op == "AND":
            for item in node.items:
                candidates = matching(item, rows, candidates)
            return candidates
        found: set[int] = set()
        for item in node.items:
            found.update(matching(item, rows, candidates))
        return sorted(found)
    values = _value_column(rows, node.identifier, _numeric(node))
    if node.op == "IS NULL":
        return [i for i in candidates if values[i] is MISSING]
    if node.op == "IS NOT NULL":
        return [i for i in candidates if values[i] is not MISSING]
    if node.op == "=":  # MISSING and None equal no value: no guard needed
        value = node.value
        if len(candidates) == len(values):  # every run is a candidate: the value's runs, from an index
            return _equal_index(rows, node.identifier, _numeric(node), values).get(value, [])
        return [i for i in candidates if values[i] == value]
    if node.op == "IN":
        assert isinstance(node.value, tuple)
        members = frozenset(str(v) for v in node.value)
        return [i for i in candidates if (x := values[i]) is not MISSING and x in members]
    test = _predicate(node)
    return [i for i in candidates if (x := values[i]) is not None and x is not MISSING and test(x)]


def _equal_index(rows: Rows, ident: Identifier, numeric: bool, values: list[Any]) -> dict[Any, list[int]]:
    """Value -> the indexes (ascending) of the runs holding it, for one column; NULLs and NaN left out (they
    equal nothing)."""
    def build(_: Sequence[RunRow]) -> Any:
        index: dict[Any, list[int]] = {}
        for i, v in enumerate(values):
            if v is not None and v is not MISSING and v == v:
                index.setdefault(v, []).append(i)
        return index
    return rows.whole(("equal", ident, numeric), build)  # type: ignore[return-value]


def _sort_column(rows: Rows, ident: Identifier) -> list[Any]:
    values = _value_column(rows, ident, numeric=False)
    return values if ident.entity in ("attribute", "metric") else [
        None if v is MISSING else v for v in values]


def ordered(order: Sequence[OrderKey], rows: Rows, found: list[int]) -> list[int]:
    """The found rows in the SQL's order: each key with NULLs last (a NaN after every number, before NULLs),
    no key meaning start_time DESC, and run_id ascending to break ties (the rows' own order)."""
    keys: list[tuple[list[Any], bool]] = [(_sort_column(rows, k.identifier), k.descending) for k in order]
    if not order:
        keys = [(rows.column(("start_us",), operator.attrgetter("start_us")), True)]
    result = found
    for values, descending in reversed(keys):
        # v == v is false only for NaN; None and MISSING are the NULLs
        present = [i for i in result if (v := values[i]) is not None and v is not MISSING and v == v]
        if len(present) == len(result):
            nan: list[int] = []
            null: list[int] = []
        else:
            nan = [i for i in result if (v := values[i]) is not None and v is not MISSING and v != v]
            null = [i for i in result if (v := values[i]) is None or v is MISSING]
        present.sort(key=values.__getitem__, reverse=descending)  # stable, reversed or not
        result = present + nan + null
    return result


def in_view(rows: Sequence[RunRow], view: str, snapshot: dict[int, int]) -> list[int]:
    """Indexes of the rows in the view (active, deleted, all) that the snapshot holds."""
    deleted = {"active": (0,), "deleted": (1,), "all": (0, 1)}[view]
    return [i for i, row in enumerate(rows) if row.deleted in deleted
            and row.partition in snapshot and row.first_offset <= snapshot[row.partition]]


def search(states: Sequence[ExperimentState], node: Node | None, order: Sequence[OrderKey], *, view: str,
           snapshot: dict[int, int], offset: int, limit: int) -> list[RunRow]:
    """One page of runs: those in `view` projected by `snapshot` (first offset at or before its position in the
    run's partition) for which the filter holds, in order, `limit` from `offset`."""
    check(node)
    rows = Rows(states)
    candidates = rows.whole(("in view", view, tuple(sorted(snapshot.items()))),
                             lambda rows_: in_view(rows_, view, snapshot))
    found = matching(node, rows, candidates)
    wanted = offset + limit
    if len(found) * 8 < len(rows.rows):  # few matches: sort them
        page = ordered(order, rows, found)[offset:wanted]
    else:  # many: walk every run's order (sorted once per state and order) up to the page's end
        key = ("order", tuple((k.identifier, k.descending) for k in order))
        everyone = rows.whole(key, lambda all_: ordered(order, rows, list(range(len(all_)))))
        if len(found) == len(rows.rows):
            page = everyone[offset:wanted]
        else:
            chosen = bytearray(len(rows.rows))
            for i in found:
                chosen[i] = 1
            page = list(islice((i for i in everyone if chosen[i]), offset, wanted))
    return [rows.rows[i] for i in page]
