"""The small filter language of MLflow's logged-model and registry searches, evaluated over entity dicts.

`name = 'clf' AND tags.stage != 'dev' AND metrics.acc >= 0.9 AND source_run_id IN ('a', 'b')`: clauses joined
by AND, each `[entity.]key <op> value` with = != < <= > >= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL.
An entity is a dict of attributes plus `metrics`, `params` and `tags` dicts; a missing key never matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from query_api.mlflow.protocol import MlflowError

_ENTITIES = {"metrics": "metrics", "metric": "metrics", "params": "params", "param": "params",
             "parameters": "params", "tags": "tags", "tag": "tags", "attributes": "", "attribute": "", "attr": ""}
_CLAUSE = re.compile(
    r"""^\s*(?P<ident>`[^`]+`|"[^"]+"|[\w.\-/:]+(?:\.`[^`]+`|\."[^"]+")?)\s*
         (?P<op>!=|<>|<=|>=|=|<|>|(?:NOT\s+)?I?LIKE\b|(?:NOT\s+)?IN\b|IS\s+NOT\s+NULL\b|IS\s+NULL\b)
         \s*(?P<value>.*?)\s*$""", re.IGNORECASE | re.VERBOSE | re.DOTALL)
_STRING = re.compile(r"""^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$""", re.DOTALL)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    entity: str  # "", "metrics", "params" or "tags"
    key: str
    op: str
    value: Any


def _split_and(text: str) -> list[str]:
    """Split on AND outside quotes and parentheses."""
    parts, start, quote, depth = [], 0, "", 0
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"`":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and (m := _AND.match(text, i)) and (i == 0 or text[i].isspace()):
            parts.append(text[start:i])
            start = i = m.end()
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _literal(text: str, where: str) -> Any:
    m = _STRING.match(text)
    if m:
        return (m.group(1) if m.group(1) is not None else m.group(2)).replace("\\'", "'")
    try:
        return float(text)
    except ValueError:
        raise MlflowError(f"Invalid filter '{where}': expected a quoted string or a number, got {text!r}") from None


def _identifier(text: str) -> tuple[str, str]:
    text = text.strip()
    if text[0] in "`\"":
        return "", text[1:-1]
    head, dot, rest = text.partition(".")
    if dot and head.lower() in _ENTITIES:
        return _ENTITIES[head.lower()], rest.strip("`\"")
    return "", text


def parse(filter_string: str | None) -> list[Clause]:
    """The clauses of a filter; an empty filter has none. Raises MlflowError naming a bad clause."""
    if not filter_string or not filter_string.strip():
        return []
    if re.search(r"\)\s*OR\s|\sOR\s+\(|'\s+OR\s+", filter_string, re.IGNORECASE):
        raise MlflowError(f"Invalid filter '{filter_string}': OR is not supported")
    clauses = []
    for part in _split_and(filter_string):
        m = _CLAUSE.match(part)
        if m is None:
            raise MlflowError(f"Invalid filter '{filter_string}': cannot parse {part.strip()!r}")
        entity, key = _identifier(m.group("ident"))
        op = " ".join(m.group("op").upper().split()).replace("<>", "!=")
        raw = m.group("value")
        value: Any
        if op.endswith("NULL"):
            if raw:
                raise MlflowError(f"Invalid filter '{filter_string}': nothing may follow {op}")
            value = None
        elif op.endswith("IN"):
            inner = raw.strip()
            if not (inner.startswith("(") and inner.endswith(")")):
                raise MlflowError(f"Invalid filter '{filter_string}': {op} takes a parenthesised list")
            items = re.findall(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^,\s]+""", inner[1:-1])
            value = tuple(_literal(i, filter_string) for i in items)
        else:
            value = _literal(raw, filter_string)
        clauses.append(Clause(entity, key, op, value))
    return clauses


def _like(pattern: str, text: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def matches_clause(clause: Clause, entity: Mapping[str, Any]) -> bool:
    source = entity.get(clause.entity, {}) if clause.entity else entity
    actual = source.get(clause.key) if isinstance(source, Mapping) else None
    if clause.op == "IS NULL":
        return actual is None
    if clause.op == "IS NOT NULL":
        return actual is not None
    if actual is None:
        # a missing key is "not equal" (MLflow's client excludes prompts with tags.`mlflow.prompt.is_prompt`
        # != 'true', which must keep every model without that tag)
        return clause.op == "!="
    if clause.op in ("IN", "NOT IN"):
        found = str(actual) in {str(v) for v in clause.value}
        return found if clause.op == "IN" else not found
    if clause.op.endswith("LIKE"):
        hit = _like(str(clause.value), str(actual), ignore_case="ILIKE" in clause.op)
        return not hit if clause.op.startswith("NOT") else hit
    expected = clause.value
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        if not isinstance(expected, float):
            try:
                expected = float(expected)
            except ValueError:
                return False
        return _COMPARE[clause.op](float(actual), expected)
    return _COMPARE[clause.op](str(actual), expected if isinstance(expected, str) else _number_text(expected))


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def matches(clauses: list[Clause], entity: Mapping[str, Any]) -> bool:
    return all(matches_clause(c, entity) for c in clauses)
