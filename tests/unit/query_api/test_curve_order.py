"""A curve's points sorted in Python as the ordered statement sorts them, or handed back when a tie needs the log."""

from __future__ import annotations

from query_api.queries.curves import in_order


def test_points_sort_by_step_then_timestamp() -> None:
    rows = [(2, 0.5, 10), (0, 1.0, 30), (1, 0.7, 20), (1, 0.9, 5)]
    assert in_order(rows) == [(0, 1.0, 30), (1, 0.9, 5), (1, 0.7, 20), (2, 0.5, 10)]
    assert in_order([]) == []


def test_a_step_logged_twice_in_one_millisecond_is_left_to_the_log_order() -> None:
    assert in_order([(1, 0.1, 7), (0, 0.0, 1), (1, 0.2, 7)]) is None
    assert in_order([(1, 0.1, 7), (1, 0.2, 8), (2, 0.2, 7)]) is not None  # same step or same ms alone is no tie
