"""Malformed messages land in the DLQ with their reason while the projector carries on."""

from __future__ import annotations

import io
import os
import random
import uuid
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, Producer
from fastavro import schemaless_writer

from schemas import Producer as ProducerInfo
from schemas import RunEvent, RunStatus, RunStatusChanged, TagsSet, default_catalog, encode
from schemas.codec import MAGIC, to_avro
from tests.integration.conftest import Stack, wait_for

pytestmark = pytest.mark.integration


def _event(run_id: str, payload: object, seq: int = 1) -> RunEvent:
    return RunEvent(str(uuid.uuid4()), run_id, "exp-dlq", seq, datetime.now(UTC), ProducerInfo("h", 1, "u", "t"),
                    payload)  # type: ignore[arg-type]


def _unknown_status(run_id: str) -> bytes:
    """Valid Avro whose status is the enum's default symbol UNKNOWN: well-formed, but meaningless."""
    current = default_catalog().current
    out = io.BytesIO()
    out.write(MAGIC + current.fingerprint)
    schemaless_writer(out, current.parsed, to_avro(_event(run_id, RunStatusChanged(RunStatus.UNKNOWN))))
    return out.getvalue()


def test_bad_messages_go_to_the_dlq_and_good_ones_are_projected(stack: Stack) -> None:
    run_id = uuid.uuid4().hex
    good = encode(_event(run_id, TagsSet({"k": "v"})))
    bad = {
        "random_bytes": os.urandom(64),
        "random_body": good[:10] + bytes(range(255, 191, -1)),
        "bad_magic": b"\x00\x01" + good[2:],
        "unknown_fingerprint": MAGIC + b"\xde\xad\xbe\xef\x00\x00\x00\x00" + good[10:],
        "truncated": good[:-5],
        "empty_run_id": encode(_event("", TagsSet({"k": "v"}))),
        "unknown_status": _unknown_status(run_id),
    }
    producer = Producer({"bootstrap.servers": stack.settings.store.kafka_bootstrap_servers})
    for key, value in bad.items():
        producer.produce(stack.settings.store.topic, value=value, key=run_id if key != "empty_run_id" else key)
    producer.produce(stack.settings.store.topic, value=good, key=run_id)
    assert producer.flush(30) == 0
    stack.wait_projected()

    consumer = Consumer({"bootstrap.servers": stack.settings.store.kafka_bootstrap_servers, "group.id": "dlq-reader",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([stack.settings.store.dlq_topic])
    seen: list = []
    try:
        wait_for(lambda: seen.extend(consumer.consume(10, 1.0)) or len(seen) >= len(bad), 30, what="DLQ messages")
    finally:
        consumer.close()
    expected = {"random_bytes": {"bad_magic"}, "random_body": {"undecodable", "truncated"}, "bad_magic": {"bad_magic"},
                "unknown_fingerprint": {"unknown_fingerprint"}, "truncated": {"truncated"},
                "empty_run_id": {"invalid"}, "unknown_status": {"invalid"}}
    by_value = {value: name for name, value in bad.items()}
    assert sorted(by_value[m.value()] for m in seen) == sorted(bad)
    for message in seen:
        reason = dict(message.headers())["runstream.error.reason"].decode()
        assert reason in expected[by_value[message.value()]], (by_value[message.value()], message.value()[:12])
    for message in seen:
        headers = dict(message.headers())
        assert headers["runstream.source.topic"].decode() == stack.settings.store.topic
        assert int(headers["runstream.source.offset"]) >= 0
        assert headers["runstream.error.message"]

    history = stack.api.get(f"/api/v1/runs/{run_id}/history").json()["events"]
    assert [e["type"] for e in history].count("DeadLetter") == 6  # keyed by this run; empty_run_id is not
    assert [e["type"] for e in history][-1] == "TagsSet"
    assert stack.api.get("/healthz").json()["projector"] == "running"
    client = stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
    assert client.query("SELECT sum(dead_letters) FROM event_offsets").result_rows[0][0] == len(bad)


def _poison(rng: random.Random, good: bytes, run_id: str) -> tuple[str, bytes]:
    kind = rng.choice(["random", "magic", "fingerprint", "truncated", "trailing", "empty_run", "status", "empty"])
    if kind == "random":
        return kind, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == "magic":
        return kind, bytes([rng.randrange(256), rng.randrange(256)]) + good[2:] if good[:2] != b"\x00\x00" else good
    if kind == "fingerprint":
        return kind, MAGIC + bytes(rng.randrange(256) for _ in range(8)) + good[10:]
    if kind == "truncated":
        return kind, good[: rng.randrange(10, len(good) - 1)]
    if kind == "trailing":
        return kind, good + b"\x00" * rng.randrange(1, 5)
    if kind == "empty_run":
        return kind, encode(_event("", TagsSet({"k": "v"})))
    if kind == "status":
        return kind, _unknown_status(run_id)
    return kind, b""


def test_a_corpus_of_1000_poison_messages_lands_in_the_dlq_around_good_events(stack: Stack) -> None:
    rng = random.Random(1000)
    client = stack.api.app.state.runstream.clickhouse  # type: ignore[attr-defined]
    dead_before = client.query("SELECT sum(dead_letters) FROM event_offsets").result_rows[0][0] or 0
    runs = [uuid.uuid4().hex for _ in range(10)]
    producer = Producer({"bootstrap.servers": stack.settings.store.kafka_bootstrap_servers})
    sent_poison = 0
    for seq in range(1, 21):
        for run_id in runs:
            good = encode(_event(run_id, TagsSet({f"k{seq}": str(seq)}), seq=seq))
            producer.produce(stack.settings.store.topic, value=good, key=run_id)
            for _ in range(5):
                _, value = _poison(rng, good, run_id)
                if value and value[:2] == MAGIC and value == good:
                    continue
                producer.produce(stack.settings.store.topic, value=value, key=run_id)
                sent_poison += 1
    assert producer.flush(30) == 0 and sent_poison >= 1000
    stack.wait_projected(120)
    dead_after = client.query("SELECT sum(dead_letters) FROM event_offsets").result_rows[0][0]
    assert dead_after - dead_before == sent_poison
    reasons = dict(client.query(
        "SELECT error, count() FROM events WHERE event_type = 'DeadLetter' AND run_id IN {runs:Array(String)} "
        "GROUP BY error", parameters={"runs": runs}).result_rows)
    assert sum(reasons.values()) == sent_poison
    assert set(reasons) <= {"bad_magic", "unknown_fingerprint", "truncated", "undecodable", "invalid"}
    assert len(reasons) >= 4
    for run_id in runs:  # every good event around the poison was projected, in order
        history = stack.api.get(f"/api/v1/runs/{run_id}/history").json()
        good_events = [e for e in history["events"] if e["type"] == "TagsSet"]
        assert [e["seq"] for e in good_events] == list(range(1, 21))
        assert history["seq_gaps"] == []
    consumer = Consumer({"bootstrap.servers": stack.settings.store.kafka_bootstrap_servers, "group.id": "corpus-reader",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([stack.settings.store.dlq_topic])
    seen: list = []
    try:
        wait_for(lambda: seen.extend(m for m in consumer.consume(500, 1.0) if m.error() is None)
                 or len(seen) >= sent_poison + 7, 60, what="the DLQ to hold the corpus")
    finally:
        consumer.close()
    assert all(dict(m.headers()).get("runstream.error.reason") for m in seen)
