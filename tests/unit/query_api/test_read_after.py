"""Reads that name the log positions they must see (`X-Runstream-After`): the header's format, and the barrier's
wait for positions a request asks for beside this instance's own writes."""

from __future__ import annotations

import pytest

from producer import Tracker, TrackerSettings
from query_api.app import after_positions
from query_api.consistency import ProjectorBehind, ReadBarrier
from query_api.errors import InvalidParameter
from schemas.positions import HEADER, MAX_PARTITIONS, format_positions, parse_positions
from tests.unit.producer.fakes import RecordingPublisher


def test_positions_round_trip() -> None:
    positions = {2: 977, 0: 1841, 11: 0}
    assert format_positions(positions) == "0:1841,2:977,11:0"
    assert parse_positions(format_positions(positions)) == positions
    assert parse_positions(" 0:5 , 1:7 ") == {0: 5, 1: 7}
    assert parse_positions("") == {}


@pytest.mark.parametrize(("text", "message"), [
    ("0", "is not partition:offset"),
    ("a:1", "is not partition:offset"),
    ("-1:5", "is not partition:offset"),
    ("0:-5", "is not partition:offset"),
    ("0:1,,1:2", "is not partition:offset"),
    ("0:1,0:2", "partition 0 is given twice"),
    (f"{MAX_PARTITIONS}:1", "out of range"),
    (f"0:{2**63}", "out of range"),
    (",".join(f"{p}:1" for p in range(MAX_PARTITIONS + 1)), "at most"),
])
def test_bad_positions_are_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_positions(text)
    with pytest.raises(InvalidParameter, match=f"{HEADER}: .*{message}"):
        after_positions(text)


def test_no_header_asks_for_nothing() -> None:
    assert after_positions(None) is None


class Positions:
    """A projector whose positions move when told; counts the ClickHouse reads."""

    def __init__(self, local: dict[int, int], stored: dict[int, int]) -> None:
        self.local, self.stored, self.queries = local, stored, 0

    def read(self) -> dict[int, int]:
        self.queries += 1
        return dict(self.stored)


def test_a_read_waits_for_the_positions_it_asks_for() -> None:
    store = Positions({0: 10, 1: 3}, {})
    barrier = ReadBarrier(lambda: {}, store.read, local=lambda: dict(store.local), timeout_s=0.3, interval_s=0.01)
    assert barrier.passed()  # nothing of its own written, nothing asked
    assert not barrier.passed({1: 5})
    with pytest.raises(ProjectorBehind, match=r"or the positions asked for .*partitions \[1\]"):
        barrier.wait({0: 10, 1: 5})
    assert 1 <= store.queries < 10  # memory is polled finely, ClickHouse seldom
    store.local[1] = 5
    barrier.wait({0: 10, 1: 5})
    assert barrier.passed({0: 10, 1: 5})


def test_partitions_held_elsewhere_are_read_from_clickhouse() -> None:
    store = Positions({0: 10}, {0: 10, 2: 40})
    barrier = ReadBarrier(lambda: {}, store.read, local=lambda: dict(store.local), timeout_s=1.0, interval_s=0.01)
    barrier.wait({2: 40})
    assert store.queries >= 1


def test_own_writes_and_asked_positions_both_count() -> None:
    store = Positions({0: 7}, {})
    barrier = ReadBarrier(lambda: {0: 9}, store.read, local=lambda: dict(store.local), timeout_s=0.2,
                          interval_s=0.01)
    with pytest.raises(ProjectorBehind, match="this server's writes or the positions asked for"):
        barrier.wait({0: 5})  # asked for less than the server's own write: the own write still counts
    store.local[0] = 9
    barrier.wait({0: 5})


def test_a_tracker_gives_the_header_for_what_was_acknowledged() -> None:
    publisher = RecordingPublisher()
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers="localhost:1"), publisher=publisher)  # type: ignore[arg-type]
    try:
        assert tracker.read_after() == {}
        publisher.acked_offsets.update({3: 12, 0: 4})
        assert tracker.read_after() == {HEADER: "0:4,3:12"}
    finally:
        tracker.close(1)
