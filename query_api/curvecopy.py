"""An exact in-memory copy of metric series, for curves asked of a server whose projector alone writes.

A series (experiment, run, key) is read from ClickHouse once, in the curve's order (`queries.curves.series`), and
kept as numpy columns (24 bytes a point) in a least-recently-used map bounded in points. The projector drops a
series from it (`written`, called by its writer) after each metrics insert that holds points of it and before the
log positions move, so a reader that sees the new positions never gets the old series. A read of ClickHouse that
overlapped such a drop is answered but not kept (`begin` / `keep`). Everything is dropped while a maintenance job
runs or after one (a rebuild rewrites the tables), while this projector is not the only writer and whenever its
partitions were assigned again (another member may have written meanwhile); while not usable the curve is read
from ClickHouse as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np

Series = tuple[str, str, str]  # experiment_id, run_id, key
Columns = tuple[np.ndarray, np.ndarray, np.ndarray]  # step, value, ts (ms)

DROPS_KEPT = 256  # recent drops remembered for reads in flight; a read that spans more is not kept


class CurveCopy:
    """Series held exactly as ClickHouse holds them while `active()` gives a generation (not None); a new
    generation drops everything."""

    def __init__(self, max_points: int, active: Callable[[], Hashable | None]) -> None:
        self.max_points = max_points
        self._active = active  # while the copy may be used (this projector alone): what a copy is valid under
        self._lock = threading.Lock()
        self._series: OrderedDict[Series, Columns] = OrderedDict()
        self._points = 0
        self._generation: Hashable | None = None
        self._epoch = 0  # drops so far
        self._drops: deque[tuple[int, frozenset[Series] | None]] = deque(maxlen=DROPS_KEPT)  # None: everything

    @property
    def points(self) -> int:
        return self._points

    def __len__(self) -> int:
        return len(self._series)

    # -- the projector's side ------------------------------------------------------------------------------
    def written(self, table: str, block: Any) -> None:
        """The writer's hook: a block was inserted into `table` (the metrics table's blocks name their series)."""
        if table == "metric_chunks":
            self.drop(block.series())

    def drop(self, series: Iterable[Series]) -> None:
        gone = frozenset(series)
        with self._lock:
            self._epoch += 1
            self._drops.append((self._epoch, gone))
            for s in gone:
                columns = self._series.pop(s, None)
                if columns is not None:
                    self._points -= len(columns[0])

    def clear(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._epoch += 1
        self._drops.append((self._epoch, None))
        self._series.clear()
        self._points = 0

    # -- the readers' side ---------------------------------------------------------------------------------
    def begin(self) -> tuple[Hashable, int] | None:
        """Before reading: (generation, epoch) to pass to `get` and `keep`, or None when the copy is not used
        now (then everything is dropped)."""
        generation = self._active()
        with self._lock:
            if generation is None or generation != self._generation:
                self._clear()
                self._generation = generation
            return None if generation is None else (generation, self._epoch)

    def get(self, series: Series) -> Columns | None:
        with self._lock:
            columns = self._series.get(series)
            if columns is not None:
                self._series.move_to_end(series)
            return columns

    def keep(self, series: Series, columns: Columns, began: tuple[Hashable, int]) -> bool:
        """Keep a series read from ClickHouse after `begin` gave `began`, unless a drop since may have changed it
        (or the generation moved); the least recently used series go to stay within max_points. An empty series
        is not kept (nothing would bound how many a client asks for)."""
        size = len(columns[0])
        if not size or size > self.max_points or self._active() != began[0]:
            return False
        with self._lock:
            if self._generation != began[0] or not _unchanged(self._drops, began[1], self._epoch, series):
                return False
            old = self._series.pop(series, None)
            if old is not None:
                self._points -= len(old[0])
            self._series[series] = columns
            self._points += size
            while self._points > self.max_points:
                _, evicted = self._series.popitem(last=False)
                self._points -= len(evicted[0])
            return True


def _unchanged(drops: deque[tuple[int, frozenset[Series] | None]], since: int, now: int, series: Series) -> bool:
    """Whether no drop after epoch `since` (up to `now`) touched `series`, as far as the kept drops tell."""
    if now == since:
        return True
    if not drops or drops[0][0] > since + 1:  # some drops after `since` are forgotten
        return False
    return all(epoch <= since or (gone is not None and series not in gone) for epoch, gone in drops)
