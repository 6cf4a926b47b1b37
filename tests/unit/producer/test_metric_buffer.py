"""producer.metric_buffer.MetricBuffer: pending points as a columnar MetricsLogged batch."""

from __future__ import annotations

import math

from producer.metric_buffer import MetricBuffer
from schemas import MetricsLogged


def test_an_empty_buffer_drains_to_none() -> None:
    buffer = MetricBuffer()
    assert len(buffer) == 0
    assert buffer.drain() is None


def test_points_become_one_columnar_batch_in_add_order() -> None:
    buffer = MetricBuffer()
    buffer.add("loss", 0.9, 0, 1000)
    buffer.add("acc", 0.1, 0, 1000)
    buffer.add("loss", 0.8, 1, 1001)
    buffer.add("lr", 1e-3, 7, 1002)
    buffer.add("acc", 0.2, 1, 1003)
    assert len(buffer) == 5
    batch = buffer.drain()
    assert batch == MetricsLogged(
        names=["loss", "acc", "lr"],
        name_index=[0, 1, 0, 2, 1],
        steps=[0, 0, 1, 7, 1],
        timestamps=[1000, 1000, 1001, 1002, 1003],
        values=[0.9, 0.1, 0.8, 1e-3, 0.2],
    )
    assert list(batch.points()) == [
        ("loss", 0, 1000, 0.9), ("acc", 0, 1000, 0.1), ("loss", 1, 1001, 0.8), ("lr", 7, 1002, 1e-3),
        ("acc", 1, 1003, 0.2),
    ]


def test_drain_starts_afresh_and_renumbers_names() -> None:
    buffer = MetricBuffer()
    buffer.add("a", 1.0, 0, 1)
    buffer.add("b", 2.0, 0, 1)
    first = buffer.drain()
    assert first is not None and first.names == ["a", "b"]
    assert len(buffer) == 0 and buffer.drain() is None
    buffer.add("b", 3.0, 1, 2)
    second = buffer.drain()
    assert second == MetricsLogged(["b"], [0], [1], [2], [3.0])
    # the first batch is not aliased by the buffer's new arrays
    assert first == MetricsLogged(["a", "b"], [0, 1], [0, 0], [1, 1], [1.0, 2.0])


def test_next_step_counts_up_per_key_from_zero() -> None:
    buffer = MetricBuffer()
    assert buffer.next_step("loss") == 0
    buffer.add("loss", 1.0, buffer.next_step("loss"), 0)
    buffer.add("loss", 1.0, buffer.next_step("loss"), 0)
    assert buffer.next_step("loss") == 2
    assert buffer.next_step("acc") == 0


def test_next_step_follows_the_highest_step_seen_and_survives_drain() -> None:
    buffer = MetricBuffer()
    buffer.add("loss", 1.0, 10, 0)
    assert buffer.next_step("loss") == 11
    buffer.add("loss", 1.0, 3, 0)  # an earlier step does not move the counter back
    assert buffer.next_step("loss") == 11
    buffer.drain()
    assert buffer.next_step("loss") == 11
    buffer.add("neg", 1.0, -5, 0)
    assert buffer.next_step("neg") == -4


def test_non_finite_values_are_kept() -> None:
    buffer = MetricBuffer()
    for i, value in enumerate((math.nan, math.inf, -math.inf)):
        buffer.add("x", value, i, 0)
    batch = buffer.drain()
    assert batch is not None and len(batch) == 3
    assert math.isnan(batch.values[0]) and batch.values[1:].tolist() == [math.inf, -math.inf]
