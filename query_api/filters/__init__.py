"""The search language (MLflow's filter and order_by syntax, plus OR): parsed by a grammar into an AST.

The AST is compiled to bound SQL in query_api.queries.filters."""

from query_api.filters.ast import Comparison, Identifier, Logical, OrderKey
from query_api.filters.parser import SearchSyntaxError, parse_filter, parse_order_by

__all__ = ["Comparison", "Identifier", "Logical", "OrderKey", "SearchSyntaxError", "parse_filter", "parse_order_by"]
