"""Creating runstream's topics with the configs of an event log that is kept forever."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

EVENT_LOG_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


def ensure_topics(
    admin: AdminClient, names: list[str], *, partitions: int, replication_factor: int = 1, timeout: float = 30.0
) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Existing topics are left alone."""
    existing = admin.list_topics(timeout=timeout).topics
    config = dict(EVENT_LOG_CONFIG)
    if replication_factor >= 3:
        config["min.insync.replicas"] = "2"
    wanted = [NewTopic(n, num_partitions=partitions, replication_factor=replication_factor, config=config)
              for n in names if n not in existing]
    created = []
    for name, future in admin.create_topics(wanted, operation_timeout=timeout).items() if wanted else []:
        try:
            future.result(timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created
