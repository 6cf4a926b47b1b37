"""An active run: the user's handle for logging metrics, params and tags."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from producer import series
from producer import validation as v
from producer.channel import EventChannel
from producer.metric_buffer import MetricBuffer
from schemas import MetricsLogged, ParamsLogged, Payload, RunStarted, RunStatus, RunStatusChanged, TagDeleted, TagsSet


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class ActiveRun:
    """Logs to one run. Thread-safe; use as a context manager to end the run FINISHED or FAILED."""

    def __init__(self, channel: EventChannel, *, run_id: str, experiment_id: str, name: str, batch_points: int,
                 on_pending: Callable[[ActiveRun], None] = lambda run: None) -> None:
        self._channel = channel
        self._on_pending = on_pending
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.name = name
        self._batch_points = batch_points
        self._lock = threading.RLock()
        self._seq = 0
        self._params: dict[str, str] = {}
        self._buffer = MetricBuffer()
        # Checked series pieces waiting to go out together as one batch (see log_metric_series). Never pending at
        # the same time as points in the buffer: each kind is sent before the other is added to, so the log keeps
        # the order of the calls.
        self._series: list[MetricsLogged] = []
        self._metric_keys: set[str] = set()  # keys already checked: the hot path skips the regex
        self.status = RunStatus.RUNNING

    def begin(self, started: RunStarted, params: Mapping[str, str], tags: Mapping[str, str]) -> ActiveRun:
        """Publish the run's first events (RunStarted, then its checked params and tags); returns the run."""
        self._publish(started)
        if params:
            self.log_params(params)
        if tags:
            self.set_tags(tags)
        return self

    # -- metrics ------------------------------------------------------------------------------------
    def log_metric(self, key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
        """Log one point; step defaults to one past the key's last step, timestamp to now (ms)."""
        self.log_metrics({key: value}, step=step, timestamp=timestamp)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None) -> None:
        """Log several keys at one step; all are checked before any is recorded."""
        if not isinstance(metrics, Mapping):
            raise ValueError(f"metrics must be a mapping of key to number, got {type(metrics).__name__}")
        known = self._metric_keys
        points = [(k if k in known else v.check_key("metric", k), v.check_metric_value(k, x))
                  for k, x in metrics.items()]
        ts = _now_ms() if timestamp is None else v.check_timestamp_ms(timestamp)
        checked_step = None if step is None else v.check_step(step)
        with self._lock:
            if not known.issuperset(metrics):
                known.update(metrics)
            if self._series:
                self._send_series()
            first = not len(self._buffer)
            self._buffer.add_points(points, checked_step, ts)
            if len(self._buffer) >= self._batch_points:
                self.flush_metrics()
        if first:  # the run has points waiting since this call: the background flusher is told once per batch
            self._on_pending(self)

    def log_metric_series(self, key: str, steps: Any, values: Any, timestamps: Any = None) -> None:
        """Log many points of one key at once (arrays or sequences of equal length; timestamps in ms default
        to now): checked column-wise and sent as columnar batches, after any points logged before.

        Consecutive series of a run (several keys' curves, one call each) travel together: they are held until
        they fill a batch (`SERIES_BATCH_POINTS`), the run logs anything else, the tracker flushes, or the
        background flush (`metrics_flush_interval_s`) comes, then sent as one event holding every key. Each event
        costs the SDK, the broker and the projector a fixed amount whatever its size, so five keys' curves in one
        event instead of five cost about half as much to log."""
        batch = series.check_series(key, steps, values, timestamps, _now_ms())
        if not len(batch):
            return
        with self._lock:
            self._metric_keys.add(key)
            self._buffer.note_step(key, int(batch.steps.max()))
            self._send_buffered()
            for piece in series.split(batch):
                if self._held_points() + len(piece) > series.SERIES_BATCH_POINTS:
                    self._send_series()
                self._series.append(piece)
            if self._held_points() >= series.SERIES_BATCH_POINTS:
                self._send_series()
            waiting = bool(self._series)
        if waiting:  # the background flusher sends it if nothing else does first
            self._on_pending(self)

    # -- params and tags ------------------------------------------------------------------------------
    def log_param(self, key: str, value: object) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        """Params are immutable: re-logging the same value is a no-op, a different one a ValueError."""
        checked = v.check_params(params)
        with self._lock:
            for key, text in checked.items():
                old = self._params.get(key)
                if old is not None and old != text:
                    raise ValueError(f"param {key!r} is already {old!r}; changing it to {text!r} is not allowed")
            new = {k: t for k, t in checked.items() if k not in self._params}
            if new:
                self._params.update(new)
                self._publish(ParamsLogged(new))

    def set_tag(self, key: str, value: object) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        checked = v.check_tags(tags)
        if checked:
            self._publish(TagsSet(checked))

    def delete_tag(self, key: str) -> None:
        self._publish(TagDeleted(v.check_key("tag", key)))

    # -- lifecycle ------------------------------------------------------------------------------------
    def end(self, status: RunStatus | str = RunStatus.FINISHED) -> None:
        """Flush pending points and record the run's final status."""
        status = RunStatus(status)
        if status in (RunStatus.UNKNOWN, RunStatus.RUNNING, RunStatus.SCHEDULED):
            raise ValueError(f"a run ends FINISHED, FAILED or KILLED, not {status}")
        with self._lock:
            self._publish(RunStatusChanged(status, end_time=self._channel.now()))
            self.status = status

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.end(RunStatus.FINISHED)
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end(RunStatus.KILLED)
        else:
            self.end(RunStatus.FAILED)

    # -- internals ----------------------------------------------------------------------------------
    def _publish(self, payload: Payload) -> None:
        """Publish one event after any pending points, so the log keeps the order of the calls."""
        with self._lock:
            self.flush_metrics()
            self._send(payload)

    def flush_metrics(self) -> bool:
        """Send the pending points (or series) now as one batch; True when there were any."""
        with self._lock:
            return self._send_series() or self._send_buffered()

    def _send_buffered(self) -> bool:
        batch = self._buffer.drain()
        if batch is not None:
            self._send(batch)
        return batch is not None

    def _held_points(self) -> int:
        return sum(len(piece) for piece in self._series)

    def _send_series(self) -> bool:
        if not self._series:
            return False
        batch = series.merge(self._series)
        self._series = []
        self._send(batch)
        return True

    def _send(self, payload: Payload) -> None:
        self._seq += 1
        self._channel.send(self.run_id, self.experiment_id, self._seq, payload)

