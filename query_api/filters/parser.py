"""A lark grammar for filters and order_by keys; errors name the offending token."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from query_api.filters.ast import Comparison, Identifier, Logical, Node, OrderKey

GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: _atom (_AND _atom)*
_atom: comparison | "(" or_expr ")"

comparison: operand COMPARATOR value             -> compare
          | operand _LIKE string                 -> like
          | operand _ILIKE string                -> ilike
          | operand _NOT _LIKE string            -> not_like
          | operand _NOT _ILIKE string           -> not_ilike
          | operand _IN "(" value ("," value)* ")"        -> in_
          | operand _NOT _IN "(" value ("," value)* ")"   -> not_in
          | operand _IS _NULL                    -> is_null
          | operand _IS _NOT _NULL               -> is_not_null

?operand: identifier
        | AGGREGATE "(" identifier ")"           -> aggregate
identifier: ENTITY "." key
?key: NAME_PATH | BACKQUOTED | DOUBLEQUOTED

?value: number | string
number: SIGNED_NUMBER
?string: SINGLEQUOTED | DOUBLEQUOTED

order_key: operand DIRECTION?

COMPARATOR: "!=" | "<=" | ">=" | "=" | "<" | ">" | "<>"
AGGREGATE.2: /(min|max|avg|count|last)(?=\s*\()/i
ENTITY.2: /(metrics|metric|params|param|parameters|parameter|tags|tag|attributes|attribute|attr|run)(?=\.)/i
DIRECTION: /asc|desc/i
NAME_PATH: /[A-Za-z_][\w\-\/:]*(\.[\w\-\/:]+)*/
BACKQUOTED: /`[^`]*`/
DOUBLEQUOTED: /"(?:[^"\\]|\\.)*"/
SINGLEQUOTED: /'(?:[^'\\]|\\.)*'/
SIGNED_NUMBER: /[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/

_AND.2: /and\b/i
_OR.2: /or\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
_IS.2: /is\b/i
_NULL.2: /null\b/i
_LIKE.2: /like\b/i
_ILIKE.2: /ilike\b/i

%import common.WS
%ignore WS
"""

ENTITIES = {
    "metrics": "metric", "metric": "metric",
    "params": "param", "param": "param", "parameters": "param", "parameter": "param",
    "tags": "tag", "tag": "tag",
    "attributes": "attribute", "attribute": "attribute", "attr": "attribute", "run": "attribute",
}
ATTRIBUTES = {
    "status": "string", "run_name": "string", "run_id": "string", "user": "string", "experiment_id": "string",
    "start_time": "number", "end_time": "number",
}
ATTRIBUTE_ALIASES = {"name": "run_name", "runname": "run_name", "user_id": "user"}
MAX_DEPTH = 64
MAX_LENGTH = 20_000
# Each distinct key becomes a lookup of its own in the compiled query: 300 keys took over 17 s on 2 cores.
MAX_KEYS = 32
MAX_COMPARISONS = 256
MAX_ORDER_KEYS = 16


class SearchSyntaxError(ValueError):
    """A filter or order_by that cannot be understood; the message names the offending token."""


def _unquote(token: str) -> str:
    if token[:1] in "`'\"" and token[-1:] == token[:1]:
        body = token[1:-1]
        return body.replace("\\" + token[0], token[0]).replace("\\\\", "\\") if token[0] != "`" else body
    return token


@v_args(inline=True)
class _ToAst(Transformer[Any, Any]):
    def identifier(self, entity: Token, key: Token) -> Identifier:
        kind = ENTITIES[entity.lower()]
        name = _unquote(str(key))
        if not name:
            raise SearchSyntaxError(f"empty key after {entity!s}.")
        if kind == "attribute":
            name = ATTRIBUTE_ALIASES.get(name.lower(), name.lower())
            if name not in ATTRIBUTES:
                raise SearchSyntaxError(
                    f"unknown attribute {str(key)!r}; expected one of {', '.join(sorted(ATTRIBUTES))}")
        return Identifier(kind, name)  # type: ignore[arg-type]

    def aggregate(self, function: Token, identifier: Identifier) -> Identifier:
        if identifier.entity != "metric":
            raise SearchSyntaxError(f"{function!s}() applies to metrics only, not {identifier.entity}s")
        return Identifier("metric", identifier.key, function.lower())  # type: ignore[arg-type]

    def number(self, token: Token) -> float:
        value = float(token)
        if not math.isfinite(value):
            raise SearchSyntaxError(f"number {token!s} is out of range")
        return value

    def SINGLEQUOTED(self, token: Token) -> str:  # noqa: N802 - lark terminal callback
        return _unquote(str(token))

    def DOUBLEQUOTED(self, token: Token) -> Token:  # noqa: N802 - kept as a token: may be a key or a string
        return token

    def compare(self, ident: Identifier, op: Token, value: Any) -> Comparison:
        symbol = "!=" if str(op) == "<>" else str(op)
        return _checked(Comparison(ident, symbol, _literal(value)))

    def like(self, ident: Identifier, value: Any) -> Comparison:
        return _checked(Comparison(ident, "LIKE", _literal(value)))

    def ilike(self, ident: Identifier, value: Any) -> Comparison:
        return _checked(Comparison(ident, "ILIKE", _literal(value)))

    def not_like(self, ident: Identifier, value: Any) -> Comparison:
        return _checked(Comparison(ident, "NOT LIKE", _literal(value)))

    def not_ilike(self, ident: Identifier, value: Any) -> Comparison:
        return _checked(Comparison(ident, "NOT ILIKE", _literal(value)))

    def in_(self, ident: Identifier, *values: Any) -> Comparison:
        return _checked(Comparison(ident, "IN", tuple(_literal(v) for v in values)))

    def not_in(self, ident: Identifier, *values: Any) -> Comparison:
        return _checked(Comparison(ident, "NOT IN", tuple(_literal(v) for v in values)))

    def is_null(self, ident: Identifier) -> Comparison:
        return _checked(Comparison(ident, "IS NULL"))

    def is_not_null(self, ident: Identifier) -> Comparison:
        return _checked(Comparison(ident, "IS NOT NULL"))

    def and_expr(self, *items: Node) -> Logical:
        return Logical("AND", items)

    def or_expr(self, *items: Node) -> Logical:
        return Logical("OR", items)

    def order_key(self, ident: Identifier, direction: Token | None = None) -> OrderKey:
        return OrderKey(ident, descending=direction is not None and direction.lower() == "desc")


