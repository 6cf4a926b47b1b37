"""Runs a projector on a background thread of a host process (the local server)."""

from __future__ import annotations

import logging
import threading

from clickhouse_connect.driver.client import Client

from consumers.derived import OFFSETS
from consumers.projector import Projector
from consumers.settings import ProjectorSettings

log = logging.getLogger("runstream.projector")


class ProjectorThread:
    """Starts and stops one projector; remembers why it died, if it did."""

    def __init__(self, settings: ProjectorSettings, client: Client) -> None:
        self.projector = Projector(settings, client)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="runstream-projector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def projected(self) -> dict[int, int]:
        """What readers see as projected, for the partitions this projector holds: the positions of
        event_offsets, derived from the events table after every other table of a batch is written (the
        events table's own position moves a moment earlier, before event_offsets catches up)."""
        try:
            return dict(self.projector.positions.get(OFFSETS.table, {}))
        except RuntimeError:  # the dict changed while copied: report nothing rather than a torn view
            return {}

    def projected_alone(self) -> dict[int, int] | None:
        """`projected()` while this projector holds every partition of the topic (so no other member of the group
        writes what readers see), else None."""
        return self.projected() if self.projector.owns_topic() else None

    def caught_up(self) -> dict[int, int]:
        """Per partition, the log offset before which everything is projected (transaction markers included)."""
        return dict(self.projector.caught_up)

    def stalled(self) -> list[dict[str, object]]:
        """Partitions the consumer cannot read past right now (each is skipped after a few tries)."""
        return self.projector.stalls.report()

    def skipped(self) -> list[dict[str, object]]:
        """The latest batches skipped because they could not be read, each recorded as dead letters."""
        return list(self.projector.stats.skips)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self.projector.run(self._stop)
        except BaseException as exc:  # the thread ends here, loudly: logged, kept, and reported by /healthz
            self.error = exc
            log.exception("projector stopped")
