"""When the projector gives up on a consumer that stays out of its group (consumers/groupwatch.py)."""

from __future__ import annotations

import json

from consumers.groupwatch import GroupWatch, group_state


def _stats(state: str, join_state: str) -> str:
    return json.dumps({"name": "runstream-projector#consumer-1", "cgrp": {
        "state": state, "stateage": 1200, "join_state": join_state, "rebalance_cnt": 2, "assignment_size": 3}})


def test_the_group_state_is_read_from_librdkafka_statistics() -> None:
    assert group_state(_stats("up", "steady")) == ("up", "steady")
    assert group_state(_stats("up", "wait-join")) == ("up", "wait-join")


def test_statistics_without_a_group_or_unreadable_say_nothing() -> None:
    assert group_state(json.dumps({"name": "producer-1", "brokers": {}})) is None
    assert group_state("not json") is None
    assert group_state("[1, 2]") is None
    assert group_state(json.dumps({"cgrp": "up"})) is None


def test_a_consumer_out_of_its_group_is_stuck_only_after_the_limit() -> None:
    watch = GroupWatch(stuck_after_s=90)
    watch.observe(("up", "steady"), now=0)
    assert not watch.stuck(now=500)
    watch.observe(("up", "wait-join"), now=100)
    watch.observe(("wait-coord", "init"), now=150)  # still out: counted from the first report out of the group
    assert not watch.stuck(now=189.9)
    assert watch.stuck(now=190)
    assert watch.last == ("wait-coord", "init")


def test_coming_back_to_the_group_clears_the_count() -> None:
    watch = GroupWatch(stuck_after_s=90)
    watch.observe(("up", "wait-sync"), now=0)
    watch.observe(("up", "steady"), now=60)
    assert not watch.stuck(now=1000)
    watch.observe(("up", "wait-join"), now=1000)
    assert not watch.stuck(now=1089)
    assert watch.stuck(now=1090)


def test_a_new_consumer_gets_the_whole_limit_to_join() -> None:
    watch = GroupWatch(stuck_after_s=90)
    watch.observe(("up", "wait-join"), now=0)
    assert watch.stuck(now=100)
    watch.reset(now=100)  # replaced: the new consumer has not reported yet, and is not steady
    assert not watch.stuck(now=189)
    assert watch.stuck(now=190)
    watch.observe(("up", "steady"), now=120)
    assert not watch.stuck(now=400)
