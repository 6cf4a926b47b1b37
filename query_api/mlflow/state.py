"""What the MLflow front door must know before it accepts a write: does the run exist, is it active, which
params and tags does it hold, which seq comes next; the same for experiments.

Entries are loaded from ClickHouse after the read barrier (so this instance's earlier writes are in them) and
then kept up to date by this instance's own writes, so a stream of writes to one run costs no query. A change
made through another API instance is not seen by an entry already cached here: MLflow's checks (immutable
params, no writes to deleted runs) are exact when one instance, or sticky routing by run, serves a run's writes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar


@dataclass
class RunState:
    run_id: str
    experiment_id: str
    name: str
    deleted: bool
    params: dict[str, str]
    tags: dict[str, str]
    seq: int  # last seq used for this run
    status: str = "RUNNING"
    user: str = ""
    start_ms: int | None = None
    end_ms: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


@dataclass
class ExperimentState:
    experiment_id: str
    name: str
    deleted: bool
    tags: dict[str, str]
    announced: bool = True  # False for the Default experiment until an ExperimentCreated for it is logged
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


S = TypeVar("S")


class StateCache(Generic[S]):
    """A bounded LRU of states by id; `load` returns None for an id that does not exist (not cached)."""

    def __init__(self, load: Callable[[str], S | None], *, max_entries: int = 10_000) -> None:
        self._load = load
        self._entries: OrderedDict[str, S] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: str) -> S | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        loaded = self._load(key)
        if loaded is None:
            return None
        with self._lock:
            current = self._entries.get(key)
            if current is not None:
                return current  # another request loaded it meanwhile: keep the one being written to
            self._put(key, loaded)
        return loaded

    def put(self, key: str, state: S) -> None:
        with self._lock:
            self._put(key, state)

    def _put(self, key: str, state: S) -> None:
        self._entries[key] = state
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)
