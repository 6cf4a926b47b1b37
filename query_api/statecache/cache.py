"""The exact current state of experiments' runs, held per experiment by the API process and kept at the data
version (query_api/answers.py) a search asks at: an index to evaluate searches on, not a remembered answer.

The first search of an experiment loads its runs (run_state FINAL and their metric summaries); when the log
positions have moved since, the next search reads only the runs with a state or summary row written after the
old positions and puts their new rows in (no FINAL over the experiment); a new maintenance generation (a rebuild)
drops everything. Read from ClickHouse tables only, so an API apart from its projector works the same.

In the app, loads and refreshes run on a background thread: a search that finds its experiment's state missing
or stale takes the SQL path and hands the load or refresh over, so no search waits for one (at 10,000 runs a full
load takes ~1.5 s and a refresh of a few runs 50-200 ms under load, more than the SQL search itself).

Held states are also kept current without waiting for a question that finds them stale (a remembered answer never
asks the state, so positions that moved while only remembered answers were served used to be found stale by the
next cold question, which took the SQL path): `moved()` (the hosted projector, idle after writing) and `seen()`
(a data version a question read, for an API apart from its projector) start a catch-up that refreshes every held
stale state to the current data version on the background thread, once the version has stood still
`catch_up_quiet_s` (while positions keep moving an ingest is under way), at most once per `catch_up_every_s` and
`catch_up_share` of the time.

Bounded by runs: the least recently searched experiments go first; an experiment bigger than the bound is not
held (its searches take the SQL path). Thread-safe: one lock per experiment serializes its loads and refreshes;
a state, once built, never changes, so readers hold it without a lock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from query_api.answers import Version
from query_api.queries import experiment_state
from query_api.statecache.collector import collector_paused
from query_api.statecache.state import ExperimentState, RunRow, Summary, covers, merged, run_rows, unheld

log = logging.getLogger("runstream.api")


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    state: ExperimentState | None = None
    too_big_at: int | None = None  # the generation at which the experiment held more runs than the bound
    pending: bool = False  # a load or refresh is handed to the background


@dataclass
class Stats:
    loads: int = 0
    refreshes: int = 0
    current: int = 0
    refused: int = 0
    last_load_ms: float = 0.0
    last_refresh_ms: float = 0.0
    last_refresh_runs: int = 0
    catch_ups: int = 0  # held states brought up to the data version with no question waiting for them
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Questions answered, by (question, path): "state" (evaluated over a held state) or "sql"."""


