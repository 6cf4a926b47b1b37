"""The run search query: scope, filter, order, snapshot and page, all bound."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from clickhouse_connect.driver.client import Client

from query_api.filters.ast import Node, OrderKey
from query_api.queries import run_state
from query_api.queries.filters import Binder, compile_filter, compile_order
from query_api.queries.log import SNAPSHOT
from query_api.queries.runs import STATE_SELECT

RunView = Literal["active", "deleted", "all"]
VIEWS = {"active": "r.deleted = 0", "deleted": "r.deleted = 1", "all": "1"}
FOLD_PLACEHOLDER = "{fold}"
_RUN_COLUMN = re.compile(r"\br\.(\w+)")


@dataclass(frozen=True)
class BuiltQuery:
    sql: str
    parameters: dict[str, Any]
    pins_snapshot: bool = False  # the statement reads the log positions itself and returns them with each row
    with_state: bool = False  # each row also carries the run's state, as queries/runs.py's RUN_STATE reads it


def build_search(
    experiment_ids: list[str], node: Node | None, order: list[OrderKey], *, run_view: RunView,
    snapshot: dict[int, int] | None, offset: int, limit: int, with_state: bool = False,
) -> BuiltQuery:
    """SQL selecting one page of run ids; pure, so it is unit-tested without ClickHouse. Without a snapshot
    (a first page) the statement reads the log positions itself and returns them with every row, so a first
    page costs one round trip. `with_state`: each row also carries the run's attributes, params and tags (a page
    then needs no read of them: 1.5-5 ms more for this statement against 6-10 ms for a read of its own)."""
    b = Binder(state=True)
    b.experiments = b.bind(experiment_ids, "Array(String)")
    if snapshot is None:
        partitions, offsets, head, pinned = "snapshot.1", "snapshot.2", f"WITH {SNAPSHOT} AS snapshot ", ", snapshot"
    else:
        partitions = b.bind(list(snapshot), "Array(UInt32)")
        offsets = b.bind(list(snapshot.values()), "Array(UInt64)")
        head, pinned = "", ""
    where = compile_filter(node, b)
    order_by = compile_order(order, b)
    state = f", r.experiment_id, '', {STATE_SELECT}" if with_state else ""
    sql = (
        f"{head}SELECT r.run_id{pinned}{state} FROM {FOLD_PLACEHOLDER}"
        + "".join(f" {join}" for join in b.join_sql)
        + f" WHERE r.experiment_id IN {b.experiments} AND r.first_offset IS NOT NULL AND {VIEWS[run_view]}"
        + f" AND has({partitions}, r.kafka_partition)"
        + f" AND r.first_offset <= arrayElement({offsets}, indexOf({partitions}, r.kafka_partition))"
        + f" AND {where}"
        + f" ORDER BY {order_by}"
        + f" LIMIT {b.bind(limit, 'UInt32')} OFFSET {b.bind(offset, 'UInt64')}"
        + " SETTINGS join_use_nulls = 1"
    )
    # Runs as they stand now: run_state's own rows merged with FINAL, the fold's columns read from them in place
    # (run_state.row_column). The same statement over run_state.current's subquery cost ~35% more at 10,000 runs
    # (benchmarks/results/cold-search-20261202b.md). Params and tags are read from its maps, metrics still joined
    # from run_metric_summary.
    sql = _RUN_COLUMN.sub(lambda found: run_state.row_column(found.group(1)), sql)
    return BuiltQuery(sql.replace(FOLD_PLACEHOLDER, "run_state AS r FINAL", 1), b.parameters,
                      pins_snapshot=snapshot is None, with_state=with_state)


@dataclass(frozen=True)
class SearchPage:
    run_ids: list[str]
    snapshot: dict[int, int] | None  # the one the statement pinned (None when it was given one, or found no run)
    state: list[tuple[Any, ...]] | None  # with_state: each run's state row (queries/runs.py's RUN_STATE shape)


def search_page(client: Client, query: BuiltQuery) -> SearchPage:
    """The page's run ids, the snapshot the statement pinned and, when asked, the runs' state rows."""
    rows = client.query(query.sql, parameters=query.parameters).result_rows
    snapshot = None
    if query.pins_snapshot and rows:
        partitions, offsets = rows[0][1]
        snapshot = {int(p): int(o) for p, o in zip(partitions, offsets, strict=True)}
    skip = 2 if query.pins_snapshot else 1
    state = [(row[0], *row[skip:]) for row in rows] if query.with_state else None
    return SearchPage([row[0] for row in rows], snapshot, state)


def run_search(client: Client, query: BuiltQuery) -> list[str]:
    return search_page(client, query).run_ids
