"""When the projector stops and starts the hot tables' merges (consumers/mergegate.py)."""

from __future__ import annotations

from consumers.mergegate import DEFERRED_TABLES, MergeGate, lag_of, set_merges


def _gate() -> MergeGate:
    return MergeGate(behind=200, caught_up=20, max_groups=10)


def test_merges_stop_when_far_behind_and_start_when_caught_up() -> None:
    gate = _gate()
    assert gate.decide(lag=150, groups=0) is None  # a little behind: merges go on
    assert gate.decide(lag=200, groups=1) is True
    assert gate.deferred
    assert gate.decide(lag=5_000, groups=3) is None  # stopped already
    assert gate.decide(lag=21, groups=4) is None  # hysteresis: not caught up yet
    assert gate.decide(lag=20, groups=5) is False
    assert not gate.deferred
    assert gate.decide(lag=100, groups=6) is None
    assert gate.decide(lag=300, groups=7) is True  # a new backlog


def test_merges_start_after_max_groups_however_far_behind_and_stay_on_until_caught_up() -> None:
    gate = _gate()
    assert gate.decide(lag=1_000, groups=5) is True
    assert gate.decide(lag=1_000, groups=14) is None
    assert gate.decide(lag=1_000, groups=15) is False  # 10 groups (parts per table) written while stopped
    assert gate.decide(lag=1_000, groups=16) is None  # the rest of this backlog merges as usual
    assert gate.decide(lag=900, groups=30) is None
    assert gate.decide(lag=0, groups=31) is None
    assert gate.decide(lag=1_000, groups=32) is True  # caught up in between: the next backlog defers again


def test_forget_after_tables_are_swapped() -> None:
    gate = _gate()
    assert gate.decide(lag=1_000, groups=0) is True
    gate.forget()  # the swapped-in tables merge: stop them again if still behind
    assert not gate.deferred
    assert gate.decide(lag=1_000, groups=1) is True


def test_never_when_behind_is_zero() -> None:
    gate = MergeGate(behind=0, caught_up=0, max_groups=10)
    assert gate.decide(lag=10**9, groups=0) is None


def test_lag_counts_known_positions_and_watermarks_only() -> None:
    highs = {0: 100, 1: 50, 2: -1001, 3: 7}
    assert lag_of({0: 40, 1: 50, 2: 3, 3: -1001}, highs.__getitem__) == 60
    assert lag_of({0: 120}, highs.__getitem__) == 0  # a stale cached watermark is no negative lag
    assert lag_of({}, highs.__getitem__) == 0


def test_set_merges_names_each_table() -> None:
    sent: list[str] = []

    class Client:
        def command(self, sql: str) -> None:
            sent.append(sql)

    set_merges(Client(), DEFERRED_TABLES, on=False)  # type: ignore[arg-type]
    set_merges(Client(), ["metrics"], on=True)  # type: ignore[arg-type]
    assert sent == [f"SYSTEM STOP MERGES `{t}`" for t in DEFERRED_TABLES] + ["SYSTEM START MERGES `metrics`"]
