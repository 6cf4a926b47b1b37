"""Tracker: the entry point of the SDK."""

from __future__ import annotations

import atexit
import getpass
import logging
import os
import socket
import threading
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from producer import validation as v
from producer.channel import EventChannel
from producer.publisher import Publisher
from producer.run import ActiveRun
from producer.settings import TrackerSettings
from schemas import ExperimentCreated, Producer, RunStarted
from schemas.factory import EventFactory
from schemas.ids import experiment_id_for, new_run_id
from schemas.positions import HEADER, format_positions

log = logging.getLogger("runstream.producer")


def _sdk_version() -> str:
    try:
        return version("runstream")
    except PackageNotFoundError:
        return "0+unknown"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


class Tracker:
    """Publishes run events to Kafka. One per process is enough; it is thread-safe."""

    def __init__(
        self,
        *,
        bootstrap_servers: str | None = None,
        topic: str | None = None,
        settings: TrackerSettings | None = None,
        producer_config: Mapping[str, Any] | None = None,
        publisher: Publisher | None = None,
    ) -> None:
        overrides = {k: x for k, x in (("kafka_bootstrap_servers", bootstrap_servers), ("topic", topic)) if x}
        base = settings or TrackerSettings()
        self.settings = base.model_copy(update=overrides) if overrides else base
        self._publisher = publisher or Publisher(self.settings, extra_config=dict(producer_config or {}))
        self._identity = Producer(socket.gethostname(), os.getpid(), _user(), _sdk_version())
        self._channel = EventChannel(EventFactory(self._identity), self._publisher)
        self._lock = threading.Lock()
        self._announced: dict[str, str] = {}  # experiment name -> its id, once announced
        self._pending: set[ActiveRun] = set()
        self._closed = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="runstream-flusher", daemon=True)
        self._flusher.start()
        atexit.register(self._close_at_exit)

    # -- public API ---------------------------------------------------------------------------------
    def create_experiment(self, name: str, *, artifact_location: str | None = None) -> str:
        """Announce an experiment (idempotent: the id is derived from the name) and return its id."""
        v.check_name("experiment", name)
        known = self._announced.get(name)  # every start_run asks: no UUIDv5 (SHA-1) and lock for a known name
        if known is not None:
            return known
        experiment_id = experiment_id_for(name)
        with self._lock:
            if name in self._announced:
                return experiment_id
            self._announced[name] = experiment_id
        self._channel.send("", experiment_id, 1, ExperimentCreated(name, artifact_location=artifact_location))
        return experiment_id

    def start_run(
        self,
        experiment: str = "Default",
        name: str | None = None,
        *,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
        parent_run_id: str | None = None,
        source: str | None = None,
        description: str | None = None,
    ) -> ActiveRun:
        """Start a run in the named experiment; everything is checked before anything is published."""
        v.check_name("experiment", experiment)
        run_id = new_run_id()
        name = v.check_name("run", name) if name is not None else f"run-{run_id[:8]}"
        if parent_run_id is not None:
            v.check_run_id("parent_run_id", parent_run_id)
        checked_params = v.check_params(params or {})
        checked_tags = v.check_tags(tags or {})
        experiment_id = self.create_experiment(experiment)
        run = ActiveRun(
            self._channel, run_id=run_id, experiment_id=experiment_id, name=name,
            batch_points=self.settings.metrics_batch_points, on_pending=self._mark_pending,
        )
        started = RunStarted(name, self._identity.user, parent_run_id, source, description)
        return run.begin(started, checked_params, checked_tags)

    def flush(self, timeout: float = 30.0) -> int:
        """Send every pending point and wait for the broker's acknowledgements.

        Returns how many events are still undelivered when the timeout passes (0 when all arrived).
        """
        self._flush_pending()
        remaining = self._publisher.flush(timeout)
        if remaining:
            log.warning("%d runstream events not yet acknowledged after %.1fs (they stay spooled)", remaining, timeout)
        return remaining

    def close(self, timeout: float = 30.0) -> int:
        """Flush and stop the background flusher; the tracker cannot be used afterwards."""
        if self._closed.is_set():
            return self._publisher.pending()
        self._closed.set()
        self._flusher.join(timeout=5)
        atexit.unregister(self._close_at_exit)
        self._flush_pending()
        return self._publisher.close(timeout)

    def _close_at_exit(self) -> None:
        # A training job's exit must not hang on an absent broker: the spool keeps what is not yet sent.
        self.close(self.settings.exit_timeout_s)

    @property
    def acked_offsets(self) -> dict[int, int]:
        """Highest offset the broker acknowledged per partition (for read-your-writes waits)."""
        return dict(self._publisher.acked_offsets)

    def read_after(self) -> dict[str, str]:
        """HTTP headers for a read of the API that must see this tracker's events acknowledged so far: the read
        waits, bounded, until the projector has passed them (503 when it does not in time). Points still buffered
        are not acknowledged yet: call `flush()` first to include them. Empty when nothing was acknowledged."""
        acked = self.acked_offsets
        return {HEADER: format_positions(acked)} if acked else {}

    @property
    def delivery_failures(self) -> list[str]:
        """Events the broker refused for good (they stay spooled); an absent broker is not a failure."""
        return list(self._publisher.failed)

    @property
    def spool_depth(self) -> tuple[int, int]:
        """(events, bytes) waiting on disk for the broker's acknowledgement."""
        return self._publisher.depth()

    @property
    def recovered_events(self) -> int:
        """Events found spooled by ended processes when this tracker started (sent before its own)."""
        return self._publisher.recovered

    @property
    def dropped_events(self) -> int:
        """Events refused because the spool was full (logged as errors when it happens)."""
        return self._publisher.dropped

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs with points waiting ----------------------------------------------------------------------------
    def _mark_pending(self, run: ActiveRun) -> None:
        with self._lock:
            self._pending.add(run)

    # -- background flusher ---------------------------------------------------------------------------
    def _flush_pending(self) -> None:
        with self._lock:
            runs, self._pending = self._pending, set()
        for run in runs:
            run.flush_metrics()

    def _flush_loop(self) -> None:
        interval = self.settings.metrics_flush_interval_s
        while not self._closed.wait(interval):
            self._flush_pending()
