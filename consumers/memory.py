"""Giving memory the process has freed back to the operating system while a reader works through a backlog.

Two allocators keep freed pages resident: embedded ClickHouse's jemalloc holds dirty pages for 5 s
(`dirty_decay_ms`, fixed in chdb's build; MALLOC_CONF is not read), ~60-170 MB of the server's peak RSS with a
10M-point backlog, and glibc's malloc keeps free chunks inside its per-thread arenas (benchmarks/results/
rss-20261203b.md). Handing pages back costs CPU (the next insert or merge faults them in again: purging every 0.5 s
throughout a drain cost it ~15-25% more server CPU), so the projector purges ClickHouse's, on a thread of its own,
only while the process's RSS is over a bound; the alert worker's process trims glibc's between its batches.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the alert worker's process imports this module and never ClickHouse's client
    from clickhouse_connect.driver.client import Client

log = logging.getLogger("runstream.memory")

PURGE = "SYSTEM JEMALLOC PURGE"
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _glibc(function: str) -> Any | None:
    """A function of glibc's, or None where there is none (no libc found; musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), function)
    except (OSError, AttributeError):
        return None


def libc_trim() -> Callable[[], object] | None:
    """glibc's `malloc_trim(0)` (free pages of every arena returned to the OS), or None where there is none."""
    trim = _glibc("malloc_trim")
    if trim is None:
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


M_MMAP_THRESHOLD = -3  # mallopt(3)'s parameter (glibc's malloc.h)


def malloc_options(*, mmap_threshold_kb: int = 0) -> dict[int, int]:
    """The mallopt(3) parameters to set for these settings (0: glibc's default, left alone). A fixed mmap threshold
    turns off glibc's sliding one (raised to the size of each large block freed, up to 32 MiB, with the trim
    threshold at twice that), so blocks over it are unmapped when freed instead of staying in the arenas."""
    return {M_MMAP_THRESHOLD: mmap_threshold_kb * 1024} if mmap_threshold_kb > 0 else {}


def libc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's `mallopt`, or None where there is none."""
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return lambda param, value: int(mallopt(param, value))


def set_malloc_options(options: dict[int, int], mallopt: Callable[[int, int], int] | None = None) -> bool:
    """Set glibc's malloc parameters in this process, early (before threads start and large blocks are allocated).
    False if there is no glibc or it refused one."""
    if not options:
        return True
    mallopt = mallopt or libc_mallopt()
    if mallopt is None:
        log.warning("no glibc mallopt here: malloc settings %s not applied", options)
        return False
    refused = [param for param, value in options.items() if mallopt(param, value) != 1]
    if refused:
        log.warning("mallopt refused parameters %s", refused)
    return not refused


def resident_mb() -> float:
    """This process's resident set in MiB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


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
                 trim: Callable[[], object] | None = None, clock: Callable[[], float] = time.monotonic,
                 above_mb: float = 0.0, rss_mb: Callable[[], float] | None = None) -> None:
        self._interval_s = interval_s
        self._above_mb = above_mb
        self._rss_mb = rss_mb or resident_mb
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
        last release, and only while the process's RSS is over `above_mb` (when set): pages handed back are faulted
        in again by the next insert or merge, so releasing costs CPU and is kept for when memory is high (for a
        thread of its own)."""
        if self._interval_s <= 0:
            return
        while not stop.wait(self._interval_s):
            if (self._busy or self._pending) and (self._above_mb <= 0 or self._rss_mb() > self._above_mb):
                self._pending = False
                self.releases += 1
                self.release()
