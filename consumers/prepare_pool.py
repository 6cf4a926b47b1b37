"""Preparing a replay's chunks (decode, validation, blocks: `prepare_chunk`, pure) in worker processes, so the
replay's main process only screens, applies and inserts them. Used by rebuild and verify only; the live projector
prepares its chunks in-process.

The workers are started with `spawn` (the replay's process runs ClickHouse and librdkafka threads, which a fork
would copy in an unknown state) and receive a group's raw messages (value, key, offset, timestamp); they send back
the prepared chunks (metric points as each event's numpy columns). The decoded events stay in the worker: a
duplicate's events row is made again on the main side, from the raw message, when one is asked for
(`RawDuplicateRows`)."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from consumers.chunks import PreparedChunk, RawMessage, prepare_chunk
from consumers.decoding import DeadLetter, classify
from consumers.derived import Derived
from consumers.errors import ConsumerError
from consumers.projections import Projection
from consumers.projections.events import duplicate_row

log = logging.getLogger("runstream.replay")

START_TIMEOUT_S = 60.0  # a worker's first answer (interpreter start and imports: ~1-3 s on a loaded machine)

RawGroup = list[tuple[int, list[RawMessage]]]
"""A group of `BatchWriter.groups`: per partition, its consecutive raw messages."""

_projections: tuple[Projection, ...] = ()  # in a worker: what `_prepare_group` builds blocks of
_derived: tuple[Derived, ...] = ()  # and the derived tables it makes rows of from those blocks


class PrepareWorkerError(ConsumerError):
    """A worker process preparing chunks died or could not be started."""


class RawDuplicateRows(Mapping[int, tuple[Any, ...]]):
    """`chunks.DuplicateRows` for a chunk prepared in another process: an event's events row as a duplicate is
    made by decoding its message again, only for the offsets asked (duplicates are rare)."""

    def __init__(self, partition: int, raws: list[RawMessage], offsets: Iterable[int]) -> None:
        self._partition = partition
        self._raws = {raw[2]: raw for raw in raws}
        self._offsets = list(offsets)

    def __getitem__(self, offset: int) -> tuple[Any, ...]:
        value, key, at, stamp = self._raws[offset]
        logged = classify(value, key, self._partition, at, stamp)
        if isinstance(logged, DeadLetter):
            raise KeyError(offset)
        return duplicate_row(logged, logged.event.event_time)

    def __iter__(self) -> Iterator[int]:
        return iter(self._offsets)

    def __len__(self) -> int:
        return len(self._offsets)


def _start(projections: tuple[Projection, ...], derived: tuple[Derived, ...]) -> None:
    global _projections, _derived
    _projections = projections
    _derived = derived


def _ready() -> bool:
    return True


def _prepare_group(group: RawGroup) -> list[PreparedChunk]:
    """In a worker: each partition's chunk of the group, metric points as numpy columns, no decoded events."""
    chunks = []
    for partition, raws in group:
        chunk = prepare_chunk(partition, raws, _projections)
        for derived in _derived:  # run_metric_summary's rows: the main process then only inserts them
            index = next(i for i, p in enumerate(_projections) if p.table == derived.source)
            chunk.derived[derived.table] = derived.from_block(chunk.blocks[index])  # type: ignore[misc]
        # metric points travel as each event's numpy columns: concatenating them (`point_columns`, ~0.03 s per 1M
        # points) here would send every point twice (81 MB instead of 29 MB per 1M points, +0.04 s of pickling)
        chunk.duplicate_rows = {}  # the decoded events stay here: RawDuplicateRows on the main side
        chunks.append(chunk)
    return chunks


class PreparePool:
    """`workers` processes preparing groups of chunks; results are taken in submission order (`result`)."""

    def __init__(self, projections: Sequence[Projection], workers: int, derived: Sequence[Derived] = ()) -> None:
        self.workers = workers
        tables = {p.table for p in projections}
        made = tuple(d for d in derived if d.from_block is not None and d.source in tables)
        self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start, initargs=(tuple(projections), made))
        try:  # every worker starts now (imports included), while the replay sets up its consumer and tables
            self._warm = [self._executor.submit(_ready) for _ in range(workers)]
        except Exception as exc:  # no processes here (limits, a sandbox), projections that cannot be sent
            self._executor.shutdown(wait=False, cancel_futures=True)
            raise PrepareWorkerError(f"chunk preparation workers could not start: {exc!r}") from exc

    def ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait for the workers' first answers; PrepareWorkerError if they cannot start."""
        try:
            for future in self._warm:
                future.result(timeout=timeout)
        except Exception as exc:  # BrokenProcessPool, a timeout, an unpicklable projection...
            raise PrepareWorkerError(f"chunk preparation workers could not start: {exc!r}") from exc

    def submit(self, group: RawGroup) -> Future[list[PreparedChunk]]:
        try:
            return self._executor.submit(_prepare_group, group)
        except BrokenProcessPool as exc:
            raise PrepareWorkerError(f"a chunk preparation worker died: {exc}") from exc

    @staticmethod
    def result(future: Future[list[PreparedChunk]], group: RawGroup) -> list[PreparedChunk]:
        """The prepared chunks of `group` (submitted as `future`), with their duplicates' rows."""
        try:
            chunks = future.result()
        except BrokenProcessPool as exc:
            raise PrepareWorkerError(f"a chunk preparation worker died (exit, kill or out of memory) while "
                                     f"preparing partition(s) {[p for p, _ in group]}: {exc}") from exc
        for chunk, (partition, raws) in zip(chunks, group, strict=True):
            chunk.duplicate_rows = RawDuplicateRows(partition, raws, [e.offset for e in chunk.events])
        return chunks

    def pids(self) -> list[int]:
        return [p.pid for p in list(getattr(self._executor, "_processes", {}).values()) if p.pid is not None]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