def _literal(value: Any) -> str | float:
    if isinstance(value, Token):  # a double-quoted string used as a value
        return _unquote(str(value))
    return value  # type: ignore[no-any-return]


def _checked(c: Comparison) -> Comparison:
    """Reject comparisons the data cannot answer: strings against metrics, LIKE on numbers, ..."""
    ident, op = c.identifier, c.op
    numeric = ident.entity == "metric" or (ident.entity == "attribute" and ATTRIBUTES[ident.key] == "number")
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    if op in ("IS NULL", "IS NOT NULL"):
        if ident.entity not in ("param", "tag", "metric"):
            raise SearchSyntaxError(f"IS NULL applies to params, tags and metrics, not attributes.{ident.key}")
        return c
    if numeric:
        if op not in ("=", "!=", "<", "<=", ">", ">="):
            raise SearchSyntaxError(f"{op} does not apply to the number {_name(ident)}")
        if any(not isinstance(v, float) for v in values):
            raise SearchSyntaxError(f"{_name(ident)} is a number; compare it with a number, not {values[0]!r}")
    elif ident.entity == "attribute" and any(isinstance(v, float) for v in values):
        raise SearchSyntaxError(f"{_name(ident)} is a string; quote the value {values[0]!r}")
    elif op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE", "IN", "NOT IN") and any(
        isinstance(v, float) for v in values
    ):
        raise SearchSyntaxError(f"{op} on {_name(ident)} takes quoted strings")
    return c


def _name(ident: Identifier) -> str:
    prefix = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes"}[ident.entity]
    base = f"{prefix}.{ident.key}"
    return base if ident.aggregate == "last" else f"{ident.aggregate}({base})"


@cache
def _parser(start: str) -> Lark:
    return Lark(GRAMMAR, start=start, parser="lalr", maybe_placeholders=False)


def _error(text: str, exc: LarkError) -> SearchSyntaxError:
    if isinstance(exc, VisitError) and isinstance(exc.orig_exc, SearchSyntaxError):
        return exc.orig_exc
    if isinstance(exc, UnexpectedEOF):
        return SearchSyntaxError(f"{text!r} ends too early")
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        return SearchSyntaxError(f"unexpected character {text[pos]!r} at position {pos}")
    if isinstance(exc, UnexpectedInput):
        token = getattr(exc, "token", None)
        where = getattr(exc, "pos_in_stream", None)
        if token is not None and str(token) == "":
            return SearchSyntaxError(f"{text!r} ends too early")
        return SearchSyntaxError(f"unexpected token {str(token)!r} at position {where}")
    return SearchSyntaxError(str(exc))


def _depth_ok(text: str) -> None:
    depth = peak = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        peak = max(peak, depth)
    if peak > MAX_DEPTH:
        raise SearchSyntaxError(f"the filter nests parentheses {peak} deep; the limit is {MAX_DEPTH}")
    if len(text) > MAX_LENGTH:
        raise SearchSyntaxError(f"the filter is {len(text)} characters; the limit is {MAX_LENGTH}")


def parse_filter(text: str | None) -> Node | None:
    """The AST of a filter string; None for an empty filter."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise SearchSyntaxError(f"the filter must be a string, not {type(text).__name__}")
    if not text.strip():
        return None
    _depth_ok(text)
    try:
        tree = _parser("start").parse(text)
        node: Node = _ToAst().transform(tree)
    except LarkError as exc:
        raise _error(text, exc) from None
    _size_ok(node)
    return node


def _size_ok(node: Node) -> None:
    """A bounded filter: at most MAX_KEYS distinct keys and MAX_COMPARISONS comparisons."""
    keys: set[Identifier] = set()
    comparisons = 0
    pending: list[Node] = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, Logical):
            pending.extend(item.items)
        else:
            comparisons += 1
            keys.add(item.identifier)
    if len(keys) > MAX_KEYS:
        raise SearchSyntaxError(f"the filter names {len(keys)} distinct keys; the limit is {MAX_KEYS}")
    if comparisons > MAX_COMPARISONS:
        raise SearchSyntaxError(f"the filter has {comparisons} comparisons; the limit is {MAX_COMPARISONS}")


def parse_order_by(items: list[str] | None) -> list[OrderKey]:
    """order_by clauses such as "metrics.val_loss ASC" or "min(metrics.loss) DESC"."""
    keys = []
    if len(items or []) > MAX_ORDER_KEYS:
        raise SearchSyntaxError(f"order_by has {len(items or [])} clauses; the limit is {MAX_ORDER_KEYS}")
    for item in items or []:
        if not isinstance(item, str):
            raise SearchSyntaxError(f"an order_by clause must be a string, not {type(item).__name__}")
        if len(item) > 1000:
            raise SearchSyntaxError("an order_by clause is over 1000 characters")
        try:
            keys.append(_ToAst().transform(_parser("order_key").parse(item)))
        except LarkError as exc:
            raise SearchSyntaxError(f"order_by {item!r}: {_error(item, exc)}") from None
    return keys
