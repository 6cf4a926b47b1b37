"""Giving memory the process has freed back to the operating system while the projector works through a backlog.

Two allocators keep freed pages resident: embedded ClickHouse's jemalloc holds dirty pages for 5 s
(`dirty_decay_ms`, fixed in chdb's build; MALLOC_CONF is not read), and glibc's malloc (numpy columns, librdkafka's
buffers) keeps free chunks inside its per-thread arenas. With a 10M-point backlog they were ~120 and ~60 MB of the
server's peak RSS (benchmarks/results/rss-20261203b.md). Releasing them costs a few milliseconds, so it is done
at most every `interval_s` seconds, between batches.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

log = logging.getLogger("runstream.projector")

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


class MemoryRelease:
    """Returns freed memory to the OS at most every `interval_s` (0: never): embedded ClickHouse's allocator
    (`SYSTEM JEMALLOC PURGE`, only when `embedded`: a ClickHouse server manages its own) and glibc's arenas."""

    def __init__(self, client: Client | None, interval_s: float, *, embedded: bool,
                 trim: Callable[[], object] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client if embedded else None
        self._interval_s = interval_s
        self._trim = trim
        self._clock = clock
        self._last = clock()
        self._pending = False
        self.releases = 0

    def __call__(self, *, wrote: bool) -> None:
        """After a batch (`wrote`) or an idle poll: release if something was written since the last release and
        `interval_s` has passed since it (an idle projector asks nothing of ClickHouse)."""
        self._pending = self._pending or wrote
        if self._interval_s <= 0 or not self._pending:
            return
        now = self._clock()
        if now - self._last < self._interval_s:
            return
        self._last, self._pending = now, False
        self.releases += 1
        if self._client is not None:
            try:
                self._client.command(PURGE)
            except ClickHouseError as exc:  # memory stays as it was; nothing written depends on it
                log.warning("%s failed (%s); not asked again", PURGE, exc)
                self._client = None
        if self._trim is not None:
            self._trim()
