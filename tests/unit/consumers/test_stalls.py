"""consumers.stalls: when a partition counts as stuck, and where an unreadable batch ends."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from consumers.stalls import StallWatch, batch_end

BAD = KafkaError._BAD_COMPRESSION


def test_an_offset_that_fails_three_times_is_given_up() -> None:
    watch = StallWatch(skip_after=3)
    assert watch.error(1, 40, BAD, "Decompression failed", now=1.0) is None
    assert watch.error(1, 40, BAD, "Decompression failed", now=1.5) is None
    assert [s["partition"] for s in watch.report()] == [1]
    stall = watch.error(1, 40, BAD, "Decompression failed", now=2.0)
    assert stall is not None and (stall.partition, stall.offset, stall.repeats, stall.since) == (1, 40, 3, 1.0)


def test_errors_at_moving_offsets_or_of_other_kinds_are_no_stall() -> None:
    watch = StallWatch(skip_after=2)
    assert watch.error(0, 5, BAD, "x") is None
    assert watch.error(0, 6, BAD, "x") is None, "a new offset starts counting again"
    assert watch.error(0, 6, KafkaError._TRANSPORT, "broker down") is None
    assert watch.error(0, -1, BAD, "no offset") is None
    assert watch.error(0, 6, BAD, "x") is not None


def test_reading_past_the_offset_ends_the_stall() -> None:
    watch = StallWatch(skip_after=5)
    watch.error(2, 9, BAD, "x")
    watch.progressed(2, 8)
    assert watch.stalled
    watch.progressed(2, 10)
    assert not watch.stalled and watch.report() == []


@pytest.mark.parametrize(("first", "last", "high"), [(7, 7, 8), (7, 7, 100), (0, 4999, 5000), (3, 30, 31),
                                                      (3, 30, 1000), (10, 11, 12)])
def test_the_batch_end_is_found_by_binary_search(first: int, last: int, high: int) -> None:
    probes: list[int] = []

    def unreadable_from(offset: int) -> bool:
        probes.append(offset)
        assert first < offset < high, "never probes the known start or past the high watermark"
        return offset <= last

    assert batch_end(first, high, unreadable_from) == last
    assert len(probes) <= (high - first).bit_length()
