"""Deferring the hot tables' background merges while the projector works through a backlog.

Merges were 30-45% of the live projector's CPU (docs/findings.md, "The server's CPU per ingested point"): each
insert group leaves a part per table, and ClickHouse merges those parts again and again while more arrive. While
the projector is behind, its own lag (the consumer's positions against the partitions' high watermarks) says
more parts are coming, so `SYSTEM STOP MERGES` on the tables every group writes lets the parts pile up, and
`SYSTEM START MERGES` once it has caught up merges them in fewer, larger rewrites. Reads stay correct with merges
stopped (queries never depend on parts being merged: they use FINAL or duplicate-proof aggregates).

Bounds: merges resume after `max_groups` insert groups however far behind (each group is at most one part per
table: no partitioning), far below ClickHouse's `parts_to_delay_insert` (1000), so inserts are never delayed and
reads never slow without bound. The stop is not persisted by ClickHouse (a restarted embedded engine merges), and
a projector starts merges when it starts, for a ClickHouse server that outlived a projector stopped while behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from consumers.derived import OFFSETS, SUMMARY
from consumers.projections import POSITION_TABLE
from consumers.projections.metrics import PROJECTION as METRICS

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

log = logging.getLogger("runstream.projector")

DEFERRED_TABLES = (METRICS.table, SUMMARY.table, POSITION_TABLE, OFFSETS.table)
"""The tables every insert group of metric batches writes (a part each)."""


class MergeGate:
    """When to stop and start merges, from the projector's lag in messages (pure; hysteresis).

    Stops once the lag reaches `behind` messages; starts again when it is down to `caught_up`, or after
    `max_groups` insert groups written while stopped. After such a forced start it stops again only once it has
    caught up in between, so a long backlog is merged as usual past the bound."""

    def __init__(self, *, behind: int, caught_up: int, max_groups: int) -> None:
        self.behind = behind
        self.caught_up = caught_up
        self.max_groups = max_groups
        self.deferred = False
        self._armed = True
        self._since = 0

    def decide(self, lag: int, groups: int) -> bool | None:
        """Given the lag (messages) and the groups written so far (a running count): True to stop merges now,
        False to start them now, None to leave them as they are."""
        if self.deferred:
            if lag <= self.caught_up or groups - self._since >= self.max_groups:
                self.deferred = False
                self._armed = lag <= self.caught_up
                return False
            return None
        if lag <= self.caught_up:
            self._armed = True
        if self._armed and self.behind > 0 and lag >= self.behind:
            self.deferred, self._since = True, groups
            return True
        return None

    def forget(self) -> None:
        """The tables were swapped (a rebuild starts merges on those it swaps in): nothing is stopped now."""
        self.deferred, self._armed = False, True


def set_merges(client: Client, tables: Sequence[str], *, on: bool) -> None:
    """`SYSTEM START MERGES` (on) or `SYSTEM STOP MERGES` on each table (names from code, never from users)."""
    verb = "START" if on else "STOP"
    for table in tables:
        client.command(f"SYSTEM {verb} MERGES `{table}`")


def lag_of(positions: dict[int, int], high: Callable[[int], int]) -> int:
    """Messages between the consumer's positions (partition -> next offset) and the high watermarks (`high`:
    partition -> watermark, negative when unknown): unknown positions or watermarks count as caught up."""
    return sum(max(0, h - o) for p, o in positions.items() if o >= 0 and (h := high(p)) >= 0)
