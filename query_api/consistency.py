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
                 timeout_s: float = 10.0, interval_s: float = 0.02) -> None:
        self._acked = acked
        self._positions = positions
        self.timeout_s = timeout_s
        self.interval_s = interval_s
        self._seen: dict[int, int] = {}
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Return once this instance's writes so far are visible; raise ProjectorBehind after the bound."""
        targets = self._acked()
        with self._lock:
            if reached(self._seen, targets):
                return
        deadline = time.monotonic() + self.timeout_s
        while True:
            seen = self._positions()
            with self._lock:
                for p, o in seen.items():
                    self._seen[p] = max(o, self._seen.get(p, -1))
                if reached(self._seen, targets):
                    return
            if time.monotonic() >= deadline:
                behind = {p: o for p, o in targets.items() if seen.get(p, -1) < o}
                raise ProjectorBehind(
                    f"the projector has not reached this server's writes within {self.timeout_s:g} s "
                    f"(partitions {sorted(behind)}); check /healthz")
            time.sleep(self.interval_s)
