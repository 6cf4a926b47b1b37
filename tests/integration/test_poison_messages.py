"""No message stops the projector: values out of their columns' ranges, a message too large to copy to the DLQ,
a batch the consumer cannot decompress, and an event of a run under another experiment each become dead letters
(with a reason, in the DLQ and in the run's history) while the events around them are projected. A replay of the
log (verify) reaches the same rows."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Consumer, Message, Producer
from fastapi.testclient import TestClient

from consumers.sink import ClickHouseSink
from runstream.stack import build_app
from schemas import ArtifactLogged, MetricsLogged, RunEvent, RunStarted, TagsSet, encode
from schemas import Producer as ProducerInfo
from tests.integration.conftest import Stack, stack_settings, wait_for

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _event(run_id: str, payload: Any, *, seq: int = 1, experiment_id: str = "exp-poison", pid: int = 1,
           at: datetime = NOW) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, experiment_id, seq, at, ProducerInfo("h", pid, "u", "t"), payload)


def _client(stack: Stack) -> Any:
    return stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]


def _send(stack: Stack, messages: list[tuple[bytes, bytes]], **config: Any) -> None:
    producer = Producer({"bootstrap.servers": stack.settings.store.kafka_bootstrap_servers, **config})
    for key, value in messages:
        producer.produce(stack.settings.store.topic, value=value, key=key)
    assert producer.flush(60) == 0


def _dead_letters(stack: Stack, run_id: str) -> list[tuple[int, str, str]]:
    return [tuple(r) for r in _client(stack).query(
        "SELECT kafka_offset, error, payload FROM events WHERE event_type = 'DeadLetter' AND run_id = {r:String} "
        "ORDER BY kafka_offset", parameters={"r": run_id}).result_rows]


def _dlq(stack: Stack, predicate: Any, count: int) -> list[Message]:
    consumer = Consumer({"bootstrap.servers": stack.settings.store.kafka_bootstrap_servers,
                         "group.id": f"dlq-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"})
    consumer.subscribe([stack.settings.store.dlq_topic])
    seen: list[Message] = []
    try:
        wait_for(lambda: seen.extend(m for m in consumer.consume(100, 1.0) if m.error() is None and predicate(m))
                 or len(seen) >= count, 60, what=f"{count} dead letters in the DLQ")
    finally:
        consumer.close()
    return seen


def _headers(msg: Message) -> dict[str, str]:
    return {k: (v or b"").decode() for k, v in msg.headers() or []}


def test_values_outside_their_columns_are_dead_lettered_and_what_follows_is_projected(stack: Stack) -> None:
    run_id = uuid.uuid4().hex
    started = _event(run_id, RunStarted("ranges", "u"))
    bad = {
        "pid -1": _event(run_id, TagsSet({"a": "1"}), seq=2, pid=-1),
        "artifact size -1": _event(run_id, ArtifactLogged("m.bin", "file:///m.bin", -1, "sha256:00"), seq=3),
        "seq 2^63-1": _event(run_id, TagsSet({"b": "1"}), seq=2**63 - 1),
        "year 1": _event(run_id, TagsSet({"c": "1"}), seq=4, at=datetime(1, 1, 1, tzinfo=UTC)),
        "year 9999": _event(run_id, TagsSet({"d": "1"}), seq=5, at=datetime(9999, 12, 31, tzinfo=UTC)),
        "timestamp 2^63-1": _event(run_id, MetricsLogged(["loss"], [0], [0], [2**63 - 1], [0.5]), seq=6),
    }
    good = _event(run_id, TagsSet({"after": "yes"}), seq=2)
    key = run_id.encode()
    _send(stack, [(key, encode(started)), *((key, encode(e)) for e in bad.values()), (key, encode(good))])
    stack.wait_projected()

    dead = _dead_letters(stack, run_id)
    assert [reason for _, reason, _ in dead] == ["out_of_range"] * len(bad)
    messages = " ".join(payload for _, _, payload in dead)
    for needle in ["producer pid -1", "artifact size -1", "seq 9223372036854775807", "event_time 0001-01-01",
                   "event_time 9999-12-31", "metric timestamp (ms) 9223372036854775807"]:
        assert needle in messages
    assert stack.api.get("/healthz").json()["projector"] == "running"
    run = stack.api.get(f"/api/v1/runs/{run_id}").json()
    assert run["tags"] == {"after": "yes"} and run["metrics"] == {}
    # What the out-of-range events used to break answers again.
    assert stack.api.get(f"/api/v1/runs/{run_id}", params={"as_of": "2026-06-02T00:00:00Z"}).status_code == 200
    diff = stack.api.get(f"/api/v1/runs/{run_id}/diff", params={"from": "2026-05-01T00:00:00Z",
                                                                 "to": "2026-06-02T00:00:00Z"})
    assert diff.status_code == 200, diff.text
    history = stack.api.get(f"/api/v1/runs/{run_id}/history").json()
    assert history["seq_gaps"] == []


def test_a_message_too_large_to_copy_is_dead_lettered_by_reference(stack: Stack) -> None:
    run_id = uuid.uuid4().hex
    huge_key, value = b"k" * 1_000_000, b"\x00 not avro"
    # zstd lets the broker take a 1 MB key; the DLQ copy would be the uncompressed size, over the limit.
    _send(stack, [(huge_key, value)], **{"compression.type": "zstd", "message.max.bytes": 5_000_000})
    _send(stack, [(run_id.encode(), encode(_event(run_id, RunStarted("after-huge", "u"))))])
    stack.wait_projected()

    (letter,) = _dlq(stack, lambda m: _headers(m).get("runstream.source.key_size") == str(len(huge_key)), 1)
    headers = _headers(letter)
    assert letter.value() is None and letter.key() is None and headers["runstream.by_reference"] == "1"
    assert headers["runstream.error.reason"] == "bad_magic"
    assert headers["runstream.source.size"] == str(len(huge_key) + len(value))
    offset = int(headers["runstream.source.offset"])
    row = _client(stack).query(
        "SELECT error, length(run_id) FROM events WHERE event_type = 'DeadLetter' AND kafka_offset = {o:UInt64} "
        "AND kafka_partition = {p:UInt32}", parameters={"o": offset, "p": int(headers["runstream.source.partition"])}
    ).result_rows
    assert row == [("bad_magic", 1024)], "the events row keeps a bounded prefix of the key"
    assert stack.api.get("/healthz").json()["projector"] == "running"
    assert stack.api.get(f"/api/v1/runs/{run_id}").json()["name"] == "after-huge"


def test_an_event_of_a_run_under_another_experiment_is_dead_lettered(stack: Stack) -> None:
    run_id = uuid.uuid4().hex
    key = run_id.encode()
    _send(stack, [(key, encode(_event(run_id, RunStarted("owned", "u"), experiment_id="exp-home")))])
    stack.wait_projected()  # the run's first event is in ClickHouse before the next batch is screened
    _send(stack, [(key, encode(_event(run_id, TagsSet({"intruder": "1"}), seq=2, experiment_id="exp-away"))),
                  (key, encode(_event(run_id, RunStarted("moved", "u"), seq=3, experiment_id="exp-away"))),
                  (key, encode(_event(run_id, TagsSet({"home": "1"}), seq=4, experiment_id="exp-home")))])
    stack.wait_projected()

    dead = _dead_letters(stack, run_id)
    assert [reason for _, reason, _ in dead] == ["experiment_mismatch"] * 2
    assert "belongs to experiment 'exp-home'" in dead[0][2]
    client = _client(stack)
    assert client.query("SELECT experiment_id, name FROM runs_current WHERE run_id = {r:String}",
                        parameters={"r": run_id}).result_rows == [("exp-home", "owned")]
    assert stack.api.get(f"/api/v1/runs/{run_id}").json()["tags"] == {"home": "1"}
    letters = _dlq(stack, lambda m: m.key() == key, 2)
    assert {_headers(m)["runstream.error.reason"] for m in letters} == {"experiment_mismatch"}
    # The projector's question about earlier offsets, asked of ClickHouse directly.
    partition = client.query("SELECT any(kafka_partition) FROM events WHERE run_id = {r:String}",
                             parameters={"r": run_id}).result_rows[0][0]
    sink = ClickHouseSink(client)
    assert sink.first_experiments(partition, [run_id, "0" * 32], 2**62) == {run_id: "exp-home"}
    assert sink.first_experiments(partition, [run_id], 0) == {}


def _unreadable_batch(stack: Stack, key: bytes, records: int = 30) -> None:
    """One zstd record batch that decompresses to 120 MB (like a 5M-point metric batch): more than the
    consumer's receive.message.max.bytes, so librdkafka reports _BAD_COMPRESSION at its first offset."""
    _send(stack, [(key, b"\x00" * 4_000_000)] * records, **{
        "compression.type": "zstd", "message.max.bytes": 200_000_000, "batch.size": 200_000_000,
        "linger.ms": 5000})  # flush() sends at once; the linger only keeps a slow produce loop in one batch


