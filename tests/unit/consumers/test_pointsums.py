"""consumers.pointsums: verify's numpy checksums of metric blocks equal the SQL checksums of the same rows stored."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import clickhouse_connect
import numpy as np
import pytest
from clickhouse_connect.driver.client import Client

from consumers import pointsums
from consumers.migrate import migrate
from consumers.projections.base import LoggedEvent
from consumers.projections.metrics import MetricBlock
from schemas import MetricsLogged, Producer, RunEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    client = clickhouse_connect.get_client(dsn="chdb://memory")
    database = f"pointsums_{uuid.uuid4().hex[:8]}"
    client.command(f"CREATE DATABASE {database}")
    client.command(f"USE {database}")
    migrate(client)
    try:
        yield client
    finally:
        client.command(f"DROP DATABASE {database}")
        client.close()


def _event(run: str, experiment: str, batch: MetricsLogged, offset: int, partition: int = 0) -> LoggedEvent:
    event = RunEvent(str(uuid.uuid4()), run, experiment, offset + 1, T0, Producer("h", 1, "u", "0"), batch)
    return LoggedEvent(event, partition, offset, "")


def _batch(rng: np.random.Generator, n: int, names: list[str]) -> MetricsLogged:
    values = rng.normal(size=n)
    values[: min(n, 4)] = [np.nan, np.inf, -np.inf, -0.0][: min(n, 4)]
    steps = rng.integers(-(2**62), 2**62, n)
    steps[:2] = [-1, 2**63 - 1][: min(n, 2)]
    return MetricsLogged(names, rng.integers(0, len(names), n).astype(np.int32), steps,
                         rng.integers(0, 2**42, n), values)


def _blocks(rng: np.random.Generator) -> list[MetricBlock]:
    runs = [uuid.uuid4().hex for _ in range(4)]
    blocks = []
    offset = 0
    for _ in range(3):
        block = MetricBlock("metric_chunks")
        for _ in range(5):
            run = runs[int(rng.integers(0, len(runs)))]
            block.add(_event(run, "exp-ünï" if run == runs[0] else "7", _batch(rng, int(rng.integers(1, 300)),
                                                                                   ["loss", "acc", "a/b"]),
                             offset, partition=offset % 3))
            offset += 1
        blocks.append(block)
    return blocks


def _live(client: Client) -> dict[str, tuple[int, int]]:
    sql = pointsums.checksum_sql("metric_chunks", chunks=True)
    return {str(r): (int(n), int(h)) for r, n, h, _ in client.query(sql).result_rows}


def test_the_numpy_checksums_of_blocks_equal_the_sql_checksums_of_their_rows_stored(client: Client) -> None:
    client.command("TRUNCATE TABLE metric_chunks")
    blocks = _blocks(np.random.default_rng(3))
    sums = pointsums.PointSums(pointsums.city_hashes(client))
    for block in blocks:
        client.insert_arrow("metric_chunks", block.to_chunk_arrow())
        sums.add(block)
    assert {run: (n, h) for run, (n, h) in sums.runs.items()} == _live(client)
    assert sum(n for n, _ in sums.runs.values()) == sum(len(b) for b in blocks)


def test_a_changed_doubled_or_missing_row_changes_its_runs_checksum(client: Client) -> None:
    client.command("TRUNCATE TABLE metric_chunks")
    blocks = _blocks(np.random.default_rng(5))
    sums = pointsums.PointSums(pointsums.city_hashes(client))
    for block in blocks:
        client.insert_arrow("metric_chunks", block.to_chunk_arrow())
        sums.add(block)
    expected = {run: (n, h) for run, (n, h) in sums.runs.items()}
    run = next(iter(expected))
    client.command("ALTER TABLE metric_chunks UPDATE value = arrayMap((v, i) -> if(i = 5, v + 1, v), value, "
                   "point_index) WHERE run_id = {r:String} AND has(point_index, 5) SETTINGS mutations_sync = 1",
                   parameters={"r": run})
    changed = _live(client)
    assert changed[run][0] == expected[run][0] and changed[run][1] != expected[run][1]
    assert {r: v for r, v in changed.items() if r != run} == {r: v for r, v in expected.items() if r != run}
    client.command("SYSTEM STOP MERGES metric_chunks")  # a ReplacingMergeTree merge would fold the doubled rows
    try:
        client.command("INSERT INTO metric_chunks SELECT * FROM metric_chunks WHERE kafka_offset = 0",
                       settings={"insert_deduplicate": 0})  # the first event's points twice
        doubled = _live(client)
    finally:
        client.command("SYSTEM START MERGES metric_chunks")
    twice = {blocks[0].parts[0].run_id}
    assert {r for r in expected if doubled[r] != changed[r]} == twice
    assert all(doubled[r][0] > expected[r][0] for r in twice)
    client.command("ALTER TABLE metric_chunks DELETE WHERE run_id = {r:String} AND has(point_index, 0) "
                   "SETTINGS mutations_sync = 1", parameters={"r": run})
    assert _live(client)[run] != doubled[run]


def test_the_sums_of_a_sorted_block_equal_those_of_its_points_in_event_order() -> None:
    hashes = pointsums.StringHashes(lambda values: [zlib.crc32(v.encode()) for v in values])
    by_key, by_event = pointsums.PointSums(hashes), pointsums.PointSums(hashes)
    for block in _blocks(np.random.default_rng(11)):
        unsorted = MetricBlock(block.table)
        unsorted.parts = list(block.parts)
        unsorted.sorted_insert = False
        by_key.add(block)  # from the key-ordered columns (as verify sums metric_chunks), event order below
        by_event.add(unsorted)
        assert block._ordered is not None and unsorted._ordered is None
    assert by_key.runs == by_event.runs
    assert sum(n for n, _ in by_key.runs.values()) > 0


def test_two_rows_with_swapped_values_change_the_checksum() -> None:
    hashes = np.array([11, 22], dtype=np.uint64)
    step, ts = np.array([1, 2]), np.array([5, 5])
    one = pointsums.row_hashes(hashes, hashes, step, ts, np.array([0.5, 0.25]), np.zeros(2, np.uint32),
                               np.zeros(2, np.uint64), np.zeros(2, np.uint32))
    two = pointsums.row_hashes(hashes, hashes, step, ts, np.array([0.25, 0.5]), np.zeros(2, np.uint32),
                               np.zeros(2, np.uint64), np.zeros(2, np.uint32))
    assert int(one.sum(dtype=np.uint64)) != int(two.sum(dtype=np.uint64))


@pytest.mark.parametrize("table", ["metrics", "metric_chunks"])
def test_only_the_metrics_shape_the_hash_is_written_for_matches(client: Client, table: str) -> None:
    columns = [(str(n), str(t)) for n, t in client.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
        "ORDER BY position", parameters={"t": table}).result_rows]
    assert pointsums.matches(columns)
    assert not pointsums.matches(columns[:-1])
    assert not pointsums.matches([(n, "String" if n == "run_id" else t) for n, t in columns][::-1])
