"""Giving memory the process has freed back to the operating system while a reader works through a backlog.

Two allocators keep freed pages resident: embedded ClickHouse's jemalloc holds dirty pages for 5 s
(`dirty_decay_ms`, fixed in chdb's build; MALLOC_CONF is not read), ~100-170 MB of the server's peak RSS with a
10M-point backlog, and glibc's malloc keeps free chunks inside its per-thread arenas (benchmarks/results/
rss-20261203b.md). The projector purges ClickHouse's on a thread of its own every `memory_release_s` (its peak comes
in the middle of a batch, when an insert or a merge has just freed its blocks; between batches was not enough); the
alert worker's process trims glibc's between its batches (in the projector's process trimming cost ~10% more CPU).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the alert worker's process imports this module and never ClickHouse's client
    from clickhouse_connect.driver.client import Client

log = logging.getLogger("runstream.memory")

PURGE = "SYSTEM JEMALLOC PURGE"


def libc_trim() -> Callable[[], object] | None:
    """glibc's `malloc_trim(0)` (free pages of every arena returned to the OS), or None where there is none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


def jemalloc_purge(client: Client) -> Callable[[], bool]:
    """`SYSTEM JEMALLOC PURGE` through `client` (embedded ClickHouse: the allocator of this process); False once
    ClickHouse refuses it."""
    from clickhouse_connect.driver.exceptions import ClickHouseError

    def purge() -> bool:
        try:
            client.command(PURGE)
        except ClickHouseError as exc:  # memory stays as it was; nothing written depends on it
            log.warning("%s failed (%s); not asked again", PURGE, exc)
            return False
        return True

    return purge


class MemoryRelease:
    """Returns freed memory to the OS at most every `interval_s` (0: never), after work: ClickHouse's allocator
    (`purge`, for an embedded ClickHouse only: a server manages its own) and glibc's arenas (`trim`)."""

    def __init__(self, interval_s: float, *, purge: Callable[[], bool] | None = None,
                 trim: Callable[[], object] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._purge = purge
        self._trim = trim
        self._clock = clock
        self._last = clock()
        self._pending = False
        self._busy = False
        self.releases = 0

    def __call__(self, *, wrote: bool) -> None:
        """After a batch (`wrote`) or an idle poll: release if something was written since the last release and
        `interval_s` has passed since it (an idle reader asks nothing of ClickHouse)."""
        self._pending = self._pending or wrote
        if self._interval_s <= 0 or not self._pending:
            return
        now = self._clock()
        if now - self._last < self._interval_s:
            return
        self._last, self._pending = now, False
        self.releases += 1
        self.release()

    def release(self) -> None:
        """Release now."""
        if self._purge is not None and not self._purge():
            self._purge = None
        if self._trim is not None:
            self._trim()

    def working(self, busy: bool) -> None:
        """A batch starts (True) or ends (False), for `run`."""
        self._busy = busy
        self._pending = True

    def run(self, stop: threading.Event) -> None:
        """Every `interval_s` until `stop` is set, release while a batch is in progress or if one ended since the
        last release (for a thread of its own)."""
        if self._interval_s <= 0:
            return
        while not stop.wait(self._interval_s):
            if self._busy or self._pending:
                self._pending = False
                self.releases += 1
                self.release()