def test_a_batch_the_consumer_cannot_decompress_is_skipped_into_dead_letters(stack: Stack) -> None:
    run_id = uuid.uuid4().hex
    key = run_id.encode()
    _send(stack, [(key, encode(_event(run_id, RunStarted("before", "u"))))])
    _unreadable_batch(stack, key)
    _send(stack, [(key, encode(_event(run_id, TagsSet({"after": "1"}), seq=2)))])
    stack.wait_projected(120)

    dead = _dead_letters(stack, "")
    skipped = [offset for offset, reason, _ in dead if reason == "unreadable"]
    # The whole batch, every offset of it, whatever the probe had to search through (30 records, unless the
    # producer split them: then the readable remainder is dead-lettered as undecodable bytes, not skipped).
    assert skipped and skipped == list(range(skipped[0], skipped[0] + len(skipped))), skipped
    remainder = {offset: reason for offset, reason, _ in _dead_letters(stack, run_id)}
    assert all(remainder.get(o) == "bad_magic" for o in range(skipped[-1] + 1, skipped[0] + 30)), remainder
    assert all("Decompression" in payload for _, reason, payload in dead if reason == "unreadable")
    assert stack.api.get(f"/api/v1/runs/{run_id}").json()["tags"] == {"after": "1"}
    health = stack.api.get("/healthz").json()
    assert health["projector"] == "running" and "projector_stalled" not in health
    (skip,) = [s for s in health["projector_skipped"] if s["first_offset"] == skipped[0]]
    assert skip["last_offset"] == skipped[-1] and "Decompression" in skip["error"]
    metrics = stack.api.get("/metrics").text
    assert re.search(rf"^runstream_projector_skipped_messages_total {len(skipped)}\.0$", metrics, re.M), metrics
    assert re.search(r"^runstream_projector_stalled_partitions 0\.0$", metrics, re.M)
    letters = _dlq(stack, lambda m: _headers(m).get("runstream.error.reason") == "unreadable", len(skipped))
    assert sorted(int(_headers(m)["runstream.source.offset"]) for m in letters) == skipped
    assert all(m.value() is None and _headers(m)["runstream.source.size"] == "unknown" for m in letters)


def test_a_partition_that_cannot_be_read_is_reported_while_it_stalls(kafka_bootstrap: str, clickhouse_dsn: str
                                                                     ) -> None:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "stalled", stall_skip_after=1_000_000)
    with TestClient(build_app(settings)) as api:
        stalled = Stack(settings, api)
        _unreadable_batch(stalled, b"0" * 32, records=26)
        body = wait_for(lambda: (lambda r: r.status_code == 503 and r.json())(api.get("/healthz")), 60,
                        what="/healthz to report the stall")
        assert body["projector"] == "running" and body["reason"].startswith("projector stalled on partition")
        assert [s["offset"] for s in body["projector_stalled"]] == [0]
        assert re.search(r"^runstream_projector_stalled_partitions 1\.0$", api.get("/metrics").text, re.M)


def test_a_replay_of_the_log_reaches_the_same_dead_letters(stack: Stack) -> None:
    started = stack.api.post("/api/v1/admin/verify")
    assert started.status_code == 202, started.text
    status = wait_for(lambda: (lambda s: s if s["state"] != "running" else None)(
        stack.api.get("/api/v1/admin/verify").json()), 180, 0.5, "verify to finish")
    assert status["state"] == "done" and status["differences"] == [], status
