"""The AST of a search filter and of order_by keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Entity = Literal["metric", "param", "tag", "attribute"]
Aggregate = Literal["last", "min", "max", "avg", "count"]
Value = str | float


@dataclass(frozen=True)
class Identifier:
    entity: Entity
    key: str
    aggregate: Aggregate = "last"  # only metrics take an aggregate


@dataclass(frozen=True)
class Comparison:
    """identifier <op> value; op is one of = != < <= > >= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL."""

    identifier: Identifier
    op: str
    value: Value | tuple[Value, ...] | None = None


@dataclass(frozen=True)
class Logical:
    op: Literal["AND", "OR"]
    items: tuple[Node, ...]


Node = Comparison | Logical


@dataclass(frozen=True)
class OrderKey:
    identifier: Identifier
    descending: bool = False
