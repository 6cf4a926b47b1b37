"""The one read path of run searches, called by both front doors: scope, filter, order, snapshot and page
in, one page of run ids and the token of the next out. Each door adds only its own dialect (MLflow refuses
OR and spells page tokens its way) and its own shape of a run."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from query_api.answers import Version
from query_api.filters import parse_order_by
from query_api.filters.ast import Node, OrderKey
from query_api.paging import PageToken, query_fingerprint
from query_api.queries import runs
from query_api.queries.run_search import RunView, build_search, search_page
from query_api.queries.runs import RunRecord
from query_api.statecache import evaluate
from query_api.statecache.cache import RunStates
from query_api.statecache.state import ExperimentState, RunRow


@dataclass(frozen=True)
class RunQuery:
    """A run search as asked: experiments, the parsed filter and order, the view of deleted runs."""

    experiment_ids: tuple[str, ...]
    filter_text: str
    node: Node | None
    order_by: tuple[str, ...]
    order: tuple[OrderKey, ...]
    view: RunView

    @classmethod
    def of(cls, experiment_ids: Collection[str], filter_text: str | None, node: Node | None,
           order_by: Collection[str] | None, view: RunView) -> RunQuery:
        """The query with its order_by parsed (a bad clause raises SearchSyntaxError here, before any read)."""
        texts = tuple(order_by or ())
        return cls(tuple(experiment_ids), filter_text or "", node, texts, tuple(parse_order_by(list(texts))), view)

    def fingerprint(self) -> str:
        """What a page token is tied to: the same question asked again."""
        return query_fingerprint({"experiments": sorted(self.experiment_ids), "filter": self.filter_text,
                                  "order_by": list(self.order_by), "view": self.view})


@dataclass(frozen=True)
class RunPage:
    run_ids: list[str]
    next_token: PageToken | None
    state: list[tuple[Any, ...]] | None = None
    """With `with_state`: the page's runs' state rows (attributes, params, tags), for `runs.fetch_runs`."""
    read_at: dict[int, int] | None = None
    """The log position this page's statement pinned and read at (a first page that found runs), else None."""
    records: list[RunRecord] | None = None
    """From the state path: the page's runs shaped (shared: never mutate them), the experiment's name left to
    `runs.named`."""


def search_runs(client: Client, query: RunQuery, *, limit: int, token: PageToken | None = None,
                exclude_experiments: Collection[str] = (), with_state: bool = False,
                at: dict[int, int] | None = None, states: RunStates | None = None,
                version: Version | None = None) -> RunPage:
    """One page of matching run ids in order (with their state rows when asked). The first page pins the log
    position (snapshot) and later pages read at that position, so runs projected meanwhile never shift a page.
    `at`: the position a first page reads at, when the caller has just read it (the data version of remembered
    answers); else the statement reads it itself (a scalar subquery, ~7-10 ms at 10,000 runs on chdb).
    `states` and `version` (the data version `at` was read with): the page is evaluated over the experiments'
    in-memory run state at that version when it can be (query_api/statecache/), with the page's shape."""
    pinned = token.snapshot if token is not None and token.snapshot is not None else None
    first_at = at if pinned is None and at else None
    if first_at is not None:
        pinned = first_at
    offset = token.offset if token is not None else 0
    experiment_ids = sorted(set(query.experiment_ids) - set(exclude_experiments))
    if not experiment_ids:
        return RunPage([], None)
    if states is not None:
        found = _from_states(states, client, query, experiment_ids, version, pinned, offset, limit) \
            if isinstance(version, tuple) and pinned is not None else None
        states.answered("search", held=found is not None)
        if found is not None:
            held, rows = found
            more = len(rows) > limit
            page_rows = rows[:limit]
            read_at = first_at if first_at is not None and rows else None
            next_token = PageToken(offset + limit, pinned, query.fingerprint()) if more else None
            return RunPage([row.run_id for row in page_rows], next_token, None, read_at,
                           _records(held, page_rows))
    built = build_search(experiment_ids, query.node, list(query.order), run_view=query.view, snapshot=pinned,
                         offset=offset, limit=limit + 1, with_state=with_state)
    page = search_page(client, built)
    run_ids, snapshot = page.run_ids, page.snapshot if first_at is None else (first_at if page.run_ids else None)
    more = len(run_ids) > limit
    pages_at = pinned if pinned is not None else (snapshot or {})  # a first page with a next page pinned one
    next_token = PageToken(offset + limit, pages_at, query.fingerprint()) if more else None
    return RunPage(run_ids[:limit], next_token, page.state[:limit] if page.state is not None else None, snapshot)


def _from_states(states: RunStates, client: Client, query: RunQuery, experiment_ids: list[str], version: Version,
                 pinned: dict[int, int], offset: int, limit: int
                 ) -> tuple[list[ExperimentState], list[RunRow]] | None:
    """The states and limit + 1 runs from them, or None when they cannot answer (then the SQL path does)."""
    generation, positions = version[0], dict(version[1])  # type: ignore[index]
    try:
        evaluate.check(query.node)
    except evaluate.Unsupported:
        return None
    held = states.states(client, experiment_ids, generation, positions)
    if held is None:
        return None
    return held, evaluate.search(held, query.node, query.order, view=query.view, snapshot=pinned, offset=offset,
                                 limit=limit + 1)


def _records(held: list[ExperimentState], rows: list[RunRow]) -> list[RunRecord]:
    """The rows' response records (without the experiment's name), each shaped once per state."""
    owner = {row.run_id: state for state in held for row in rows if row.run_id in state.index}
    return [owner[row.run_id].record(row, _shape) for row in rows]


def _shape(row: RunRow) -> RunRecord:
    return runs.shape([row.run_id], [row.attributes()], [(row.run_id, k, v) for k, v in row.params.items()],
                      [(row.run_id, k, v, 0) for k, v in row.tags.items()],
                      [(row.run_id, key, m[0], m[1], m[2], m[4], m[5]) for key, m in row.metrics.items()])[0]
