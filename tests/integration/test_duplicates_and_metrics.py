"""The same event delivered twice counts once; holes in a run's seq are shown; /metrics reports it all."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer as KafkaProducer

from schemas import MetricsLogged, Producer, RunEvent, RunStarted, TagsSet, encode
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def _event(run_id: str, seq: int, payload: object) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, "exp-dups", seq, datetime.now(UTC), Producer("h", 1, "u", "t"),
                    payload)  # type: ignore[arg-type]


def test_duplicates_count_once_and_gaps_are_visible(stack: Stack) -> None:
    run_id = uuid.uuid4().hex
    started = encode(_event(run_id, 1, RunStarted("dup-run", "u")))
    batch = encode(_event(run_id, 2, MetricsLogged(["loss"], [0] * 100, list(range(100)), [0] * 100,
                                                   [float(i) for i in range(100)])))
    after_gap = encode(_event(run_id, 5, TagsSet({"k": "v"})))
    producer = KafkaProducer({"bootstrap.servers": stack.settings.store.kafka_bootstrap_servers})
    for value in (started, batch, batch, after_gap, batch):  # the batch arrives three times
        producer.produce(stack.settings.store.topic, value=value, key=run_id)
        producer.flush(10)
    stack.wait_projected()

    run = stack.api.get(f"/api/v1/runs/{run_id}").json()
    assert run["metrics"]["loss"]["count"] == 100 and run["metrics"]["loss"]["last"] == 99.0
    points = stack.api.get(f"/api/v1/runs/{run_id}/metrics/loss").json()["points"]
    assert len(points) == 100
    history = stack.api.get(f"/api/v1/runs/{run_id}/history").json()
    assert [e["type"] for e in history["events"]] == [
        "RunStarted", "MetricsLogged", "Duplicate", "TagsSet", "Duplicate"]
    assert history["seq_gaps"] == [[3, 4]]

    text = stack.api.get("/metrics").text
    metrics = {line.split(" ")[0]: float(line.split(" ")[-1]) for line in text.splitlines()
               if line and not line.startswith("#")}
    assert metrics["runstream_duplicate_events_total"] == 2
    assert metrics["runstream_runs_with_seq_gaps"] == 1 and metrics["runstream_missing_events"] == 2
    assert metrics["runstream_projected_points_total"] == 100
    assert metrics["runstream_log_events_total"] == 5 and metrics["runstream_dead_letters_total"] == 0
    assert sum(v for k, v in metrics.items() if k.startswith("runstream_projector_lag{")) == 0
    assert any(k.startswith('runstream_projector_insert_seconds_bucket{le="0.005",table="metric_chunks"')
               for k in metrics)
    assert metrics["runstream_projector_up"] == 1


def _scrape(stack: Stack) -> dict[str, float]:
    text = stack.api.get("/metrics").text
    return {line.split(" ")[0]: float(line.split(" ")[-1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def test_metrics_tell_how_long_a_batch_waited_and_was_written(stack: Stack) -> None:
    """Timed from the message's Kafka timestamp: an event logged 40 s before the projector saw it shows 40 s."""
    before = _scrape(stack)
    run_id = uuid.uuid4().hex
    logged_ms = int(datetime.now(UTC).timestamp() * 1000) - 40_000
    producer = KafkaProducer({"bootstrap.servers": stack.settings.store.kafka_bootstrap_servers})
    producer.produce(stack.settings.store.topic, value=encode(_event(run_id, 1, RunStarted("late", "u"))),
                     key=run_id, timestamp=logged_ms)
    producer.flush(10)
    stack.wait_projected()

    after = _scrape(stack)

    def grew(name: str) -> float:
        return after[name] - before.get(name, 0.0)

    assert grew("runstream_projector_waited_seconds_count") >= 1
    assert grew("runstream_projector_visible_age_seconds_count") >= 1
    assert grew("runstream_projector_write_seconds_count") >= 1
    assert grew("runstream_projector_waited_seconds_sum") >= 40
    assert grew("runstream_projector_visible_age_seconds_sum") >= 40 + grew("runstream_projector_write_seconds_sum")
    # the late batch is counted above 30 s, not in a bucket of a batch that was fresh
    assert grew('runstream_projector_visible_age_seconds_bucket{le="30.0"}') < grew(
        'runstream_projector_visible_age_seconds_bucket{le="+Inf"}')
