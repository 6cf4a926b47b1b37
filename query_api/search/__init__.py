"""MLflow's search language (and more): parsed by a grammar into an AST, compiled to bound SQL."""

from query_api.search.ast import Comparison, Identifier, Logical, OrderKey
from query_api.search.parser import SearchSyntaxError, parse_filter, parse_order_by

__all__ = ["Comparison", "Identifier", "Logical", "OrderKey", "SearchSyntaxError", "parse_filter", "parse_order_by"]
