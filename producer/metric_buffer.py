"""Pending metric points of one run, turned into columnar MetricsLogged batches."""

from __future__ import annotations

from schemas import MetricsLogged, metric_columns


class MetricBuffer:
    """Accumulates points as parallel arrays; not thread-safe (the owning run holds a lock)."""

    __slots__ = ("_index", "_names", "_name_index", "_steps", "_timestamps", "_values", "_last_step")

    def __init__(self) -> None:
        self._last_step: dict[str, int] = {}
        self._reset()

    def _reset(self) -> None:
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._name_index: list[int] = []
        self._steps: list[int] = []
        self._timestamps: list[int] = []
        self._values: list[float] = []

    def __len__(self) -> int:
        return len(self._values)

    def next_step(self, key: str) -> int:
        """The step a point gets when the caller gives none: one past the key's last step, from 0."""
        last = self._last_step.get(key)
        return 0 if last is None else last + 1

    def note_step(self, key: str, step: int) -> None:
        """Points of `key` up to `step` were logged elsewhere (a series): the next default step follows them."""
        if step > self._last_step.get(key, step - 1):
            self._last_step[key] = step

    def add(self, key: str, value: float, step: int, timestamp_ms: int) -> None:
        i = self._index.get(key)
        if i is None:
            i = self._index[key] = len(self._names)
            self._names.append(key)
        self._name_index.append(i)
        self._steps.append(step)
        self._timestamps.append(timestamp_ms)
        self._values.append(value)
        if step > self._last_step.get(key, step - 1):
            self._last_step[key] = step

    def add_points(self, points: list[tuple[str, float]], step: int | None, timestamp_ms: int) -> None:
        """`add` for each (key, value) of one call, at `step` (None: each key's next step)."""
        index, names, name_index, steps, values, last_step = (self._index, self._names, self._name_index,
                                                              self._steps, self._values, self._last_step)
        for key, value in points:
            i = index.get(key)
            if i is None:
                i = index[key] = len(names)
                names.append(key)
            last = last_step.get(key)
            at = (0 if last is None else last + 1) if step is None else step
            name_index.append(i)
            steps.append(at)
            values.append(value)
            if last is None or at > last:
                last_step[key] = at
        self._timestamps.extend([timestamp_ms] * len(points))

    def drain(self) -> MetricsLogged | None:
        """The pending points as one batch (None when empty); the buffer starts afresh."""
        if not self._values:
            return None
        batch = metric_columns.from_columns(self._names, self._name_index, self._steps, self._timestamps,
                                            self._values)
        self._reset()
        return batch
