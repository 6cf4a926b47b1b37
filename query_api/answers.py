"""Answers remembered while nothing new is visible: the encoded response of a read, keyed by who asked (the
digest of the presented token) and the normalized question, and valid only at the data version it was read at.

The data version is what the projector has made visible (the log positions of event_offsets, which move only
after every other table of a batch is written) plus the maintenance generation (a rebuild rewrites tables
without moving positions). A write becomes visible by moving a position, so an answer read before it is never
served after it: the version differs and the entry is read again. The version is read BEFORE the answer, so an
answer may be fresher than its version but never older. With no version known (None) nothing is remembered.

Routes look an answer up only after their dependencies passed (token and scope checked, read-your-writes
waited for), and the asker is part of the key, so an answer never crosses tokens. Bounded by entries and bytes;
the least recently used goes first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import orjson

Version = Hashable


def asker(authorization: str | None) -> str:
    """Who asks, as the cache keys them: the SHA-256 of the Authorization header ('' without one)."""
    return hashlib.sha256(authorization.encode()).hexdigest() if authorization else ""


def no_cache(cache_control: str | None) -> bool:
    """True when a Cache-Control header asks for an answer read now (no-cache or no-store)."""
    directives = {d.strip().lower() for d in (cache_control or "").split(",")}
    return bool(directives & {"no-cache", "no-store"})


def question(route: str, body: Any) -> bytes:
    """A request body normalized (keys sorted), so the same question asked with its fields in another order is
    the same key."""
    return route.encode() + b"\0" + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


class Answers:
    """Encoded answers by (asker, question), each valid at one data version; bounded in entries and bytes."""

    def __init__(self, max_entries: int = 256, max_bytes: int = 64 << 20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, bytes], tuple[Version, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: tuple[str, bytes], version: Version | None) -> bytes | None:
        """The answer remembered for `key` at `version`; None (and the entry forgotten) at any other version."""
        return self._look(key, version, miss=True)

    def peek(self, key: tuple[str, bytes], version: Version | None) -> bytes | None:
        """`get` that counts only a hit and forgets nothing: a look that a full `answer` follows when it finds
        nothing (which counts the miss)."""
        return self._look(key, version, miss=False)

    def _look(self, key: tuple[str, bytes], version: Version | None, *, miss: bool) -> bytes | None:
        """The entry at `version` (a hit, moved to the end); else None, and with `miss` the stale entry forgotten
        and the miss counted."""
        with self._lock:
            found = self._entries.get(key)
            if found is None or version is None or found[0] != version:
                if miss:
                    if found is not None:
                        self._drop(key)
                    self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, key: tuple[str, bytes], version: Version | None, body: bytes) -> None:
        """Remember `body` for `key`, read at `version` (read before the answer); too big or no version: not."""
        size = len(body) + len(key[1])
        if version is None or size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (version, body)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def answer(self, key: tuple[str, bytes], version: Callable[[], Version | None],
               read: Callable[[Version | None], bytes], *, fresh: bool = False) -> bytes:
        """The remembered answer at the current version, else `read(version)`'s, remembered at the version read
        first (which `read` may pin its statement to: `positions_of`); `fresh` (the asker sent Cache-Control:
        no-cache) always reads."""
        return self.answer_from(key, version, read, fresh=fresh)[0]

    def answer_from(self, key: tuple[str, bytes], version: Callable[[], Version | None],
                    read: Callable[[Version | None], bytes], *, fresh: bool = False) -> tuple[bytes, bool]:
        """`answer`'s body, and True where it came from memory (False: read now)."""
        now = version()
        found = None if fresh else self.get(key, now)
        if found is not None:
            return found, True
        body = read(now)
        self.put(key, now, body)
        return body, False

    def _drop(self, key: tuple[str, bytes]) -> None:
        _, body = self._entries.pop(key)
        self._bytes -= len(body) + len(key[1])


def data_version(positions: Callable[[], dict[int, int]], generation: Callable[[], int | None]) -> Version | None:
    """The data version answers are valid at: (maintenance generation, log positions), or None (remember
    nothing) while maintenance runs or when no position is known yet (a projector that has not loaded them)."""
    before = generation()
    if before is None:
        return None
    seen = positions()
    if not seen:
        return None
    return before, tuple(sorted(seen.items()))


def positions_of(version: Version | None) -> dict[int, int] | None:
    """The log positions (partition -> offset) a `data_version` was read at, or None (no version). A read pinned
    to them sees exactly what the version stands for, and needs no read of the positions of its own."""
    if not isinstance(version, tuple) or len(version) != 2:
        return None
    return {int(partition): int(offset) for partition, offset in version[1]}
