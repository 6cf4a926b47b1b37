"""Read-your-writes for the API's own writes: a read waits, bounded, until the projector has passed every
offset this API instance had acknowledged when the read began."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from query_api.errors import Unavailable


class ProjectorBehind(Unavailable):
    """The projector has not reached this instance's writes within the bound (MLflow's client retries 503)."""


def reached(positions: dict[int, int], targets: dict[int, int]) -> bool:
    """True when every partition's projected position is at or past its target offset."""
    return all(positions.get(p, -1) >= offset for p, offset in targets.items())


class ReadBarrier:
    """Waits for the projector to pass the acknowledged offsets; remembers the last positions it saw."""

    def __init__(self, acked: Callable[[], dict[int, int]], positions: Callable[[], dict[int, int]], *,
                 local: Callable[[], dict[int, int]] | None = None, timeout_s: float = 10.0,
                 interval_s: float = 0.02) -> None:
        """`positions` reads the projected positions (ClickHouse); `local`, when the projector runs in this
        process, gives the partitions it owns from memory, which costs no query and so is polled finer."""
        self._acked = acked
        self._positions = positions
        self._local = local
        self.timeout_s = timeout_s
        self.interval_s = interval_s
        self._seen: dict[int, int] = {}
        self._lock = threading.Lock()

    def _targets(self, after: dict[int, int] | None) -> dict[int, int]:
        """This instance's acknowledged writes, and the positions a request asked for (`X-Runstream-After`)."""
        targets = self._acked()
        for p, o in (after or {}).items():
            targets[p] = max(o, targets.get(p, -1))
        return targets

    def passed(self, after: dict[int, int] | None = None) -> bool:
        """True when the positions last seen already cover this instance's writes so far and `after` (no wait,
        no query)."""
        return self._covered(self._targets(after))

    def _covered(self, targets: dict[int, int]) -> bool:
        with self._lock:
            return reached(self._seen, targets)

    def wait(self, after: dict[int, int] | None = None) -> None:
        """Return once this instance's writes so far and the positions in `after` are visible; raise
        ProjectorBehind after the bound."""
        targets = self._targets(after)
        if self._covered(targets):
            return
        now = time.monotonic()
        # with a local projector ClickHouse is asked less often: it matters only for partitions owned elsewhere
        query_every = self.interval_s * (5 if self._local is not None else 1)
        deadline, next_query = now + self.timeout_s, now
        while True:
            seen = self._local() if self._local is not None else {}
            if not reached(seen, targets) and time.monotonic() >= next_query:
                for p, o in self._positions().items():  # every projector's position, the local one's included
                    seen[p] = max(o, seen.get(p, -1))
                next_query = time.monotonic() + query_every
            with self._lock:
                for p, o in seen.items():
                    self._seen[p] = max(o, self._seen.get(p, -1))
                if reached(self._seen, targets):
                    return
                behind = sorted(p for p, o in targets.items() if self._seen.get(p, -1) < o)
            if time.monotonic() >= deadline:
                asked = " or the positions asked for" if after else ""
                raise ProjectorBehind(
                    f"the projector has not reached this server's writes{asked} within {self.timeout_s:g} s "
                    f"(partitions {behind}); check /healthz")
            time.sleep(self.interval_s / 10 if self._local is not None else self.interval_s)
