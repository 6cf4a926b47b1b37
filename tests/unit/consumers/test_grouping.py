"""A live batch is written in groups taken oldest message first across partitions, each partition's order kept,
cut into groups of about equal bytes."""

from __future__ import annotations

import random

from consumers.grouping import groups_oldest_first


class Msg:
    def __init__(self, partition: int, offset: int, stamp: int, size: int = 10, kind: int = 1) -> None:
        self.partition, self.offset, self.stamp, self.size, self.kind = partition, offset, stamp, size, kind

    def value(self) -> bytes:
        return b"x" * self.size

    def timestamp(self) -> tuple[int, int]:
        return self.kind, self.stamp

    def __repr__(self) -> str:
        return f"Msg({self.partition}, {self.offset}, {self.stamp})"


def test_every_message_once_each_group_one_consecutive_run_per_partition() -> None:
    rng = random.Random(7)
    for _ in range(50):
        batches = {p: [Msg(p, o, rng.randrange(1000), rng.randrange(1, 50)) for o in range(rng.randrange(0, 30))]
                   for p in rng.sample(range(8), rng.randrange(1, 6))}
        chunk = rng.randrange(20, 400)
        groups = list(groups_oldest_first(batches, chunk))
        seen: dict[int, list[int]] = {p: [] for p in batches}
        for group in groups:
            assert group, "no empty group"
            assert len({p for p, _ in group}) == len(group), "one run per partition"
            for p, msgs in group:
                assert msgs and all(m.partition == p for m in msgs)
                seen[p] += [m.offset for m in msgs]
        assert seen == {p: [m.offset for m in msgs] for p, msgs in batches.items()}  # all, once, in order
        total = sum(m.size for msgs in batches.values() for m in msgs)
        assert len(groups) <= max(1, -(-total // chunk))  # never more groups than cutting by chunk_bytes


def test_the_oldest_messages_of_every_partition_go_first() -> None:
    # partition 0 was fetched first and holds newer messages than partition 1's: by partition, partition 1's
    # oldest would wait for the whole of partition 0
    batches = {0: [Msg(0, o, 100 + o) for o in range(10)], 1: [Msg(1, o, o) for o in range(10)]}
    first, second = groups_oldest_first(batches, 100)
    assert first == [(1, batches[1])]
    assert second == [(0, batches[0])]


def test_a_partition_keeps_its_order_even_when_its_timestamps_do_not() -> None:
    batches = {0: [Msg(0, 0, 50), Msg(0, 1, 10), Msg(0, 2, 60)], 1: [Msg(1, 0, 20), Msg(1, 1, 30)]}
    (group,) = groups_oldest_first(batches, 10_000)
    assert group == [(0, batches[0]), (1, batches[1])]


def test_groups_are_cut_evenly_not_into_a_full_one_and_a_tail() -> None:
    batches = {0: [Msg(0, o, o, size=10) for o in range(11)]}  # 110 bytes, chunk 100: two of ~55, not 100 + 10
    groups = list(groups_oldest_first(batches, 100))
    assert [sum(m.size for _, msgs in g for m in msgs) for g in groups] == [60, 50]


def test_messages_without_a_timestamp_and_an_empty_batch() -> None:
    batches = {0: [Msg(0, 0, 5), Msg(0, 1, 6)], 1: [Msg(1, 0, 0, kind=0)]}
    (group,) = groups_oldest_first(batches, 10_000)
    assert sorted(p for p, _ in group) == [0, 1]
    assert list(groups_oldest_first({}, 100)) == []
    assert list(groups_oldest_first({3: []}, 100)) == []
