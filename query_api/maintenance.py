"""The server's one maintenance slot: at most one rebuild or verify at a time, run on a background thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from consumers.clickhouse import connect
from consumers.maintenance import Kind, LiveProjection, MaintenanceJob, select_tables
from consumers.settings import ProjectorSettings
from query_api.errors import ApiError

log = logging.getLogger("runstream.api.admin")


class Busy(ApiError):
    status_code = 409
    error_code = "RESOURCE_CONFLICT"


class MaintenanceRunner:
    def __init__(self, settings: ProjectorSettings, live: LiveProjection | None) -> None:
        self.settings = settings
        self.live = live
        self._lock = threading.Lock()
        self._current: MaintenanceJob | None = None
        self._thread: threading.Thread | None = None
        self._last: dict[Kind, MaintenanceJob] = {}
        self._started = 0  # jobs started: a rebuild rewrites tables without moving the log positions

    def generation(self) -> int | None:
        """How many jobs were started, or None while one runs (tables may then be half rewritten): part of the
        data version of remembered answers (query_api/answers.py)."""
        with self._lock:
            running = self._current is not None and self._current.status.state == "running"
            return None if running else self._started

    def start(self, kind: Kind, only: Sequence[str] | None) -> MaintenanceJob:
        """Start a job, or raise Busy naming the one that runs; a bad table name is a ValueError."""
        select_tables(only)  # refuse unknown tables before anything starts
        with self._lock:
            running = self._current
            if running is not None and running.status.state == "running":
                raise Busy(f"a {running.kind} is running since {running.status.started_at.isoformat()} "
                           f"(phase: {running.status.phase}); wait for it to end")
            client = connect(self.settings.clickhouse_url, self.settings.clickhouse_database)
            job = MaintenanceJob(kind, self.settings, client, only=only, live=self.live)
            self._current = self._last[kind] = job
            self._started += 1
            self._thread = threading.Thread(target=self._run, args=(job, client), name=f"runstream-{kind}",
                                            daemon=True)
            self._thread.start()
            return job

    def last(self, kind: Kind) -> MaintenanceJob | None:
        return self._last.get(kind)

    def close(self, timeout: float = 30.0) -> None:
        job, thread = self._current, self._thread
        if job is not None:
            job.cancel.set()
        if thread is not None:
            thread.join(timeout)

    @staticmethod
    def _run(job: MaintenanceJob, client: object) -> None:
        try:
            job.run()
        finally:
            close = getattr(client, "close", None)
            if close is not None:
                close()
