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
