"""Replaying the event log from offset 0 into other tables, through the projector's own BatchWriter."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumers.chunks import offset_of, partition_of
from consumers.clickhouse import open_client
from consumers.errors import ConsumerError
from consumers.pointsums import PointSums, city_hashes
from consumers.settings import ProjectorSettings
from consumers.sink import PipelinedSink
from consumers.skipping import unreadable_range
from consumers.stalls import UNREADABLE_REASON, Stall, StallWatch
from consumers.writer import BatchResult, BatchWriter, Tables

log = logging.getLogger("runstream.replay")


REPLAY_CHUNK_BYTES = 8 * 1024 * 1024  # per group of partitions: each group pays ~5 small inserts (10-40 ms each)
# A consume call returns when it holds a batch or after this long: while it waits nothing is written, and at
# 0.5 s a call gathered ~3,000 metric batches (2M points) before the inserts of the first one could start.
REPLAY_POLL_S = 0.05
REPLAY_FETCH_BACKOFF_MS = 10
REPLAY_FETCH_QUEUE_FACTOR = 4
REPLAY_INSERT_WORKERS = 2
# Merging the shadow tables' parts while they are written took ~30% of a replay's CPU, and merged them more than
# once; past this many inserts (a part each) merges resume, far below ClickHouse's parts_to_delay_insert (1000).
MAX_UNMERGED_INSERTS = 400  # each with a client of its own: metrics inserts of consecutive groups overlap


class ReplayError(ConsumerError):
    """A replay cannot give a faithful copy of the log (history deleted, topic missing, cancelled)."""


@dataclass
class ReplayCounters(BatchResult):
    """How far a replay got; read by progress reports while it runs."""

    seconds: float = 0.0
    consumed: dict[int, int] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def points_per_s(self) -> float:
        return self.points / self.seconds if self.seconds else 0.0


class Replay:
    """Consumes every partition of the topic from its first offset up to given targets, writing with `tables`.

    It has its own consumer (a fresh group, nothing committed) and never publishes dead letters again:
    the rows it writes are the rows the projector wrote, in other tables."""

    def __init__(self, settings: ProjectorSettings, client: Client, tables: Tables, *,
                 batch_max_messages: int | None = None, sort_metrics: bool = True,
                 point_sums: Collection[str] = ()) -> None:
        self.settings = settings
        self.tables = tables
        self.counters = ReplayCounters()
        self._batch = batch_max_messages or settings.batch_max_messages
        self._consumer = Consumer({
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"runstream-replay-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "client.id": "runstream-replay",
            # Four times the projector's prefetch: with one group's worth (8 MiB) the fetcher refilled only once
            # the replay had drained it, and consume() waited 0.86 s of a 5M-point rebuild, 0.42-0.61 s with 32 MiB.
            "queued.max.messages.kbytes": REPLAY_FETCH_QUEUE_FACTOR * settings.fetch_queue_kbytes,
            # librdkafka waits this long to fetch again once its queue was full (default 1 s): the replay drains
            # the queue in one group, then sat idle waiting for the next fetch (1.4-1.6 s of 5M points' 7 s).
            "fetch.queue.backoff.ms": REPLAY_FETCH_BACKOFF_MS,
        })
        self.partitions = self._partitions()
        self._clients = [open_client(settings.clickhouse_url, settings.clickhouse_database)
                         for _ in range(REPLAY_INSERT_WORKERS - 1)]
        hashes = city_hashes(client)
        self.point_sums = {table: PointSums(hashes) for table in point_sums}
        """Per physical metrics table, the checksums of its blocks, which are not inserted (`PointSums`)."""
        self._sink = PipelinedSink(client, retries=settings.insert_retries, more_clients=self._clients,
                                   sort_metrics=sort_metrics, point_sums=self.point_sums)
        self.writer = BatchWriter(self._sink, tables,
                                  token_prefix=f"replay-{uuid.uuid4().hex[:8]}", defer_derived=True,
                                  chunk_bytes=REPLAY_CHUNK_BYTES, sort_metrics=sort_metrics)
        self._stalls = StallWatch(settings.stall_skip_after)
        self._client = client
        self._merges_paused = False

    def _partitions(self) -> list[int]:
        topic = self._consumer.list_topics(self.settings.topic, timeout=30).topics.get(self.settings.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise ReplayError(f"topic {self.settings.topic!r} does not exist or has no partitions")
        return sorted(topic.partitions)

    def start(self, *, empty: bool = False) -> None:
        """Check that the log still starts at offset 0, then position every partition at its beginning.
        `empty`: the caller has just created the tables written, empty (their positions are not read)."""
        for partition in self.partitions:
            low, _ = self._consumer.get_watermark_offsets(TopicPartition(self.settings.topic, partition), timeout=30)
            if low > 0:
                raise ReplayError(f"partition {partition} of {self.settings.topic} starts at offset {low}: "
                                  "history before it was deleted, so a replay cannot reproduce the tables")
        self.writer.load_positions(self.partitions, empty=empty)  # shadow tables start empty; sets up positions
        self.counters.consumed = dict.fromkeys(self.partitions, -1)

    def pause_merges(self, *, stopped: bool = False) -> None:
        """Stop background merges of the tables written (until `resume_merges`, too many parts, or a restart:
        the stop is not persisted). A rebuild starts them again on the tables it swapped in. `stopped`: the
        caller already ran `SYSTEM STOP MERGES` on each of them (as it created them)."""
        if not stopped:
            for table in self.tables.names:
                self._client.command(f"SYSTEM STOP MERGES `{self.tables.physical(table)}`")
        self._merges_paused = True

    def resume_merges(self) -> None:
        if self._merges_paused:
            self._sink.flush()
            for table in self.tables.names:
                self._client.command(f"SYSTEM START MERGES `{self.tables.physical(table)}`")
            self._merges_paused = False

    def close(self) -> None:
        self._consumer.close()
        self._sink.close()
        for client in self._clients:
            client.close()

    def lag(self, targets: dict[int, int]) -> int:
        """Messages between what was replayed and the targets."""
        return sum(max(0, t - self.counters.consumed.get(p, -1)) for p, t in targets.items())

    def run_until(self, targets: dict[int, int], cancel: threading.Event | None = None) -> None:
        """Replay until every partition's consumed offset reaches its target (inclusive). Messages past a
        target are not written: the partition is later read again from just after its target."""
        wanted = {p: targets.get(p, -1) for p in self.partitions}
        open_ = {p for p, t in wanted.items() if self.counters.consumed[p] < t}
        if not self.tables.projections:  # derived tables alone are recomputed from their live source
            self.counters.consumed.update({p: wanted[p] for p in open_})
            open_ = set()
        self._assign(open_)
        while open_:
            if cancel is not None and cancel.is_set():
                raise ReplayError("cancelled")
            began = time.perf_counter()
            messages = self._consumer.consume(self._batch, REPLAY_POLL_S)
            by_partition: dict[int, list[Message]] = defaultdict(list)
            unreadable: list[Stall] = []
            for msg in messages:
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    if err.fatal():
                        raise KafkaException(err)
                    partition, offset = msg.partition(), msg.offset()
                    stall = None if partition is None or offset is None else \
                        self._stalls.error(partition, offset, err.code(), err.str())
                    if stall is not None:
                        unreadable.append(stall)
                    else:
                        log.warning("replay consumer error: %s", err)
                    continue
                partition, offset = partition_of(msg), offset_of(msg)
                if partition in open_ and self.counters.consumed[partition] < offset <= wanted[partition]:
                    by_partition[partition].append(msg)
            if by_partition:
                self.counters.add(self.writer.write_all(by_partition))
                if self._sink.inserts > MAX_UNMERGED_INSERTS:
                    self.resume_merges()
            for partition, msgs in by_partition.items():
                self.counters.consumed[partition] = offset_of(msgs[-1])
            skipped = self._skip(unreadable, open_, wanted)
            done = {p for p in open_ if self.counters.consumed[p] >= wanted[p]}
            if done or skipped:
                open_ -= done
                self._assign(open_)
            self.counters.seconds += time.perf_counter() - began
        began = time.perf_counter()
        self.writer.derive_pending(self.counters.consumed)  # one INSERT ... SELECT per table and partition
        self._sink.flush()
        self.counters.seconds += time.perf_counter() - began

    def _skip(self, stalls: list[Stall], open_: set[int], wanted: dict[int, int]) -> bool:
        """Write the dead letters the projector wrote for batches the consumer cannot read; True if any."""
        for stall in stalls:
            partition = stall.partition
            if partition not in open_:
                continue
            first, last = unreadable_range(self.settings.kafka_bootstrap_servers, self.settings.topic, stall,
                                           self.counters.consumed[partition] + 1)
            last = min(last, wanted[partition])
            self.counters.add(self.writer.skip_unreadable(partition, first, last, UNREADABLE_REASON, stall.error))
            self.counters.consumed[partition] = last
            self._stalls.stalled.pop(partition, None)
        return bool(stalls)

    def _assign(self, partitions: set[int]) -> None:
        """Consume exactly these partitions, each from just after what was written (explicit offsets, so
        nothing fetched past a target and dropped is ever skipped)."""
        self._consumer.assign([
            TopicPartition(self.settings.topic, p, self.counters.consumed[p] + 1 if self.counters.consumed[p] >= 0
                           else OFFSET_BEGINNING)
            for p in sorted(partitions)
        ])
