"""The consume loop: batch, decode, project, insert, then commit."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from clickhouse_connect.driver.client import Client
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumers.chunks import offset_of, partition_of
from consumers.clickhouse import open_client
from consumers.derived import OFFSETS
from consumers.dlq import DeadLetterPublisher
from consumers.groupwatch import GroupWatch, group_state
from consumers.memory import MemoryRelease, jemalloc_purge
from consumers.projections import POSITION_TABLE
from consumers.settings import ProjectorSettings
from consumers.sink import ClickHouseSink
from consumers.skipping import unreadable_range
from consumers.stalls import UNREADABLE_REASON, Stall, StallWatch
from consumers.stats import ProjectorStats
from consumers.writer import BatchResult, BatchWriter, OverlappedWriter

log = logging.getLogger("runstream.projector")

READY_CHECK_S = 0.01  # how often a batch waiting out poll_timeout_s looks whether it holds batch_ready_bytes


def _or(value: int | None, default: int = -1) -> int:
    return default if value is None else value


class Projector:
    """Projects runstream.events into ClickHouse, effectively once, resuming from ClickHouse's position."""

    def __init__(self, settings: ProjectorSettings, client: Client, *, sink: ClickHouseSink | None = None) -> None:
        self.settings = settings
        self.dlq = DeadLetterPublisher(settings.kafka_bootstrap_servers, settings.dlq_topic)
        self.stats = ProjectorStats()
        self.stalls = StallWatch(settings.stall_skip_after)
        self._side_client: Client | None = None
        self._own_sink = sink is None  # a sink given (tests: to see or fail every insert) takes every insert
        sink = sink or ClickHouseSink(client, retries=settings.insert_retries)
        self.writer = BatchWriter(sink, dlq=self.dlq, stats=self.stats, token_prefix=settings.topic,
                                  chunk_bytes=settings.chunk_bytes)
        # Inserts run on a thread of their own while the next batch is decoded; drained before anything that
        # reads positions or tables, swaps them, or moves the assignment.
        self.overlapped = OverlappedWriter(self.writer) if settings.overlap_inserts else None
        self._batch_lock = threading.Lock()  # held while a batch is written; pause() takes it
        # partition -> the consumer's position when it last had nothing more to give: every message before it is
        # projected. Unlike the tables' positions it passes transaction markers, which are never messages.
        self.caught_up: dict[int, int] = {}
        self.assignments = 0  # partitions assigned or taken away so far: a host's in-memory copies key on it
        self.group = GroupWatch(settings.group_stuck_s)
        self._generation = 0  # of the consumer: a replaced one's statistics (served while it closes) are ignored
        self._closing: list[threading.Thread] = []  # replaced consumers still closing
        self._count_partitions = False  # assigned since the topic's partitions were last counted
        self._behind = False  # the last batch held batch_ready_bytes: a backlog was being read
        self._consumer = self._new_consumer()
        self.release_memory = MemoryRelease(settings.memory_release_s)
        self._release_client: Client | None = None
        self.on_caught_up: Callable[[], None] | None = None
        """Called on the projector's thread when it has nothing more to read and what readers see projected (the
        event_offsets positions) moved since the last call: a host's in-memory states catch up. Must not block."""
        self._announced: dict[int, int] = {}

    def _new_consumer(self) -> Consumer:
        settings = self.settings
        generation = self._generation
        return Consumer({
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": settings.consumer_group,
            "enable.auto.commit": False,
            # A request the API publishes as several events is one transaction: see all of it or nothing.
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "client.id": "runstream-projector",
            "queued.max.messages.kbytes": settings.fetch_queue_kbytes,
            "fetch.queue.backoff.ms": settings.fetch_queue_backoff_ms,
            # A killed projector keeps its partitions until its session times out (45 s by default): 10 s lets
            # the next one, and a rebuild waiting for the group, take over sooner.
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 2_000,
            # ... and a JoinGroup unanswered (its broker froze while it was in flight) is retried after this + 3 s
            "max.poll.interval.ms": int(settings.max_poll_interval_s * 1000),
            # the group's state, served by consume() on this thread: a consumer out of its group too long is replaced
            "statistics.interval.ms": int(min(5.0, max(0.5, settings.group_stuck_s / 4)) * 1000),
            "stats_cb": lambda stats_json: self._on_stats(generation, stats_json),
            **({"debug": settings.kafka_debug} if settings.kafka_debug else {}),
        })

    def _on_stats(self, generation: int, stats_json: str) -> None:
        state = group_state(stats_json)
        if state is not None and generation == self._generation:
            self.group.observe(state, time.monotonic())

    def _replace_consumer_if_stuck(self) -> None:
        """A consumer out of its group for `group_stuck_s` is replaced by a new one, which joins and is assigned
        the partitions (resuming from ClickHouse's positions, as after any rebalance). The old one is closed on a
        thread of its own: closing a consumer stuck in its group can hang too."""
        now = time.monotonic()
        if not self.group.stuck(now):
            return
        state, join_state = self.group.last
        self._closing = [t for t in self._closing if t.is_alive()]
        if len(self._closing) >= 2:  # the broker itself is away (closing hangs too): a new consumer would not help
            log.warning("the consumer has been out of its group for %.0f s (state %r, join-state %r); two replaced "
                        "consumers are still closing, so it is kept", now - (self.group.since or now), state,
                        join_state)
            self.group.reset(now)
            return
        log.warning("the consumer has been out of its group for %.0f s (state %r, join-state %r): replacing it with "
                    "a new consumer", now - (self.group.since or now), state, join_state)
        with self._batch_lock:
            self.drain()
        old = self._consumer
        self._forget_assignment()
        self.stats.consumers_replaced += 1
        self._generation += 1
        self._consumer = self._new_consumer()
        self.group.reset(now)
        self._consumer.subscribe([self.settings.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        closing = threading.Thread(target=self._close_quietly, args=(old,), name="runstream-projector-close",
                                   daemon=True)
        closing.start()
        self._closing.append(closing)

    @staticmethod
    def _close_quietly(consumer: Consumer) -> None:
        try:
            consumer.close()
        except Exception as exc:  # the consumer was already out of use: its failure to leave is only noted
            log.warning("the replaced consumer did not close cleanly: %s", exc)

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set; raises (stopping loudly) on anything but a bad event."""
        if self.settings.side_inserts and self._own_sink:
            # The metrics table is inserted through a client of its own, beside the other tables.
            self._side_client = open_client(self.settings.clickhouse_url, self.settings.clickhouse_database)
            self.writer.side = ClickHouseSink(self._side_client, retries=self.settings.insert_retries)
        releasing, releaser = self._start_releasing_memory()
        self._consumer.subscribe([self.settings.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not stop.is_set():
                messages = self._consume()
                if self._count_partitions:
                    self._count_partitions = False
                    self.stats.topic_partitions = self._topic_partitions(self._consumer)
                if messages:
                    self.release_memory.working(True)
                    with self._batch_lock:
                        self.process(messages)
                    self.release_memory.working(False)
                else:
                    with self._batch_lock:
                        self.drain()
                    self._note_caught_up()
                    self._announce_moved()
                self._replace_consumer_if_stuck()
        finally:
            try:
                releasing.set()
                if releaser is not None:
                    releaser.join()
                if self.overlapped is not None:
                    self.overlapped.close()
            finally:
                self._consumer.close()
                self.dlq.close()
                if self._side_client is not None:
                    self.writer.close_side()
                    self._side_client.close()
                if self._release_client is not None:
                    self._release_client.close()

    def _consume(self) -> list[Message]:
        """The next batch: what arrives within `poll_timeout_s`, up to `batch_max_messages`, as librdkafka's
        `consume` gives it; except that a batch already holding `batch_ready_bytes` is taken at once. Behind by
        that much, the prefetch queue holds it whenever a batch is done, and librdkafka's timer (it returns early
        only at `batch_max_messages`) left the projector idle for `poll_timeout_s` before every batch. And after
        such a batch, the rest of a backlog is taken at once when it is all there is (`_caught_up`)."""
        settings, consumer = self.settings, self._consumer
        if settings.batch_ready_bytes <= 0:
            return consumer.consume(settings.batch_max_messages, settings.poll_timeout_s)
        deadline = time.monotonic() + settings.poll_timeout_s
        messages = consumer.consume(settings.batch_max_messages, 0)
        size = sum(len(m.value() or b"") for m in messages)
        if messages and self._behind and size < settings.batch_ready_bytes and self._caught_up():
            # A backlog's last messages: nothing more waits in the broker, so gathering would only add
            # `poll_timeout_s` to when they are visible (the end of every burst a sweep sends)
            self._behind = False
            return messages
        while len(messages) < settings.batch_max_messages and size < settings.batch_ready_bytes:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = consumer.consume(settings.batch_max_messages - len(messages), min(left, READY_CHECK_S))
            messages += more
            size += sum(len(m.value() or b"") for m in more)
        self._behind = size >= settings.batch_ready_bytes
        return messages

    def _caught_up(self) -> bool:
        """True when this consumer holds every message its partitions' last fetches saw (their high watermarks as
        librdkafka cached them): nothing more is waiting in the broker. False when unsure (nothing consumed yet on
        a partition, a transaction's marker after the last message, a watermark not known yet)."""
        consumer = self._consumer
        try:
            assigned = consumer.assignment()
            if not assigned:
                return False
            for tp in consumer.position(assigned):
                _, high = consumer.get_watermark_offsets(tp, cached=True)
                if tp.offset < 0 or high < 0 or tp.offset < high:
                    return False
        except KafkaException:
            return False
        return True

    def _start_releasing_memory(self) -> tuple[threading.Event, threading.Thread | None]:
        """Return what embedded ClickHouse's allocator freed to the OS every `memory_release_s` while batches are
        written and the process's RSS is over `memory_release_above_mb`, on a thread of its own with a ClickHouse
        client of its own; the event stops the thread. (glibc's `malloc_trim` as well cost the drain ~10% more CPU
        for ~30 MB: not done here.)"""
        stop = threading.Event()
        if self.settings.memory_release_s <= 0 or not self.settings.clickhouse_url.startswith("chdb://") \
                or not self._own_sink:
            return stop, None
        self._release_client = open_client(self.settings.clickhouse_url, self.settings.clickhouse_database)
        self.release_memory = MemoryRelease(self.settings.memory_release_s, purge=jemalloc_purge(self._release_client),
                                            above_mb=self.settings.memory_release_above_mb)
        thread = threading.Thread(target=self.release_memory.run, args=(stop,), name="runstream-memory-release",
                                  daemon=True)
        thread.start()
        return stop, thread

    def drain(self) -> None:
        """Wait until every consumed batch is written (raising a failed insert's error)."""
        if self.overlapped is not None:
            self.overlapped.drain()

    def _note_caught_up(self) -> None:
        """With nothing more to read, the consumer stands past the last event and any transaction marker after
        it; that position is kept for this process's /healthz and committed to the group for an API running apart
        (the tables' positions stop at the last event, so a trailing marker would read as lag for ever)."""
        assignment = self._consumer.assignment()
        if assignment:
            standing = {tp.partition: tp.offset for tp in self._consumer.position(assignment) if tp.offset >= 0}
            if standing and standing != self.caught_up:
                self._commit([TopicPartition(self.settings.topic, p, o) for p, o in standing.items()])
            self.caught_up = standing

    def _announce_moved(self) -> None:
        """Tell `on_caught_up` that the visible positions moved, once per move (an idle loop checks every poll)."""
        if self.on_caught_up is None:
            return
        visible = self.writer.positions.get(OFFSETS.table)
        if visible and visible != self._announced:
            self._announced = dict(visible)
            self.on_caught_up()

    @contextmanager
    def pause(self) -> Iterator[None]:
        """Hold projection between two batches. Every table stands at the same position while paused (a batch
        is written whole before the lock is released), so a rebuild can swap tables in, or a verify compare
        them, against a log position that stands still."""
        with self._batch_lock:
            self.drain()
            yield

    def owned_partitions(self) -> list[int]:
        return list(self.stats.assigned)

    def owns_topic(self) -> bool:
        """True while this projector holds every partition of the topic (no other member of the group writes;
        a partition added to the topic rebalances the group, which asks again)."""
        count, assigned = self.stats.topic_partitions, self.stats.assigned
        return count > 0 and set(assigned) == set(range(count))

    def _topic_partitions(self, consumer: Consumer) -> int:
        """The topic's partition count from the broker's metadata (0 when it cannot be read)."""
        try:
            topic = consumer.list_topics(self.settings.topic, timeout=5).topics.get(self.settings.topic)
        except KafkaException as exc:
            log.warning("the topic's partition count is unknown (%s)", exc)
            return 0
        return len(topic.partitions) if topic is not None and topic.error is None else 0

    def reload(self, partitions: list[int]) -> None:
        """Read the tables' positions again (called while paused, after tables were swapped under us)."""
        self.writer.sink.forget_types()
        if self.writer.side is not None:
            self.writer.side.forget_types()
        self.writer.load_positions(partitions)

    @property
    def sink(self) -> ClickHouseSink:
        return self.writer.sink

    @sink.setter
    def sink(self, sink: ClickHouseSink) -> None:
        self.writer.sink = sink
        self._own_sink = False  # every insert through the sink given
        self.writer.side = None

    @property
    def positions(self) -> dict[str, dict[int, int]]:
        return self.writer.positions

    # -- assignment: the resume position comes from ClickHouse ------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if consumer is not self._consumer:  # a replaced consumer, closing: it projects nothing more
            return
        ids = [tp.partition for tp in partitions]
        with self._batch_lock:
            self.drain()
            position = self.writer.load_positions(ids)
        for tp in partitions:
            tp.offset = position[tp.partition] + 1 if tp.partition in position else OFFSET_BEGINNING
        # Counted after consume() returns, never here: a blocking call of this consumer's (list_topics) inside its
        # own callback ends consume()'s call state, and the next callback of that consume() (an error, statistics)
        # aborts the process (confluent-kafka asserts `cs != NULL`; an embedded ClickHouse catches the abort and
        # shuts itself down).
        self._count_partitions = True
        self.stats.assigned = sorted(ids)
        self.assignments += 1
        log.info("assigned partitions %s, resuming at %s", ids, {tp.partition: tp.offset for tp in partitions})
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if consumer is not self._consumer:  # a replaced consumer, closing: the new one's assignment stands
            consumer.unassign()
            return
        with self._batch_lock:
            self.drain()  # the next owner resumes from what the tables hold
        self._forget_assignment()
        consumer.unassign()

    def _forget_assignment(self) -> None:
        self.assignments += 1
        self.stats.assigned = []
        self.stats.topic_partitions = 0
        self.stalls.stalled.clear()

    # -- one batch ---------------------------------------------------------------------------------------
    def process(self, messages: list[Message]) -> None:
        """Project a consumed batch: every table's block for all its partitions, the events table last."""
        consumed = time.time()
        by_partition: dict[int, list[Message]] = defaultdict(list)
        unreadable: list[Stall] = []
        oldest: int | None = None
        for msg in messages:
            err = msg.error()
            if err is None:
                by_partition[partition_of(msg)].append(msg)
                kind, stamp = msg.timestamp()
                if kind and (oldest is None or stamp < oldest):
                    oldest = stamp
            elif err.code() != KafkaError._PARTITION_EOF:
                if err.fatal():
                    raise KafkaException(err)
                stall = self.stalls.error(_or(msg.partition()), _or(msg.offset()), err.code(), err.str())
                if stall is not None:
                    unreadable.append(stall)
                else:
                    log.warning("consumer error: %s", err)
        commits = []
        if by_partition:
            for partition, msgs in by_partition.items():
                self.stalls.progressed(partition, offset_of(msgs[-1]))
            written = [TopicPartition(self.settings.topic, p, offset_of(m[-1]) + 1) for p, m in by_partition.items()]
            started = time.perf_counter()

            def done(result: BatchResult) -> None:
                self.stats.insert_seconds += time.perf_counter() - started
                self.stats.record_batch(events=result.events, points=result.points,
                                        dead_letters=result.dead_letters, duplicates=result.duplicates)
                self.stats.record_timing(oldest_ms=oldest, consumed=consumed, written=time.time())

            if self.overlapped is not None and not unreadable:
                # the partitions together: one insert per table; committed to Kafka (for lag tools) once written
                def done_and_committed(result: BatchResult) -> None:
                    done(result)
                    self._commit(written)

                self.overlapped.submit(by_partition, done_and_committed)
                return
            self.drain()
            done(self.writer.write_all(by_partition))  # the partitions together: one insert per table
            commits += written
        for stall in unreadable:
            self.drain()
            commits.append(self._skip(stall))
        if commits:
            self._commit(commits)

    def _skip(self, stall: Stall) -> TopicPartition:
        """Record the batch the consumer cannot read as dead letters (by reference: there are no bytes to copy),
        then fetch on from after it. The message is librdkafka's, so a replay records the same rows."""
        topic, partition = self.settings.topic, stall.partition
        resume = self.writer.positions[POSITION_TABLE].get(partition, -1) + 1
        first, last = unreadable_range(self.settings.kafka_bootstrap_servers, topic, stall, resume)
        for offset in range(first, last + 1):
            self.dlq.publish_unreadable(topic, partition, offset, reason=UNREADABLE_REASON, message=stall.error)
        self.dlq.flush()
        result = self.writer.skip_unreadable(partition, first, last, UNREADABLE_REASON, stall.error)
        self.stats.record_batch(events=0, points=0, dead_letters=result.dead_letters, duplicates=0)
        self.stats.record_skip(partition, first, last, stall.error)
        self.stalls.stalled.pop(partition, None)
        self._consumer.seek(TopicPartition(topic, partition, last + 1))
        return TopicPartition(topic, partition, last + 1)

    def _commit(self, offsets: list[TopicPartition]) -> None:
        """Tell Kafka how far we got (for lag tools); the resume position itself comes from ClickHouse, so a
        commit refused while the group rebalances or its coordinator is away is logged, never fatal."""
        try:
            self._consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            log.warning("offset commit not sent (%s); positions stay in ClickHouse", exc)
