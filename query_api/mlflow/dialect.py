"""Search in MLflow's dialect: run filters through runstream's grammar (without OR, which MLflow lacks),
experiment filters over names, tags and times, view types, and MLflow's spelling of page tokens (base64 JSON
holding an "offset"; runstream's also pin the log snapshot and the query, so pages never shift)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from query_api.filters import Logical, parse_filter
from query_api.filters.ast import Node
from query_api.mlflow.protocol import MlflowError
from query_api.paging import PageToken
from query_api.queries.run_search import RunView

VIEW_TYPES: dict[str, RunView] = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all",
                                  "1": "active", "2": "deleted", "3": "all"}


def view_type(value: Any) -> RunView:
    if value is None or value == "":
        return "active"
    found = VIEW_TYPES.get(str(value).upper())
    if found is None:
        raise MlflowError(f"Invalid view type {value!r}: expected ACTIVE_ONLY, DELETED_ONLY or ALL")
    return found


def run_filter(text: str | None) -> Node | None:
    """The filter's AST; MLflow's grammar has no OR, so neither does this front door."""
    node = parse_filter(text)
    stack = [node] if node is not None else []
    while stack:
        item = stack.pop()
        if isinstance(item, Logical):
            if item.op == "OR":
                raise MlflowError(f"Invalid clause(s) in filter string: {text!r}: 'OR' is not supported "
                                  "by MLflow's search syntax (runstream's /api/v1/runs/search accepts it)")
            stack.extend(item.items)
    return node


# -- page tokens: the one codec (query_api.paging), in MLflow's spelling -------------------------------------
def decode_token(token: str | None, fingerprint: str) -> PageToken | None:
    """The token this server made for this query (None without one); BadPageToken in MLflow's words."""
    return PageToken.decode_mlflow(token, fingerprint) if token else None


def page_offset(token: str | None, fingerprint: str) -> int:
    """Where a page starts, for listings that need no snapshot (experiments, a metric's history)."""
    decoded = decode_token(token, fingerprint)
    return decoded.offset if decoded is not None else 0


def next_token(offset: int, fingerprint: str) -> str:
    return PageToken(offset, None, fingerprint).encode_mlflow()


# -- experiment filters -------------------------------------------------------------------------------------
_CLAUSE = re.compile(
    r"""\s*(?P<ident>(?:attributes?\.)?(?:name|creation_time|last_update_time|experiment_id)
                  |tags?\.(?:`[^`]+`|"[^"]+"|[\w.\-/: ]+?))
        \s*(?:(?P<null>\bIS\s+NOT\s+NULL\b|\bIS\s+NULL\b)
            |(?P<op>!=|<=|>=|=|<|>|\bNOT\s+ILIKE\b|\bNOT\s+LIKE\b|\bILIKE\b|\bLIKE\b)
             \s*(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[-+]?\d+(?:\.\d+)?))\s*""",
    re.IGNORECASE | re.VERBOSE)
_AND = re.compile(r"\s*\bAND\b\s*", re.IGNORECASE)
ExperimentPredicate = Callable[[dict[str, Any]], bool]


def _like(pattern: str, flags: int) -> re.Pattern[str]:
    parts = ["." if ch == "_" else ".*" if ch == "%" else re.escape(ch) for ch in pattern]
    return re.compile("^" + "".join(parts) + "$", flags | re.DOTALL)


