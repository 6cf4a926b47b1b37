"""The sweep's values made by numpy are the very floats its per-point function makes (same sweep, same data)."""

import numpy as np
import pytest

pytest.importorskip("psutil")  # the [bench] extra, which benchmarks/sweep.py imports

from benchmarks.sweep import metric_value, metric_values  # noqa: E402


@pytest.mark.parametrize("seed", [42, 7])
def test_metric_values_are_bit_identical_to_metric_value(seed: int) -> None:
    steps = np.arange(1000, dtype=np.int64)
    for run in (0, 1, 199, 9_999):
        for key_index in range(5):
            vectorized = metric_values(seed, run, key_index, steps)
            scalar = np.array([metric_value(seed, run, key_index, int(s)) for s in steps])
            assert vectorized.dtype == np.float64
            assert np.array_equal(vectorized.view(np.int64), scalar.view(np.int64))


def test_the_visibility_poll_backs_off_while_far_and_closes_in_near_the_end() -> None:
    from benchmarks.sweep import next_poll_s

    assert next_poll_s(1_000_000, 200_000) == 0.5  # 5 s left at that rate: the ceiling
    assert next_poll_s(100_000, 200_000) == 0.125  # a quarter of the 0.5 s left
    assert next_poll_s(10_000, 200_000) == 0.1  # the floor: the end is timed to 0.1 s as before
    assert next_poll_s(500_000, 0.0) == 0.1  # nothing seen yet: ask at the floor
    assert next_poll_s(0, 1.0) == 0.1
