"""A first search page read at a position its caller already holds (the data version of remembered answers)."""

from __future__ import annotations

from typing import Any

from query_api.filters import parse_filter
from query_api.paging import PageToken
from query_api.run_search import RunQuery, search_runs


class Recording:
    """A client that records each statement and answers with the given rows."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def query(self, sql: str, parameters: dict[str, Any]) -> Any:
        self.asked.append((sql, parameters))
        return type("Result", (), {"result_rows": self.rows})()


QUERY = RunQuery.of(["e"], "params.opt = 'adam'", parse_filter("params.opt = 'adam'"), None, "active")


def test_a_first_page_given_a_position_reads_at_it_and_not_the_positions() -> None:
    client = Recording([("r1",), ("r2",), ("r3",)])
    page = search_runs(client, QUERY, limit=2, at={0: 7, 1: 5})  # type: ignore[arg-type]
    (sql, bound), = client.asked
    assert "event_offsets" not in sql and "snapshot" not in sql
    assert [0, 1] in bound.values() and [7, 5] in bound.values()
    assert page.run_ids == ["r1", "r2"] and page.read_at == {0: 7, 1: 5}
    assert page.next_token is not None and page.next_token.snapshot == {0: 7, 1: 5}


def test_without_a_position_the_statement_reads_it_and_a_later_page_keeps_its_own() -> None:
    client = Recording([("r1", ([0], [9]))])
    page = search_runs(client, QUERY, limit=2)  # type: ignore[arg-type]
    assert "event_offsets" in client.asked[0][0] and page.read_at == {0: 9}
    later = PageToken(2, {0: 3}, QUERY.fingerprint())
    search_runs(client, QUERY, limit=2, token=later, at={0: 7})  # type: ignore[arg-type]
    assert [3] in client.asked[1][1].values() and [7] not in client.asked[1][1].values()


def test_a_page_that_found_nothing_pins_nothing() -> None:
    page = search_runs(Recording([]), QUERY, limit=2, at={0: 7})  # type: ignore[arg-type]
    assert page.run_ids == [] and page.read_at is None and page.next_token is None