def experiment_filter(text: str | None) -> ExperimentPredicate:
    """A predicate over experiment shapes for MLflow's experiment filter (clauses joined by AND)."""
    clauses: list[ExperimentPredicate] = []
    if text is not None and not isinstance(text, str):
        raise MlflowError(f"Invalid filter string {text!r}: expected a string")
    rest = (text or "").strip()
    while rest:
        match = _CLAUSE.match(rest)
        if match is None:
            raise MlflowError(f"Invalid filter string {text!r}: cannot parse {rest[:40]!r}")
        if match.group("null"):  # what MLflow's UI sends: tags.`mlflow.experiment.isGateway` IS NULL
            clauses.append(_null_clause(match.group("ident"), "NOT" not in match.group("null").upper()))
        else:
            clauses.append(_clause(match.group("ident"), match.group("op"), match.group("value")))
        rest = rest[match.end():]
        if rest:
            joined = _AND.match(rest)
            if joined is None:
                raise MlflowError(f"Invalid filter string {text!r}: expected AND before {rest[:40]!r}")
            rest = rest[joined.end():]
    return lambda exp: all(clause(exp) for clause in clauses)


def _null_clause(ident: str, is_null: bool) -> ExperimentPredicate:
    lowered = ident.lower().split(".", 1)
    if lowered[0] not in ("tag", "tags"):
        raise MlflowError(f"IS NULL applies to tags only, not {ident!r}")
    key = ident.split(".", 1)[1].strip("`\"")
    return lambda exp: all(t["key"] != key for t in exp.get("tags", [])) == is_null


def _clause(ident: str, op: str, raw: str) -> ExperimentPredicate:
    op = " ".join(op.upper().split())
    value: str | float = raw[1:-1] if raw[0] in "'\"" else float(raw)
    lowered = ident.lower().split(".", 1)
    if lowered[0] in ("tag", "tags"):
        key = ident.split(".", 1)[1].strip("`\"")

        def field(exp: dict[str, Any]) -> Any:
            return next((t["value"] for t in exp.get("tags", []) if t["key"] == key), None)
    else:
        name = lowered[-1]

        def field(exp: dict[str, Any]) -> Any:
            return exp.get(name)
    numeric = ident.lower().endswith("_time")
    if numeric and isinstance(value, str) or not numeric and not isinstance(value, str) and op not in ("=", "!="):
        raise MlflowError(f"Invalid comparison {ident} {op} {raw} in experiment filter")
    if op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"):
        pattern = _like(str(value), re.IGNORECASE if "ILIKE" in op else 0)
        negate = op.startswith("NOT")
        return lambda exp: (f := field(exp)) is not None and bool(pattern.match(str(f))) != negate
    compare = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
               "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}[op]
    if numeric:
        return lambda exp: (f := field(exp)) is not None and compare(float(f), value)
    return lambda exp: (f := field(exp)) is not None and compare(str(f), str(value))


_ORDER = re.compile(r"^\s*(?:attributes?\.)?(name|creation_time|last_update_time|experiment_id)"
                    r"(?:\s+(ASC|DESC))?\s*$", re.IGNORECASE)


def experiment_order(order_by: list[str] | None) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Sort experiments as MLflow's SQL store does: by the order_by clauses (default: newest first, then by id
    ascending), ties broken by experiment_id descending; an unset value sorts as SQL's NULL (lowest)."""
    keys: list[tuple[str, bool]] = []
    for clause in order_by or []:
        match = _ORDER.match(clause)
        if match is None:
            raise MlflowError(f"Invalid order_by clause '{clause}'. Could not be parsed.")
        keys.append((match.group(1).lower(), (match.group(2) or "ASC").upper() == "DESC"))
    if not keys:
        keys = [("creation_time", True), ("experiment_id", False)]
    if not any(name == "experiment_id" for name, _ in keys):  # MLflow's tie-breaker: experiment_id descending
        keys.append(("experiment_id", True))

    def sort(experiments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ordered = list(experiments)
        for name, descending in reversed(keys):
            def key(exp: dict[str, Any], name: str = name) -> Any:
                value = exp.get(name)
                if name == "experiment_id":
                    return (0, int(str(value))) if str(value).isdigit() else (1, str(value))
                return (value is not None, value if value is not None else 0)  # NULL sorts first, as in SQL
            ordered.sort(key=key, reverse=descending)
        return ordered

    return sort
