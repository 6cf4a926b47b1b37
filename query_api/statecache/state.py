"""An experiment's runs as they stand at one data version: one immutable row per run, sorted by run_id (the
search's last tie-break), built from the rows of query_api/queries/experiment_state.py."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

Summary = tuple[Any, Any, Any, Any, int, int]
"""A metric's (last, min, max, avg, points, last step), as the search's SQL aggregates them (min/max may be None)."""


MAX_COLUMNS = 256


class RunRow(NamedTuple):
    run_id: str
    experiment_id: str
    partition: int
    first_offset: int
    name: str | None
    status: str | None
    start_us: int | None
    end_us: int | None
    start_ms: int | None
    end_ms: int | None
    parent_run_id: str | None
    user: str | None
    source: str | None
    description: str | None
    deleted: int
    params: dict[str, str]
    params_num: dict[str, float | None]
    tags: dict[str, str]
    tags_num: dict[str, float | None]
    metrics: dict[str, Summary]

    def attributes(self) -> tuple[Any, ...]:
        """The row queries/runs.shape takes: (run_id, experiment_id, experiment name, name, ..., deleted)."""
        return (self.run_id, self.experiment_id, "", self.name, self.status, self.start_us, self.end_us,
                self.parent_run_id, self.user, self.source, self.description, self.deleted)


def summaries_by_run(summaries: Iterable[Sequence[Any]]) -> dict[str, dict[str, Summary]]:
    """experiment_state.summaries' rows as run -> key -> Summary."""
    metrics: dict[str, dict[str, Summary]] = {}
    for run_id, key, last, vmin, vmax, avg, points, last_step in summaries:
        metrics.setdefault(run_id, {})[key] = (last, vmin, vmax, avg, int(points), int(last_step))
    return metrics


def run_rows(states: Iterable[Sequence[Any]], summaries: Iterable[Sequence[Any]]) -> list[RunRow]:
    """Rows from experiment_state.states' and .summaries' results (summaries of runs not in `states` ignored)."""
    metrics = summaries_by_run(summaries)
    return [RunRow._make((*row[:15], _owned(row[15]), _owned(row[16]), _owned(row[17]), _owned(row[18]),
                          metrics.get(row[0], {}))) for row in states]


def _owned(value: Any) -> dict[Any, Any]:
    """A result's map as a dict of its own: clickhouse-connect already made one per row (taken as it is: copying
    ~40,000 dicts was ~20% of a 10,000-run state's shaping); anything else is copied into one."""
    return value if type(value) is dict else dict(value)


def unheld(rows: Sequence[RunRow], summaries: Iterable[Sequence[Any]]) -> dict[str, dict[str, Summary]]:
    """The summaries of runs with no state row (metrics logged for a run no attribute event named): never a
    search's match or a card, but the SQL leaderboard ranks them before it looks their cards up."""
    held = {row.run_id for row in rows}
    return summaries_by_run(summary for summary in summaries if summary[0] not in held)


@dataclass
class ExperimentState:
    """The runs of some experiments at the log positions `positions` (every event up to them is in; later ones
    may be too) and maintenance generation `generation`. Never changed once built: a refresh builds another,
    so a reader holding one needs no lock. `columns` caches per-key value lists the evaluator builds."""

    generation: int
    positions: dict[int, int]
    rows: tuple[RunRow, ...]
    unheld: dict[str, dict[str, Summary]] = field(default_factory=dict)
    """Metric summaries of runs without a state row (see `unheld()`), by run and key."""
    index: dict[str, int] = field(init=False)
    columns: dict[Any, list[Any]] = field(default_factory=dict, repr=False)
    shaped: dict[str, Any] = field(default_factory=dict, repr=False)
    """Runs' response records (queries/runs.shape's, without the experiment's name), built when first shown."""

    def __post_init__(self) -> None:
        self.index = {row.run_id: i for i, row in enumerate(self.rows)}

    def column(self, name: Any, build: Callable[[RunRow], Any]) -> list[Any]:
        """The list of build(row) over the rows, built once (two threads may both build it: same list)."""
        found = self.columns.get(name)
        if found is None:
            found = self._keep(name, [build(row) for row in self.rows])
        return found

    def whole(self, name: Any, build: Callable[[Sequence[RunRow]], list[Any]]) -> list[Any]:
        """build(rows), built once (a list over all rows, such as the indexes a view and snapshot hold)."""
        found = self.columns.get(name)
        if found is None:
            found = self._keep(name, build(self.rows))
        return found

    def record(self, row: RunRow, shape: Callable[[RunRow], Any]) -> Any:
        """The run's record, shaped once: the rows never change, so neither does it (callers must not mutate it)."""
        found = self.shaped.get(row.run_id)
        if found is None:
            found = self.shaped[row.run_id] = shape(row)
        return found

    def _keep(self, name: Any, values: list[Any]) -> list[Any]:
        if len(self.columns) >= MAX_COLUMNS:  # keys and snapshots asked over a long life: start again
            self.columns.clear()
        self.columns[name] = values
        return values

    def replaced(self, rows: Sequence[RunRow], gone: Collection[str], generation: int,
                 positions: dict[int, int], unheld: dict[str, dict[str, Summary]] | None = None
                 ) -> ExperimentState:
        """This state with `rows` put in (new or changed runs) and the runs `gone` left out, at `positions`;
        `unheld`: the changed runs' summaries without a state row (the other changed runs leave `unheld`)."""
        by_id = {row.run_id: row for row in self.rows}
        for run_id in gone:
            by_id.pop(run_id, None)
        by_id.update((row.run_id, row) for row in rows)
        changed = {row.run_id for row in rows} | set(gone)
        still = {run_id: m for run_id, m in self.unheld.items() if run_id not in changed}
        state = ExperimentState(generation, positions, tuple(by_id[r] for r in sorted(by_id)),
                                {**still, **(unheld or {})})
        state.shaped = {k: v for k, v in self.shaped.items() if k not in changed}  # records of unchanged runs stay
        return state


def covers(positions: dict[int, int], asked: dict[int, int]) -> bool:
    """True when state read at `positions` holds everything up to `asked` (no partition moved past them)."""
    return all(positions.get(p, -1) >= o for p, o in asked.items())


def merged(a: dict[int, int], b: dict[int, int]) -> dict[int, int]:
    """The later of two positions per partition."""
    return {p: max(a.get(p, -1), b.get(p, -1)) for p in sorted(a.keys() | b.keys())}
