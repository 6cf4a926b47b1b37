"""The projector's batch sizing: batches written in about the target time, never beyond the configured bounds."""

from __future__ import annotations

import pytest

from consumers.batching import BatchBudget


def write_time(messages: int, *, fixed: float, per_message: float) -> float:
    return fixed + messages * per_message


def settle(budget: BatchBudget, *, fixed: float, per_message: float, rounds: int = 30) -> int:
    """Feed the budget full batches written at the given cost until its size stops moving."""
    for _ in range(rounds):
        size = budget.size()
        budget.observe(size, write_time(size, fixed=fixed, per_message=per_message), size)
    return budget.size()


def test_a_backlog_is_taken_in_batches_written_within_the_target() -> None:
    budget = BatchBudget(max_messages=5000, target_s=0.25)
    size = settle(budget, fixed=0.02, per_message=0.002)  # 1,000-point messages at 500k points/s
    assert write_time(size, fixed=0.02, per_message=0.002) == pytest.approx(0.25, rel=0.1)


def test_a_batch_slower_than_the_target_shrinks_the_next_one_at_once() -> None:
    budget = BatchBudget(max_messages=5000, target_s=0.25)
    settle(budget, fixed=0.02, per_message=0.0005)
    budget.observe(budget.size(), 2.0, budget.size())  # the machine got busy: the same batch took 2 s
    assert write_time(budget.size(), fixed=0.02, per_message=0.0005) < 0.25


def test_growth_is_gradual_and_stops_at_max_messages() -> None:
    budget = BatchBudget(max_messages=5000, target_s=0.25)
    first = budget.size()
    budget.observe(first, 0.001, first)
    assert budget.size() == 2 * first
    assert settle(budget, fixed=0.0, per_message=1e-7) == 5000


def test_a_batch_that_was_not_full_and_fast_leaves_the_size_alone() -> None:
    budget = BatchBudget(max_messages=5000, target_s=0.25)
    settle(budget, fixed=0.02, per_message=0.002)
    before = budget.size()
    budget.observe(before // 3, 0.01, before)  # the consumer had little to give: no news about capacity
    assert budget.size() == before


def test_a_batch_that_was_not_full_but_slow_shrinks_the_next_one() -> None:
    budget = BatchBudget(max_messages=5000, target_s=0.25)
    settle(budget, fixed=0.02, per_message=0.002)
    before = budget.size()
    budget.observe(before // 2, 1.0, before)
    assert budget.size() < before // 2


def test_never_below_min_messages_even_when_every_message_is_slow() -> None:
    budget = BatchBudget(max_messages=5000, target_s=0.25, min_messages=20)
    assert settle(budget, fixed=0.0, per_message=0.5) == 20


def test_a_fixed_cost_near_the_target_keeps_batches_big_enough_to_pay_for_it() -> None:
    budget = BatchBudget(max_messages=5000, target_s=0.25)
    for _ in range(5):  # what a trickle of single events costs: the statements every batch pays
        budget.observe(1, 0.2, budget.size())
    size = settle(budget, fixed=0.2, per_message=0.001)
    assert 0.2 / write_time(size, fixed=0.2, per_message=0.001) <= 0.4  # not a batch of fixed cost only
    assert write_time(size, fixed=0.2, per_message=0.001) == pytest.approx(0.6, rel=0.15)


def test_target_zero_always_takes_max_messages() -> None:
    budget = BatchBudget(max_messages=5000, target_s=0)
    budget.observe(5000, 30.0, 5000)
    assert budget.size() == 5000


def test_min_messages_above_max_is_held_to_max() -> None:
    budget = BatchBudget(max_messages=10, target_s=0.25, min_messages=100)
    assert settle(budget, fixed=0.0, per_message=1.0) == 10
