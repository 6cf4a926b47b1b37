"""The consume loop: batch, decode, project, insert, then commit."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumers.decoding import DeadLetter, classify
from consumers.derived import DERIVED, Derived
from consumers.dlq import DeadLetterPublisher
from consumers.projections import POSITION_TABLE, PROJECTIONS, Block, LoggedEvent
from consumers.projections.events import dead_letter_row, duplicate_row
from consumers.settings import ProjectorSettings
from consumers.sink import ClickHouseSink
from consumers.stats import ProjectorStats
from schemas import MetricsLogged

log = logging.getLogger("runstream.projector")


class Projector:
    """Projects runstream.events into ClickHouse, effectively once, resuming from ClickHouse's position."""

    def __init__(self, settings: ProjectorSettings, client: Client, *, sink: ClickHouseSink | None = None) -> None:
        self.settings = settings
        self.sink = sink or ClickHouseSink(client, retries=settings.insert_retries)
        self.dlq = DeadLetterPublisher(settings.kafka_bootstrap_servers, settings.dlq_topic)
        self.stats = ProjectorStats()
        self._positions: dict[str, dict[int, int]] = defaultdict(dict)
        self._consumer = Consumer({
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": settings.consumer_group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "client.id": "runstream-projector",
        })

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set; raises (stopping loudly) on anything but a bad event."""
        self._consumer.subscribe([self.settings.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not stop.is_set():
                messages = self._consumer.consume(self.settings.batch_max_messages, self.settings.poll_timeout_s)
                if messages:
                    self.process(messages)
        finally:
            self._consumer.close()
            self.dlq.close()

    # -- assignment: the resume position comes from ClickHouse ------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        ids = [tp.partition for tp in partitions]
        for table in [p.table for p in PROJECTIONS] + [d.table for d in DERIVED]:
            self._positions[table] = self.sink.positions(table, ids)
        for derived in DERIVED:  # repair what a crash between a table and its derived table left behind
            for partition in ids:
                source = self._positions[derived.source].get(partition, -1)
                own = self._positions[derived.table].get(partition, -1)
                if own < source:
                    log.info("deriving %s for partition %d, offsets %d..%d", derived.table, partition, own + 1, source)
                    self.sink.derive(derived, partition, own, source)
                    self._positions[derived.table][partition] = source
        position = self._positions[POSITION_TABLE]
        for tp in partitions:
            tp.offset = position[tp.partition] + 1 if tp.partition in position else OFFSET_BEGINNING
        self.stats.assigned = sorted(ids)
        log.info("assigned partitions %s, resuming at %s", ids, {tp.partition: tp.offset for tp in partitions})
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.stats.assigned = []
        consumer.unassign()

    # -- one batch ---------------------------------------------------------------------------------------
    def process(self, messages: list[Message]) -> None:
        """Project a consumed batch: per partition, every table's block, the events table last."""
        by_partition: dict[int, list[Message]] = defaultdict(list)
        for msg in messages:
            err = msg.error()
            if err is None:
                by_partition[_partition(msg)].append(msg)
            elif err.code() != KafkaError._PARTITION_EOF:
                if err.fatal():
                    raise KafkaException(err)
                log.warning("consumer error: %s", err)
        commits = []
        for partition, msgs in by_partition.items():
            self._process_partition(partition, msgs)
            commits.append(TopicPartition(self.settings.topic, partition, _offset(msgs[-1]) + 1))
        if commits:
            self._commit(commits)

    def _commit(self, offsets: list[TopicPartition]) -> None:
        """Tell Kafka how far we got (for lag tools); the resume position itself comes from ClickHouse."""
        self._consumer.commit(offsets=offsets, asynchronous=True)

    def _process_partition(self, partition: int, msgs: list[Message]) -> None:
        good: list[LoggedEvent] = []
        dead: list[DeadLetter] = []
        for msg in msgs:
            item = classify(msg.value(), msg.key(), partition, _offset(msg))
            if isinstance(item, DeadLetter):
                self.dlq.publish(msg, reason=item.reason, message=item.message, fingerprint=item.fingerprint)
                dead.append(item)
            else:
                good.append(item)
        good, duplicates = self._split_duplicates(partition, good)
        if dead:
            self.dlq.flush()
            log.warning("%d message(s) of partition %d sent to %s", len(dead), partition, self.dlq.topic)
        first, last = _offset(msgs[0]), _offset(msgs[-1])
        token = f"{self.settings.topic}:{partition}:{first}-{last}"
        started = time.perf_counter()
        for projection in PROJECTIONS:
            done = self._positions[projection.table].get(partition, -1)
            block = projection.block(e for e in good if e.offset > done)
            if projection.table == POSITION_TABLE:
                self._add_dead_letters(block, [d for d in dead if d.offset > done])
                for dup in duplicates:
                    if dup.offset > done:
                        block.append(*duplicate_row(dup, datetime.now(UTC)))
            if len(block):
                began = time.perf_counter()
                self.sink.insert(block, token=token)
                self.stats.insert_latency.labels(projection.table).observe(time.perf_counter() - began)
            # A table may already be ahead of this batch (killed between inserts): never move it back.
            self._positions[projection.table][partition] = max(done, last)
            for derived in DERIVED:
                if derived.source == projection.table:
                    self._derive(derived, partition, last)
        self.stats.insert_seconds += time.perf_counter() - started
        points = sum(len(e.event.payload) for e in good if isinstance(e.event.payload, MetricsLogged))
        self.stats.record_batch(events=len(good), points=points, dead_letters=len(dead), duplicates=len(duplicates))

    def _derive(self, derived: Derived, partition: int, last: int) -> None:
        done = self._positions[derived.table].get(partition, -1)
        if done < last:
            began = time.perf_counter()
            self.sink.derive(derived, partition, done, last)
            self.stats.insert_latency.labels(derived.table).observe(time.perf_counter() - began)
            self._positions[derived.table][partition] = last

    def _split_duplicates(self, partition: int, good: list[LoggedEvent]) -> tuple[list[LoggedEvent], list[LoggedEvent]]:
        """Events whose event_id was already projected (a re-sent spool, a retried send) count once."""
        if not good:
            return good, []
        earlier = self.sink.seen_event_ids(
            partition, sorted({e.event.run_id for e in good}), [e.event.event_id for e in good], good[0].offset
        )
        fresh, duplicates = [], []
        for logged in good:
            if logged.event.event_id in earlier:
                duplicates.append(logged)
            else:
                earlier.add(logged.event.event_id)
                fresh.append(logged)
        return fresh, duplicates

    @staticmethod
    def _add_dead_letters(block: Block, dead: list[DeadLetter]) -> None:
        now = datetime.now(UTC)
        for d in dead:
            block.append(*dead_letter_row(d.partition, d.offset, d.key, d.reason, d.message, d.fingerprint, now))


def _partition(msg: Message) -> int:
    partition = msg.partition()
    if partition is None:
        raise ValueError("a consumed message without a partition")
    return partition


def _offset(msg: Message) -> int:
    offset = msg.offset()
    if offset is None:
        raise ValueError("a consumed message without an offset")
    return offset
