"""What the read side may remember: facts that never become false once ClickHouse has shown them.

An experiment that exists keeps existing (deleting one is an event; its rows stay), and a run never moves to
another experiment (the projector dead-letters a run's event under a second experiment). A rebuild replays the
same log, so it brings both back. Each fact costs a ClickHouse round trip (~2-4 ms on chdb, a scan of `runs` for
a run's experiment) on every request that asks it; remembered, it costs a dict lookup. Only what was found is
remembered: "not found" is asked again, since the projector may bring it at any moment.

Experiments' names can change (a rename is an event), so they are remembered with the log position they were
read at: a search that pinned the same position (nothing projected since, so no rename and no new experiment)
takes them from memory; any other position reads them again (~4-8 ms on chdb at 10,000 runs).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from clickhouse_connect.driver.client import Client

from query_api.queries import experiments, runs


class Facts:
    """Remembered experiment ids and run -> experiment; bounded (least recently asked runs are forgotten)."""

    def __init__(self, max_runs: int = 1_000_000) -> None:
        self._experiments: set[str] = set()
        self._runs: OrderedDict[str, str] = OrderedDict()
        self._max_runs = max_runs
        self._names: dict[str, str | None] = {}  # experiment -> name (None: no such experiment) ...
        self._names_at: tuple[tuple[int, int], ...] | None = None  # ... as read at this log position
        self._lock = threading.Lock()

    def known_experiments(self, client: Client, ids: Iterable[str]) -> set[str]:
        """The ids among `ids` of experiments that exist."""
        wanted = set(ids)
        with self._lock:
            unknown = wanted - self._experiments
        if unknown:
            found = experiments.known_ids(client, sorted(unknown))
            with self._lock:
                self._experiments |= found
        with self._lock:
            return wanted & self._experiments

    def run_experiment(self, client: Client, run_id: str) -> str | None:
        """The experiment of a projected run, or None when no such run was projected (yet)."""
        return self.run_experiments(client, [run_id]).get(run_id)

    def run_experiments(self, client: Client, run_ids: Iterable[str]) -> dict[str, str]:
        """run_id -> experiment of each projected run among run_ids (one query for those not remembered)."""
        found: dict[str, str] = {}
        with self._lock:
            for run_id in run_ids:
                known = self._runs.get(run_id)
                if known is not None:
                    self._runs.move_to_end(run_id)
                    found[run_id] = known
        unknown = [r for r in dict.fromkeys(run_ids) if r not in found]
        if unknown:
            read = (runs.run_experiments(client, unknown) if len(unknown) > 1
                    else {r: e for r in unknown if (e := runs.run_experiment(client, r)) is not None})
            self.remember_runs(read)
            found.update(read)
        return found

    def remember_runs(self, experiment_of: dict[str, str]) -> None:
        """Runs read elsewhere with their experiments (a search, a run's shape)."""
        with self._lock:
            for run_id, experiment_id in experiment_of.items():
                self._runs[run_id] = experiment_id
                self._runs.move_to_end(run_id)
            while len(self._runs) > self._max_runs:
                self._runs.popitem(last=False)

    def names_reader(self, experiment_ids: Sequence[str], at: dict[int, int] | None
                     ) -> Callable[[Client], list[tuple[str, str]]]:
        """A read of the experiments' (id, name) rows (those that exist), from memory when they were read at the
        same log position `at` (a search's pinned snapshot); `at` None (unknown) always reads."""
        position = tuple(sorted(at.items())) if at else None

        def read(client: Client) -> list[tuple[str, str]]:
            with self._lock:
                if position is not None and position == self._names_at and all(
                        e in self._names for e in experiment_ids):
                    return [(e, name) for e in experiment_ids if (name := self._names[e]) is not None]
            rows = runs.experiment_names(client, list(experiment_ids))
            if position is not None:
                found = dict(rows)
                with self._lock:
                    if position != self._names_at:
                        self._names, self._names_at = {}, position
                    self._names.update({e: found.get(e) for e in experiment_ids})
            return rows

        return read
