"""One curve read unordered and sorted in Python gives the points the ordered statement gives, across parts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from consumers.clickhouse import connect
from consumers.migrate import migrate
from query_api.queries import curves

pytestmark = pytest.mark.integration

CHUNK_COLUMNS = ["experiment_id", "run_id", "key", "first_step", "kafka_partition", "kafka_offset", "step", "ts",
                 "value", "point_index"]
RUN = "a" * 32


@pytest.fixture
def client(clickhouse_dsn: str) -> Iterator[Client]:
    database = f"it_curves_{uuid.uuid4().hex[:8]}"
    client = connect(clickhouse_dsn, database)
    migrate(client)
    client.command("SYSTEM STOP MERGES metric_chunks")  # every insert stays a part of its own
    yield client
    client.command(f"DROP DATABASE `{database}` SYNC")
    client.close()


def _insert(client: Client, key: str, points: list[tuple[int, int, float, int, int]]) -> None:
    """points: (step, ts in ms, value, kafka_offset, point_index), one part per call: a chunk of metric_chunks
    (the table behind the view `metrics`) per offset, its points in point-index order."""
    rows = []
    for offset in sorted({p[3] for p in points}):
        mine = sorted((p for p in points if p[3] == offset), key=lambda p: p[4])
        rows.append(["e", RUN, key, mine[0][0], 0, offset, [p[0] for p in mine],
                     [datetime.fromtimestamp(p[1] / 1000, UTC) for p in mine], [p[2] for p in mine],
                     [p[4] for p in mine]])
    client.insert("metric_chunks", rows, column_names=CHUNK_COLUMNS, settings={"async_insert": 0})


def _ordered(client: Client, key: str, step_min: int | None = None, step_max: int | None = None
             ) -> list[dict[str, Any]]:
    bind = {"experiment_id": "e", "run_id": RUN, "key": key,
            "step_min": curves.INT64_MIN if step_min is None else step_min,
            "step_max": curves.INT64_MAX if step_max is None else step_max}
    return [{"step": s, "value": v, "timestamp": t}
            for s, v, t in client.query(curves.ALL_POINTS, parameters=bind).result_rows]


def test_a_curve_over_several_parts_comes_in_the_ordered_statements_order(client: Client) -> None:
    base = 1_700_000_000_000
    _insert(client, "loss", [(s, base + s, float(s), 100 + s, 0) for s in range(0, 40, 2)])
    _insert(client, "loss", [(s, base + s, float(s), 200 + s, 0) for s in range(1, 40, 2)])
    # step 5 again, logged later with an earlier timestamp, and step 7 again later in time: by step, then ts
    _insert(client, "loss", [(5, base - 1, -5.0, 300, 0), (7, base + 99, -7.0, 301, 0)])
    _insert(client, "other", [(s, base, 1.0, 400 + s, 0) for s in range(5)])
    points = curves.curve(client, "e", RUN, "loss")
    assert points == _ordered(client, "loss") and len(points) == 42
    assert [p["value"] for p in points if p["step"] in (5, 7)] == [-5.0, 5.0, 7.0, -7.0]
    assert curves.curve(client, "e", RUN, "loss", step_min=10, step_max=19) == _ordered(client, "loss", 10, 19)
    assert [p["step"] for p in curves.curve(client, "e", RUN, "loss", step_min=38)] == [38, 39]


def test_a_step_logged_twice_in_one_millisecond_keeps_the_log_order(client: Client) -> None:
    base = 1_700_000_000_000
    # the later part holds the earlier log positions: only (kafka_offset, point_index) orders the ties
    _insert(client, "acc", [(1, base, 0.9, 50, 1), (2, base + 1, 0.8, 60, 0)])
    _insert(client, "acc", [(1, base, 0.1, 50, 0), (0, base - 1, 0.0, 40, 0)])
    points = curves.curve(client, "e", RUN, "acc")
    assert points == _ordered(client, "acc")
    assert [(p["step"], p["value"]) for p in points] == [(0, 0.0), (1, 0.1), (1, 0.9), (2, 0.8)]


def test_the_copy_of_a_series_answers_what_the_statements_answer(client: Client) -> None:
    """curves.series + curves.points_of (the API's in-memory copy) against curves.curve, over parts, NaN, infinities,
    repeated steps, equal timestamps and ties only the log orders, for ranges and max_points that do not
    downsample; the JSON bytes must be equal."""
    from query_api.jsonresponse import dumps

    base = 1_700_000_000_000
    specials = [float("nan"), float("inf"), float("-inf"), -0.0, 1e-310, 0.1]
    for k, key in enumerate(["plain", "ties", "specials"]):
        offset = 1000 * k
        for part in range(3):
            points = []
            for i in range(15):
                step = (i * 7 + part) % 20 if key != "plain" else part * 15 + i
                ts = base + (step if key == "ties" else i * 3 + part)
                value = specials[(i + part) % len(specials)] if key == "specials" else float(i - part)
                points.append((step, ts, value, offset + part * 100 + i, i % 2))
            _insert(client, key, points)
        columns = curves.series(client, "e", RUN, key)
        assert len(columns[0]) == 45
        ranges = [(None, None), (0, 0), (3, 9), (None, 5), (5, None), (-10, -1), (19, 100), (curves.INT64_MIN, 2)]
        for step_min, step_max in ranges:
            for max_points in (None, 45, 100, 2):
                want = curves.curve(client, "e", RUN, key, max_points=max_points, step_min=step_min, step_max=step_max)
                got = curves.points_of(columns, max_points=max_points, step_min=step_min, step_max=step_max)
                if got is None:  # the copy leaves downsampling to ClickHouse
                    assert max_points is not None and len(want) <= max_points + 2
                    continue
                assert dumps(got) == dumps(want), (key, step_min, step_max, max_points)
    assert curves.points_of(curves.series(client, "e", RUN, "none")) == []
