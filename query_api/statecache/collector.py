"""Python's cyclic garbage collector paused while a run state is built.

Loading an experiment's state makes a few hundred thousand containers (a tuple and four dicts per run, a tuple per
metric summary) that all live on, none of them in a cycle. Each 700 allocations the collector walks the young
ones, and every tenth and hundredth pass the older generations too, heap included: at 10,000 runs that was ~40% of
the load's CPU (300-350 against 180-215 ms in one process, alternated; benchmarks/results/gcpause-20261204.md),
all of it holding the GIL that the event loop and the projector wait for. Reference counting still frees
everything acyclic while paused; the collector runs as usual once the last pause ends.

Process-wide (the collector has one switch): nested and concurrent pauses are counted, and a collector someone
else turned off stays off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_resume = False  # whether the last pause to end turns the collector back on


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off; on again when the last overlapping pause ends, if it was on
    when the first began."""
    global _pauses, _resume
    with _lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
