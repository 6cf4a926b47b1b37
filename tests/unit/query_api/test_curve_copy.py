"""query_api.curvecopy.CurveCopy (drops, reads in flight, generations, the bound) and curves.points_of (what the
copy answers equals what the SQL path answers)."""

from __future__ import annotations

import math
import random

import numpy as np

from query_api.curvecopy import DROPS_KEPT, CurveCopy
from query_api.jsonresponse import dumps
from query_api.queries.curves import points_of

A, B = ("e", "r1", "loss"), ("e", "r2", "loss")


def columns(n: int, start: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    steps = np.arange(start, start + n, dtype=np.int64)
    return steps, steps.astype(np.float64), steps * 10


class Generation:
    def __init__(self) -> None:
        self.value: int | None = 0

    def __call__(self) -> int | None:
        return self.value


def test_a_series_read_is_kept_and_dropped_by_a_write_of_it() -> None:
    copy = CurveCopy(1000, Generation())
    began = copy.begin()
    assert began is not None and copy.get(A) is None
    assert copy.keep(A, columns(5), began) and copy.keep(B, columns(5), began)
    assert copy.get(A) is not None and copy.points == 10
    copy.drop([A])
    assert copy.get(A) is None and copy.get(B) is not None and copy.points == 5


def test_a_read_that_overlapped_a_drop_of_its_series_is_not_kept() -> None:
    copy = CurveCopy(1000, Generation())
    began = copy.begin()
    assert began is not None
    copy.drop([A])  # written while A was read: the read may hold the old points
    assert not copy.keep(A, columns(5), began)
    assert copy.keep(B, columns(5), began)  # another series' drop does not matter
    for _ in range(DROPS_KEPT + 1):  # more drops than remembered: nothing read before them is kept
        copy.drop([("e", "other", "k")])
    assert not copy.keep(B, columns(5), began)
    began = copy.begin()
    assert began is not None and copy.keep(A, columns(5), began)


def test_a_clear_or_a_new_generation_drops_everything_and_stops_reads_in_flight() -> None:
    generation = Generation()
    copy = CurveCopy(1000, generation)
    began = copy.begin()
    assert began is not None and copy.keep(A, columns(5), began)
    generation.value = None  # a maintenance job runs, or this projector is not the only writer
    assert copy.begin() is None and copy.get(A) is None
    assert not copy.keep(A, columns(5), began)
    generation.value = 1
    began = copy.begin()
    assert began is not None and copy.keep(A, columns(5), began)
    in_flight = copy.begin()
    assert in_flight is not None
    generation.value = 2  # a rebuild ended while B was read
    assert not copy.keep(B, columns(5), in_flight)
    assert copy.begin() is not None and copy.get(A) is None and len(copy) == 0
    began = copy.begin()
    assert began is not None
    copy.clear()
    assert not copy.keep(A, columns(5), began)


def test_the_copy_keeps_at_most_max_points_least_recently_used_first() -> None:
    copy = CurveCopy(12, Generation())
    began = copy.begin()
    assert began is not None
    assert copy.keep(A, columns(5), began) and copy.keep(B, columns(5), began)
    assert copy.get(A) is not None  # A is now the most recently used
    assert copy.keep(("e", "r3", "loss"), columns(5), began)
    assert copy.get(B) is None and copy.get(A) is not None and copy.points == 10
    assert not copy.keep(("e", "r4", "loss"), columns(13), began)  # larger than the whole copy
    assert copy.points == 10
    assert not copy.keep(("e", "r5", "none"), columns(0), began)  # an empty series: not kept


def reference(rows: list[tuple[int, float, int, int]], max_points: int | None, step_min: int | None,
              step_max: int | None) -> list[dict[str, object]] | None:
    """The SQL path's answer: points in the range ordered by (step, ts, log order); None where it downsamples."""
    lo = -(2**63) if step_min is None else step_min
    hi = 2**63 - 1 if step_max is None else step_max
    kept = sorted((r for r in rows if lo <= r[0] <= hi), key=lambda r: (r[0], r[2], r[3]))
    if max_points is not None and len(kept) > max_points:
        return None
    return [{"step": s, "value": v, "timestamp": t} for s, v, t, _ in kept]


def test_points_of_answers_what_the_ordered_statement_answers() -> None:
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(0, 40)
        rows = [(rng.randint(-3, 12), rng.choice([rng.random(), math.nan, math.inf, -math.inf, -0.0, 1e308]),
                 rng.randint(0, 4), i) for i in range(n)]
        ordered = sorted(rows, key=lambda r: (r[0], r[2], r[3]))
        cols = (np.array([r[0] for r in ordered], dtype=np.int64), np.array([r[1] for r in ordered]),
                np.array([r[2] for r in ordered], dtype=np.int64))
        for _ in range(5):
            step_min = rng.choice([None, rng.randint(-5, 14), -(2**63)])
            step_max = rng.choice([None, rng.randint(-5, 14), 2**63 - 1])
            max_points = rng.choice([None, 2, rng.randint(2, 50)])
            got = points_of(cols, max_points=max_points, step_min=step_min, step_max=step_max)
            want = reference(rows, max_points, step_min, step_max)
            assert (got is None) == (want is None)
            if got is not None:
                assert dumps(got) == dumps(want)


def test_the_copy_is_usable_only_alone_and_between_jobs_and_keyed_on_the_assignment() -> None:
    from types import SimpleNamespace
    from typing import Any

    from query_api.app import copy_usable

    inner = SimpleNamespace(assignments=3, owns_topic=lambda: True)
    projector: Any = SimpleNamespace(projector=inner)
    jobs: Any = SimpleNamespace(generation=lambda: 1)
    assert copy_usable(projector, jobs) == (1, 3)
    inner.assignments = 5  # partitions taken away and given back: another member may have written meanwhile
    assert copy_usable(projector, jobs) == (1, 5)
    assert copy_usable(projector, SimpleNamespace(generation=lambda: None)) is None  # a job runs
    inner.owns_topic = lambda: False
    assert copy_usable(projector, jobs) is None