class RunStates:
    """Experiments' run states by experiment id, at most `max_runs` runs in all (least recently used dropped)."""

    def __init__(self, max_runs: int, *, refresh_fraction: float = 0.25, background: Executor | None = None,
                 delay_s: float = 0.0, client: Client | None = None,
                 version: Callable[[], Version | None] | None = None, catch_up_quiet_s: float = 0.2,
                 catch_up_every_s: float = 1.0, catch_up_share: float = 0.25) -> None:
        self.max_runs = max_runs
        self.background = background  # where loads and refreshes run, off the searches' path (None: in them)
        self.delay_s = delay_s  # a background load waits this long first: the search that asked it runs alone
        self.refresh_fraction = refresh_fraction  # more changed runs than this share: a full load instead
        self.client = client  # with `version` and `background`: catch-ups read through it
        self.version = version  # the current data version (query_api/answers.data_version), for catch-ups
        self.catch_up_quiet_s = catch_up_quiet_s  # a catch-up starts once the version stood still this long
        self.catch_up_every_s = catch_up_every_s  # at most one catch-up started per this many seconds,
        self.catch_up_share = catch_up_share  # and at most this share of the time spent catching up
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None  # a catch-up waiting to start
        self._quiet_from: Version | None = None  # the version last seen by a move, a question or a catch-up,
        self._quiet_since = 0.0  # and the time.monotonic() it was first seen
        self._next_catch_up = -float("inf")  # time.monotonic() before which no catch-up starts
        self._closed = False
        self.stats = Stats()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if self.background is not None:
            self.background.shutdown(wait=False, cancel_futures=True)

    # -- catching up with no question asked ------------------------------------------------------------------
    def moved(self) -> None:
        """The log positions moved (the hosted projector has written and has nothing more to read): bring held
        states up to the data version once it stands still, on the background thread. Cheap: reads the version
        (from the projector's memory) only while some state is held."""
        if self.version is not None and self._holding():
            self._consider(self.version(), self.catch_up_quiet_s)

    def seen(self, version: Version | None) -> None:
        """A question read the data version `version`: when some held state does not hold everything up to it,
        catch up once the version stands still (and after `delay_s`: the question runs first). Lets an API apart
        from its projector, which learns positions only from questions, keep held states current while it
        serves remembered answers."""
        self._consider(version, max(self.delay_s, self.catch_up_quiet_s))

    def _consider(self, version: Version | None, delay_s: float) -> None:
        if not isinstance(version, tuple) or len(version) != 2:
            return
        generation, positions = version[0], dict(version[1])
        with self._lock:
            stale = any(slot.state is not None and not slot.pending and slot.too_big_at != generation
                        and not _holds(slot.state, generation, positions) for slot in self._slots.values())
        if stale:
            self._schedule(delay_s, version)

    def _holding(self) -> bool:
        with self._lock:
            return any(slot.state is not None for slot in self._slots.values())

    def _schedule(self, delay_s: float, version: Version | None) -> None:
        """Start a catch-up after `delay_s` (and not before the rate allows) unless one is waiting; the version
        last seen is what it checks for standing still."""
        if self.background is None or self.version is None or self.client is None:
            return
        with self._lock:
            self._note(version)
            if self._timer is not None or self._closed:
                return
            wait = max(delay_s, self._next_catch_up - time.monotonic())
            self._timer = timer = threading.Timer(wait, self._start_catch_up)
            timer.daemon = True
        timer.start()

    def _note(self, version: Version | None) -> None:
        """Under the lock: remember since when the version stands where it stands now."""
        if version != self._quiet_from:
            self._quiet_from, self._quiet_since = version, time.monotonic()

    def _start_catch_up(self) -> None:
        assert self.background is not None
        with contextlib.suppress(RuntimeError):  # shut down meanwhile
            self.background.submit(self._catch_up)

    def _catch_up(self) -> None:
        """Refresh (or, after a rebuild, load) every held state that does not hold the current data version,
        the most recently used first, once the version stood still since it was scheduled (while the log
        positions keep moving, an ingest is under way: wait for its end rather than refresh per insert group)."""
        assert self.version is not None
        with self._lock:
            self._timer = None
            if self._closed:
                return
        started = time.monotonic()
        try:
            version = self.version()
            with self._lock:
                self._note(version)
                still = started - self._quiet_since
            if still < self.catch_up_quiet_s:
                self._schedule(self.catch_up_quiet_s - still, version)
                return
            if not isinstance(version, tuple) or len(version) != 2:
                return
            log.debug("catching up with %s (stood still %.2f s)", version, still)
            if not self._refresh_held(version[0], dict(version[1])):
                return
        except Exception:  # the states stay as they were; a question or the next move retries
            log.exception("could not bring the held run states up to the data version")
        took = time.monotonic() - started
        with self._lock:  # the rate bounds catch-ups that read something
            self._next_catch_up = started + max(self.catch_up_every_s, took / self.catch_up_share)

    def _refresh_held(self, generation: int, positions: dict[int, int]) -> int:
        """Bring every held state that does not hold `positions` at `generation` up to them; how many."""
        client = self.client
        assert client is not None
        done = 0
        with self._lock:
            held = [(e, s) for e, s in reversed(self._slots.items()) if s.state is not None]
        for experiment_id, slot in held:
            with self._lock:
                if slot.pending or slot.state is None or _holds(slot.state, generation, positions):
                    continue
                slot.pending = True
            try:
                with slot.lock:
                    self._current(client, experiment_id, slot, generation, positions)
                self.stats.catch_ups += 1
                done += 1
            finally:
                slot.pending = False
        self._evict(keep=set())
        return done

    @property
    def runs(self) -> int:
        with self._lock:
            return sum(len(s.state.rows) for s in self._slots.values() if s.state is not None)

    def states(self, client: Client, experiment_ids: Sequence[str], generation: int,
               positions: dict[int, int]) -> list[ExperimentState] | None:
        """Each experiment's state holding everything up to `positions` at `generation`, or None when they cannot
        all be held now (then the caller takes the SQL path). Without `background` a missing or stale state is
        loaded or refreshed here; with it, it is loaded or refreshed there and this search gets None."""
        found: list[ExperimentState] = []
        for experiment_id in experiment_ids:
            with self._lock:
                slot = self._slots.get(experiment_id)
                if slot is None:
                    slot = self._slots[experiment_id] = _Slot()
                self._slots.move_to_end(experiment_id)
            if self.background is None:
                with slot.lock:
                    state = self._current(client, experiment_id, slot, generation, positions)
            else:
                state = self._ready(client, experiment_id, slot, generation, positions)
            if state is None:
                return None
            found.append(state)
        if sum(len(s.rows) for s in found) > self.max_runs:
            return None
        self._evict(keep=set(experiment_ids))
        return found

    def answered(self, question: str, *, held: bool) -> None:
        """Count one answer to `question` (leaderboard, parallel_coordinates, search) by the path that gave it."""
        path = "state" if held else "sql"
        with self._lock:
            self.stats.answers[(question, path)] += 1
        log.debug("%s answered by the %s path", question, path)

    def answer_counts(self) -> dict[tuple[str, str], int]:
        """A copy of the answers counted so far by (question, path)."""
        with self._lock:
            return dict(self.stats.answers)

    def state_at(self, client: Client, experiment_id: str, version: Version | None) -> ExperimentState | None:
        """The experiment's state holding everything up to the data version `version` (query_api/answers.py),
        or None (no version, or not held now: then the caller asks ClickHouse), as `states` decides."""
        if not isinstance(version, tuple) or len(version) != 2:
            return None
        found = self.states(client, [experiment_id], version[0], dict(version[1]))
        return found[0] if found else None

    def _ready(self, client: Client, experiment_id: str, slot: _Slot, generation: int,
               positions: dict[int, int]) -> ExperimentState | None:
        """The slot's state if it is current; else None, with a load or refresh handed to the background."""
        state = slot.state
        if state is not None and _holds(state, generation, positions):
            self.stats.current += 1
            return state
        if slot.too_big_at == generation:
            self.stats.refused += 1
            return None
        if log.isEnabledFor(logging.DEBUG):
            log.debug("state of %s not current (%s): held at %s, asked %s, pending %s", experiment_id,
                      "missing" if state is None else "stale", None if state is None else state.positions,
                      positions, slot.pending)
        with self._lock:
            if slot.pending:
                return None
            slot.pending = True
        assert self.background is not None
        self.background.submit(self._update, client, experiment_id, slot, generation, dict(positions))
        return None

    def _update(self, client: Client, experiment_id: str, slot: _Slot, generation: int,
                positions: dict[int, int]) -> None:
        try:
            time.sleep(self.delay_s)
            with slot.lock:
                self._current(client, experiment_id, slot, generation, positions)
            self._evict(keep={experiment_id})
        except Exception:  # the index stays as it was and searches take the SQL path; the next one retries
            log.exception("could not load or refresh the run state of experiment %s", experiment_id)
        finally:
            slot.pending = False
        self.moved()  # positions that moved while it was read: caught up once they stand still

    def _current(self, client: Client, experiment_id: str, slot: _Slot, generation: int,
                 positions: dict[int, int]) -> ExperimentState | None:
        if slot.too_big_at == generation:
            self.stats.refused += 1
            return None
        old = slot.state
        if old is not None and old.generation == generation:
            if covers(old.positions, positions):
                self.stats.current += 1
                return old
            slot.state = self._refresh(client, experiment_id, old, generation, positions)
        else:
            slot.state = self._load(client, experiment_id, generation, positions)
        if slot.state is None:
            slot.too_big_at = generation
        return slot.state

    def _load(self, client: Client, experiment_id: str, generation: int, positions: dict[int, int]
              ) -> ExperimentState | None:
        started = time.perf_counter()
        read = _read(client, experiment_id, limit=self.max_runs)
        if read is None:
            return None
        rows, held = read
        self.stats.loads += 1
        self.stats.last_load_ms = (time.perf_counter() - started) * 1000
        log.debug("loaded the state of %s at %s in %.1f ms", experiment_id, positions, self.stats.last_load_ms)
        return ExperimentState(generation, dict(positions), tuple(rows), held)

    def _refresh(self, client: Client, experiment_id: str, old: ExperimentState, generation: int,
                 positions: dict[int, int]) -> ExperimentState | None:
        started = time.perf_counter()
        changed = experiment_state.changed(client, [experiment_id], old.positions)
        if len(changed) > max(self.refresh_fraction * len(old.rows), 1000):
            return self._load(client, experiment_id, generation, positions)
        if changed:
            rows, held = _read(client, experiment_id, changed) or ([], {})
            found = {row.run_id for row in rows}
            state = old.replaced(rows, [r for r in changed if r not in found], generation,
                                 merged(old.positions, positions), held)
        else:
            state = ExperimentState(generation, merged(old.positions, positions), old.rows, old.unheld)
            state.columns, state.shaped = old.columns, old.shaped  # the same rows: the same columns and records
        if len(state.rows) > self.max_runs:
            return None
        self.stats.refreshes += 1
        self.stats.last_refresh_ms = (time.perf_counter() - started) * 1000
        self.stats.last_refresh_runs = len(changed)
        log.debug("refreshed the state of %s at %s in %.1f ms (%d runs changed)", experiment_id, positions,
                  self.stats.last_refresh_ms, len(changed))
        return state

    def _evict(self, keep: set[str]) -> None:
        """Drop the least recently used experiments' states until the held runs are within the bound."""
        with self._lock:
            held = sum(len(s.state.rows) for s in self._slots.values() if s.state is not None)
            for experiment_id in list(self._slots):
                if held <= self.max_runs:
                    break
                if experiment_id in keep:
                    continue
                slot = self._slots.pop(experiment_id)
                if slot.state is not None:
                    held -= len(slot.state.rows)


def _read(client: Client, experiment_id: str, run_ids: list[str] | None = None, limit: int = 2**63 - 2
          ) -> tuple[list[RunRow], dict[str, dict[str, Summary]]] | None:
    """The experiment's run rows (only `run_ids` when given) and its unheld summaries; None over `limit` runs.
    Read and shaped with Python's cyclic collector paused (query_api/statecache/collector.py), and the query
    results are freed before the pause ends, so the collector's next pass walks only what is kept."""
    with collector_paused():
        return _read_rows(client, experiment_id, run_ids, limit)


def _read_rows(client: Client, experiment_id: str, run_ids: list[str] | None, limit: int
               ) -> tuple[list[RunRow], dict[str, dict[str, Summary]]] | None:
    states = experiment_state.states(client, [experiment_id], run_ids, limit=limit + 1)
    if len(states) > limit:
        return None
    summaries = experiment_state.summaries(client, [experiment_id], run_ids)
    rows = run_rows(states, summaries)
    return rows, unheld(rows, summaries)


def _holds(state: ExperimentState, generation: int, positions: dict[int, int]) -> bool:
    """True when `state` holds everything up to `positions` at `generation` (it may be used at that version)."""
    return state.generation == generation and covers(state.positions, positions)
