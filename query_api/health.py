"""Readiness: can we reach Kafka and ClickHouse, and how far behind is the projector?"""

from __future__ import annotations

from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from query_api.queries.log import ping, positions
from query_api.state import AppState


def projector_lag(high_watermarks: dict[int, int], positions: dict[int, int]) -> int:
    """Messages in the log not yet projected: per partition, the high watermark minus (position + 1)."""
    return sum(max(0, high - (positions.get(p, -1) + 1)) for p, high in high_watermarks.items())


def high_watermarks(admin: AdminClient, topic: str, timeout: float) -> dict[int, int]:
    metadata = admin.list_topics(topic, timeout=timeout)
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        raise KafkaException(described.error if described else f"topic {topic} not found")
    request = {TopicPartition(topic, p): OffsetSpec.latest() for p in described.partitions}
    futures = admin.list_offsets(request, request_timeout=timeout)
    return {tp.partition: f.result().offset for tp, f in futures.items()}


def group_positions(admin: AdminClient, group: str, topic: str, partitions: list[int],
                    timeout: float) -> dict[int, int]:
    """The projector group's committed offsets ({} when the group has none or cannot be asked)."""
    request = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in partitions])]
    try:
        answer = admin.list_consumer_group_offsets(request, request_timeout=timeout)[group].result()
    except Exception:  # informational only: the tables' positions still give the lag
        return {}
    return {tp.partition: tp.offset for tp in answer.topic_partitions or [] if tp.offset >= 0 and not tp.error}


def check(state: AppState) -> tuple[bool, dict[str, Any]]:
    """(ready, body) for /healthz; the body names what is wrong when not ready."""
    clickhouse = state.health_clickhouse or state.clickhouse
    body: dict[str, Any] = {}
    reasons = []
    try:
        ping(clickhouse)
        body["clickhouse"] = "ok"
    except Exception as exc:  # any failure to answer means not ready; the reason is reported
        body["clickhouse"] = f"error: {exc}"
        reasons.append("clickhouse unreachable")
    try:
        highs = high_watermarks(state.kafka_admin, state.store.topic, state.api.health_timeout_s)
        body["kafka"] = "ok"
    except Exception as exc:
        highs = None
        body["kafka"] = f"error: {exc}"
        reasons.append("kafka unreachable")
    if highs is not None and body["clickhouse"] == "ok":
        done = positions(clickhouse)
        # past transaction markers, which the tables' positions never reach: the hosted projector's own position,
        # else the one a projector running apart commits to its group when it has nothing more to read
        following = state.projector.caught_up() if state.projector is not None else \
            group_positions(state.kafka_admin, state.store.consumer_group, state.store.topic, list(highs),
                            state.api.health_timeout_s)
        for partition, offset in following.items():
            done[partition] = max(done.get(partition, -1), offset - 1)
        body["projector_lag"] = projector_lag(highs, done)
    if state.projector is not None:
        if state.projector.alive:
            body["projector"] = "running"
        else:
            body["projector"] = f"stopped: {state.projector.error!r}"
            reasons.append("projector stopped")
        stalled, skips = state.projector.stalled(), state.projector.skipped()
        if stalled:  # a partition the consumer cannot read past (skipped after a few repeats)
            body["projector_stalled"] = stalled
            reasons.append("projector stalled on partition(s) " + ", ".join(str(s["partition"]) for s in stalled))
        if skips:
            body["projector_skipped"] = skips
    alerts = state.alerts
    if alerts is not None:  # hosted beside the API: a dead worker means rules are no longer evaluated
        if alerts.alive:
            body["alerts"] = "running"
        else:
            body["alerts"] = f"stopped: {alerts.error!r}"
            reasons.append("alert worker stopped")
    if reasons:
        body["reason"] = "; ".join(reasons)
    return not reasons, body
