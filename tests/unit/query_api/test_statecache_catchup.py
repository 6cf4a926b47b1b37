"""Held run states catch up with the data version with no question asked (`RunStates.moved` / `seen`): debounced,
rate-limited, only held states, never a state used beyond the version it holds (reads stubbed, no ClickHouse)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from query_api.statecache.cache import RunStates
from tests.unit.query_api.test_statecache import Reads, reads, state_row

__all__ = ["reads"]  # the fixture, used by name


class Version:
    """The data version as the app reads it: (generation, sorted positions), counted."""

    def __init__(self, positions: dict[int, int], generation: int = 1) -> None:
        self.positions, self.generation, self.reads = positions, generation, 0

    def __call__(self) -> tuple[int, tuple[tuple[int, int], ...]]:
        self.reads += 1
        return self.generation, tuple(sorted(self.positions.items()))


def settle(pool: ThreadPoolExecutor, states: RunStates, timeout: float = 5.0) -> None:
    """Wait until no catch-up is waiting and the background thread has run everything handed to it."""
    deadline = time.monotonic() + timeout
    while True:
        while states._timer is not None:
            assert time.monotonic() < deadline, "a catch-up never started"
            time.sleep(0.005)
        pool.submit(lambda: None).result()
        if states._timer is None:  # the catch-up that ran scheduled no other
            return


def held_states(pool: ThreadPoolExecutor, version: Version, **kwargs: Any) -> RunStates:
    states = RunStates(100, background=pool, client=object(), version=version,  # type: ignore[arg-type]
                       catch_up_quiet_s=0.01, **kwargs)
    at = version()
    assert states.state_at(None, "e", at) is None  # type: ignore[arg-type]  # the first question loads it there
    pool.submit(lambda: None).result()
    assert states.state_at(None, "e", at) is not None  # type: ignore[arg-type]
    return states


def test_a_move_brings_held_states_up_to_the_version_with_no_question(reads: Reads) -> None:
    reads.rows["e"] = [state_row(f"r{i}", "e") for i in range(5)]
    version = Version({0: 10})
    with ThreadPoolExecutor(1) as pool:
        states = held_states(pool, version, catch_up_every_s=0.0)
        version.positions = {0: 12}
        reads.rows["e"][1] = state_row("r1", "e", name="renamed")
        reads.changed = ["r1"]
        states.moved()
        settle(pool, states)
        found = states.state_at(None, "e", version())  # type: ignore[arg-type]
        assert found is not None and found.rows[1].name == "renamed" and found.positions == {0: 12}
        assert states.stats.catch_ups == 1 and states.stats.refreshes == 1 and states.stats.loads == 1
        states.close()


def test_a_burst_of_moves_starts_one_catch_up_and_at_most_one_per_interval(reads: Reads) -> None:
    reads.rows["e"] = [state_row("r0", "e")]
    version = Version({0: 10})
    with ThreadPoolExecutor(1) as pool:
        states = held_states(pool, version, catch_up_every_s=0.3)
        for offset in range(11, 31):
            version.positions = {0: offset}
            states.moved()
        settle(pool, states)
        assert states.stats.catch_ups == 1 and states.state_at(None, "e", version()) is not None  # type: ignore[arg-type]
        began = time.monotonic()
        version.positions = {0: 31}
        states.moved()
        settle(pool, states)
        assert time.monotonic() - began >= 0.25, "the next catch-up waited for the interval"
        assert states.stats.catch_ups == 2
        states.close()


def test_nothing_is_read_while_no_state_is_held_or_every_held_state_is_current(reads: Reads) -> None:
    reads.rows["e"] = [state_row("r0", "e")]
    version = Version({0: 10})
    with ThreadPoolExecutor(1) as pool:
        empty = RunStates(100, background=pool, client=object(), version=version,  # type: ignore[arg-type]
                          catch_up_quiet_s=0.0)
        empty.moved()
        assert empty._timer is None and version.reads == 0, "no state held: nothing to catch up"
        states = held_states(pool, version, catch_up_every_s=0.0)
        reads.calls.clear()
        states.seen(version())  # a question at the version the state holds
        assert states._timer is None
        states.moved()  # a move this process's projector saw while the state is current: one look, no read
        assert states._timer is None
        settle(pool, states)
        assert reads.calls == [] and states.stats.catch_ups == 0
        empty.close()
        states.close()


def test_a_question_that_reads_a_newer_version_starts_a_catch_up(reads: Reads) -> None:
    reads.rows["e"] = [state_row("r0", "e")]
    version = Version({0: 10})
    with ThreadPoolExecutor(1) as pool:
        states = held_states(pool, version, catch_up_every_s=0.0, delay_s=0.2)
        version.positions = {0: 11}
        states.seen(version())  # a remembered answer of another experiment, served at the new version
        assert states._timer is not None
        settle(pool, states)
        assert states.state_at(None, "e", version()) is not None  # type: ignore[arg-type]
        assert states.stats.catch_ups == 1
        states.close()


def test_a_new_generation_loads_again_and_a_failed_catch_up_leaves_the_state(reads: Reads,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    reads.rows["e"] = [state_row("r0", "e")]
    version = Version({0: 10})
    with ThreadPoolExecutor(1) as pool:
        states = held_states(pool, version, catch_up_every_s=0.0)
        version.generation = 2
        states.moved()
        settle(pool, states)
        assert states.stats.loads == 2 and states.state_at(None, "e", version()) is not None  # type: ignore[arg-type]
        before = states._slots["e"].state

        def fail(*args: Any, **kwargs: Any) -> list[str]:
            raise RuntimeError("ClickHouse went away")

        monkeypatch.setattr("query_api.statecache.cache.experiment_state.changed", fail)
        version.positions = {0: 11}
        states.moved()
        settle(pool, states)
        slot = states._slots["e"]
        assert slot.state is before and not slot.pending, "kept as it was, and retried later"
        assert states.state_at(None, "e", version()) is None  # type: ignore[arg-type]  # stale: SQL answers
        states.close()


def test_close_cancels_a_waiting_catch_up(reads: Reads) -> None:
    reads.rows["e"] = [state_row("r0", "e")]
    version = Version({0: 10})
    pool = ThreadPoolExecutor(1)
    states = held_states(pool, version)
    states._next_catch_up = time.monotonic() + 10
    version.positions = {0: 11}
    states.moved()
    timer = states._timer
    assert timer is not None
    states.close()
    timer.join(1)
    assert not timer.is_alive() and states._timer is None and states.stats.catch_ups == 0


def test_while_the_version_keeps_moving_nothing_is_read_then_one_catch_up(reads: Reads) -> None:
    reads.rows["e"] = [state_row("r0", "e")]
    version = Version({0: 10})
    with ThreadPoolExecutor(1) as pool:
        states = held_states(pool, version, catch_up_every_s=0.0)
        states.catch_up_quiet_s = 0.15
        reads.calls.clear()
        for offset in range(11, 21):  # an ingest: the projector writes every 0.05 s, idle in between
            version.positions = {0: offset}
            states.moved()
            time.sleep(0.05)
        assert reads.calls == [] and states.stats.catch_ups == 0, "no refresh while the positions move"
        settle(pool, states)
        assert states.stats.catch_ups == 1 and reads.calls == ["changed"]
        assert states.state_at(None, "e", version()) is not None  # type: ignore[arg-type]
        states.close()
