"""The alert worker: reads the whole log, evaluates rules as events arrive, records each firing as an AlertFired
event through Kafka, then delivers it to its webhook and records an AlertDelivered.

Exactly once per (rule, run, condition): a firing's id is derived from those three, and the worker's memory is the
log itself. At start it reads every partition up to its current end twice, first for the rules and for what was
already fired and delivered, then to evaluate every event against the rules that stood when it was logged; a firing
the log does not hold yet is recorded then, and one recorded but never delivered is delivered again under the same
idempotency key. So a worker killed between recording and delivering (or in the middle of a delivery) delivers on
restart: a receiver may see a retry carrying the same key, never two different firings.
"""

from __future__ import annotations

import heapq
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from consumers.alerts.evaluate import Evaluator, Firing
from consumers.alerts.settings import AlertSettings
from consumers.alerts.webhook import DeliveryError, deliver
from consumers.decoding import DeadLetter, classify
from consumers.logged import LoggedEvent
from consumers.memory import MemoryRelease, libc_trim
from schemas import Producer as EventProducer
from schemas import RunEvent, encode
from schemas.alerts import ALERT_EVENTS, AlertDelivered, AlertFired

log = logging.getLogger("runstream.alerts")
RECOVERY_HELD = 64  # events held a partition while recovery merges partitions by event time (~2 MB of batches)
CONSUME_BATCH = 250  # messages decoded at once (1,000-point batches: ~7 MB of numpy columns), beside the projector
ALERTS_NICENESS = 10  # the hosted worker's priority below its host's (a process alone: os.nice)
Deliver = Callable[[Firing], tuple[int, int]]
# a topic just created (or a broker just restarted) answers these for a few seconds: wait, do not die
_TRANSIENT = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART,
              KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._UNKNOWN_PARTITION,
              KafkaError.REQUEST_TIMED_OUT, KafkaError.COORDINATOR_LOAD_IN_PROGRESS}


def transient(exc: BaseException) -> bool:
    """A Kafka error worth waiting out (a leader being elected, a broker starting), not a reason to stop."""
    if not isinstance(exc, KafkaException) or not exc.args or not isinstance(exc.args[0], KafkaError):
        return False
    error: KafkaError = exc.args[0]
    return error.code() in _TRANSIENT or error.retriable()


class StopSignal(Protocol):
    """What the worker's loop asks between batches: a threading.Event, or a child's stop-or-orphaned signal."""

    def is_set(self) -> bool: ...


class AlertWorker:
    def __init__(self, settings: AlertSettings, *, deliver_to: Deliver | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self.clock = clock
        self.deliver_to = deliver_to or (lambda f: deliver(f, attempts=settings.alerts_webhook_attempts,
                                                           timeout_s=settings.alerts_webhook_timeout_s))
        self.state = Evaluator()
        self.pending: dict[str, Firing] = {}  # recorded, not yet delivered
        self.identity = EventProducer(socket.gethostname(), os.getpid(), "runstream-alerts", "alerts-1")
        self.release_memory = MemoryRelease(settings.alerts_memory_release_s, trim=libc_trim())
        self._consumer = Consumer({
            "bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": settings.alerts_consumer_group,
            "enable.auto.commit": False, "auto.offset.reset": "earliest", "client.id": "runstream-alerts",
            "queued.max.messages.kbytes": settings.alerts_fetch_queue_kbytes})
        self._producer = Producer({
            "bootstrap.servers": settings.kafka_bootstrap_servers, "enable.idempotence": True, "acks": "all",
            "linger.ms": 5, "client.id": "runstream-alerts"})

    # -- start-up: the log is the worker's memory ---------------------------------------------------------
    def _ends(self) -> dict[int, int]:
        """Each partition's end offset now: the snapshot that recovery reads up to, and live reading starts at.
        Transient answers (no leader yet, topic not yet known) are waited out for up to `alerts_start_wait_s`."""
        for attempt in Retrying(retry=retry_if_exception(transient), wait=wait_exponential(0.1, max=2.0),
                                stop=stop_after_delay(self.settings.alerts_start_wait_s), reraise=True):
            with attempt:
                return self._ends_once()
        raise AssertionError("unreachable: tenacity reraises")

    def _ends_once(self) -> dict[int, int]:
        topic = self.settings.topic
        described = self._consumer.list_topics(topic, timeout=30).topics.get(topic)
        if described is None or described.error is not None or not described.partitions:
            error = described.error if described is not None and described.error is not None else \
                KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"topic {topic} has no partitions yet")
            raise KafkaException(error)
        return {p: self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                for p in sorted(described.partitions)}

    def _read_to_end(self, ends: dict[int, int], take: Callable[[LoggedEvent], None]) -> None:
        """Every event from offset 0 up to `ends`, the partitions merged by event time (each partition's own order
        kept), as the live loop merges each batch: a rule or a best value logged in one partition must be seen
        before the later events of another, whatever order the broker hands the partitions over in. A partition
        with `RECOVERY_HELD` events waiting is paused until the others catch up with it."""
        topic = self.settings.topic
        reading = {p for p, end in ends.items() if end > 0}
        merge = TimeMerge(reading)
        paused: set[int] = set()
        self._consumer.assign([TopicPartition(topic, p, 0) for p in reading])
        while reading:
            batch = self._consumer.consume(num_messages=CONSUME_BATCH, timeout=1.0)
            for msg in batch:
                partition, offset = msg.partition() or 0, msg.offset() or 0
                if msg.error() or partition not in reading or offset >= ends[partition]:
                    continue
                logged = self._decode(msg)
                if logged is not None:
                    merge.add(partition, logged)
                if offset + 1 >= ends[partition]:
                    reading.discard(partition)
                    merge.close(partition)
            if not batch:  # read to its end with no message at its last offset (a transaction marker there)
                for tp in self._consumer.position([TopicPartition(topic, p) for p in reading]):
                    if tp.offset >= ends[tp.partition]:
                        reading.discard(tp.partition)
                        merge.close(tp.partition)
            for logged in merge.ready():
                take(logged)
            full = {p for p in reading if merge.held(p) >= RECOVERY_HELD}
            if full - paused:
                self._consumer.pause([TopicPartition(topic, p) for p in full - paused])
            if paused - full:
                self._consumer.resume([TopicPartition(topic, p) for p in paused - full])
            paused = full
            self.release_memory(wrote=bool(batch))
        for logged in merge.ready():
            take(logged)
        if paused:
            self._consumer.resume([TopicPartition(topic, p) for p in paused])

    def recover(self) -> None:
        """Fold the log, record the firings it misses, deliver the ones never delivered."""
        due: list[Firing] = []

        def alerts(logged: LoggedEvent) -> None:
            if isinstance(logged.event.payload, ALERT_EVENTS):
                self.state.observe(logged)

        def others(logged: LoggedEvent) -> None:
            if not isinstance(logged.event.payload, ALERT_EVENTS):
                due.extend(self.state.observe(logged))

        ends = self._ends()
        self._read_to_end(ends, alerts)  # rules, and what was fired and delivered before
        self._read_to_end(ends, others)  # every event against the rules that stood then
        for fired, experiment_id in self.state.recorded.values():
            rule = self.state.rules.get(fired.rule_id)
            if fired.firing_id not in self.state.delivered and rule is not None:
                self.pending[fired.firing_id] = Firing(
                    fired.firing_id, rule, fired.run_id, experiment_id, fired.condition, fired.text,
                    fired.source_partition, fired.source_offset, fired.value, fired.metric_key, fired.step)
        log.info("recovered from the log: %d firing(s) to record, %d to deliver", len(due), len(self.pending))
        self._record(due)
        self._deliver_pending()
        self._consumer.assign([TopicPartition(self.settings.topic, p, end) for p, end in ends.items()])

    # -- live ---------------------------------------------------------------------------------------------
    def run(self, stop: StopSignal) -> None:
        self.recover()
        last_stall = last_retry = time.monotonic()
        while not stop.is_set():
            batch = self._consumer.consume(num_messages=CONSUME_BATCH, timeout=0.2)
            self._record(self.state.observe_all(in_time_order(self._decoded(batch))))
            if batch:
                self._consumer.commit(asynchronous=True)  # the group's position shows the worker's lag
            self.release_memory(wrote=bool(batch))
            now = time.monotonic()
            if now - last_stall >= self.settings.alerts_stall_check_s:
                last_stall = now
                self._record(self.state.stalled(self.clock()))
            if self.pending and now - last_retry >= self.settings.alerts_retry_s:
                last_retry = now
                self._deliver_pending()
        self.close()

    def _decoded(self, batch: list[Message]) -> list[LoggedEvent]:
        events = []
        for msg in batch:
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consume: %s", error)
                continue
            logged = self._decode(msg)
            if logged is not None:
                events.append(logged)
        return events

    def _decode(self, msg: Message) -> LoggedEvent | None:
        logged = classify(msg.value(), msg.key(), msg.partition() or 0, msg.offset() or 0)
        return None if isinstance(logged, DeadLetter) else logged

    def _record(self, firings: list[Firing]) -> None:
        """Publish AlertFired for each firing and wait for the broker; only then deliver."""
        if not firings:
            return
        for f in firings:
            self._publish(f.experiment_id, AlertFired(f.firing_id, f.rule.rule_id, f.run_id, f.condition, f.text,
                                                      f.partition, f.offset, f.value, f.metric_key, f.step))
            self.pending[f.firing_id] = f
            log.info("fired %s: %s", f.firing_id, f.text)
        self._flush()
        if self.settings.alerts_delivery_delay_s:
            time.sleep(self.settings.alerts_delivery_delay_s)
        self._deliver(firings)  # the ones still pending from before wait for the retry timer

    def _deliver_pending(self) -> None:
        self._deliver(list(self.pending.values()))

    def _deliver(self, firings: list[Firing]) -> None:
        for f in firings:
            firing_id = f.firing_id
            try:
                status, tries = self.deliver_to(f)
            except DeliveryError as exc:
                log.error("could not deliver %s (kept for a later try): %s", firing_id, exc)
                continue
            self._publish(f.experiment_id or "*", AlertDelivered(firing_id, f.rule.rule_id, f.run_id, status, tries))
            self._flush()
            self.state.delivered.add(firing_id)
            self.pending.pop(firing_id, None)

    def _publish(self, experiment_id: str, payload: AlertFired | AlertDelivered) -> None:
        event = RunEvent(str(uuid.uuid4()), "", experiment_id, 1, datetime.now(UTC), self.identity, payload)
        # keyed as every event without a run: by its experiment (the projector's key rule)
        self._producer.produce(self.settings.topic, value=encode(event), key=experiment_id)

    def _flush(self) -> None:
        left = self._producer.flush(30)
        if left:
            raise RuntimeError(f"{left} alert event(s) not acknowledged by Kafka in 30 s")

    def close(self) -> None:
        self._producer.flush(10)
        self._consumer.close()


class AlertWorkerThread:
    """The worker on a background thread of a host process (the local stack runs it beside the projector)."""

    def __init__(self, settings: AlertSettings) -> None:
        self.worker = AlertWorker(settings)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="runstream-alerts", daemon=True)

    def start(self) -> AlertWorkerThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self.worker.run(self._stop)
        except BaseException as exc:  # loudly: logged and kept for the host to report
            self.error = exc
            log.exception("alert worker stopped")


class HostedAlerts(Protocol):
    """An alert worker beside a host (the local stack's server), as /healthz reports it."""

    @property
    def alive(self) -> bool: ...

    @property
    def error(self) -> BaseException | str | None: ...

    def stop(self, timeout: float = 30.0) -> None: ...


class _StopOrOrphaned:
    """The child's stop signal: the host set it, or the host is gone (killed without stopping its child)."""

    def __init__(self, stop: Any, host_pid: int) -> None:
        self._stop, self._host_pid = stop, host_pid

    def is_set(self) -> bool:
        return bool(self._stop.is_set()) or os.getppid() != self._host_pid


def _run_child(settings: AlertSettings, stop: Any, host_pid: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the host stops its child
    os.nice(ALERTS_NICENESS)  # the projector and the API first: the rules can lag a burst by a moment
    try:
        AlertWorker(settings).run(_StopOrOrphaned(stop, host_pid))
    except Exception:
        log.exception("alert worker stopped")
        raise SystemExit(1) from None  # logged once: multiprocessing prints no second traceback for SystemExit


class AlertWorkerProcess:
    """The worker in a child process of its host, at a lower priority. In a thread it decoded every message a
    second time under the host's GIL, beside the projector and the API (a 1M-point sweep with the worker off:
    freshness p50 ~1.1 s against ~2.0 s); in its own process the GIL is the host's again (freshness p99 better in
    7 of 10 pairs; benchmarks/results/alerts-process-20261202.md). The child stops when told, or when its host
    is gone (killed without stopping it)."""

    def __init__(self, settings: AlertSettings) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._process = context.Process(target=_run_child, args=(settings, self._stop, os.getpid()),
                                        name="runstream-alerts", daemon=True)

    def start(self) -> AlertWorkerProcess:
        self._process.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    @property
    def error(self) -> str | None:
        code = self._process.exitcode
        return None if code is None else f"the alert worker process exited with code {code}"


def start_alert_worker(settings: AlertSettings) -> AlertWorkerProcess:
    """The hook for an assembly (the local stack): start the worker beside this process (in a child of it);
    call .stop() at shutdown."""
    return AlertWorkerProcess(settings).start()


class TimeMerge:
    """Partitions' events merged by event time, each partition's order kept: an event is handed on once every
    partition still open holds one, so none that is still to come can be earlier than it (as far as each
    partition is itself in time order). Closed partitions (read to their end) hold nothing back."""

    def __init__(self, partitions: set[int]) -> None:
        self._held: dict[int, deque[LoggedEvent]] = {p: deque() for p in partitions}
        self._open = set(partitions)

    def add(self, partition: int, logged: LoggedEvent) -> None:
        self._held[partition].append(logged)

    def close(self, partition: int) -> None:
        self._open.discard(partition)

    def held(self, partition: int) -> int:
        return len(self._held[partition])

    def ready(self) -> Iterator[LoggedEvent]:
        held = self._held
        while all(held[p] for p in self._open):
            waiting = [p for p, events in held.items() if events]
            if not waiting:
                return
            first = min(waiting, key=lambda p: held[p][0].event.event_time)
            yield held[first].popleft()


def in_time_order(events: list[LoggedEvent]) -> list[LoggedEvent]:
    """A consumed batch, partitions merged by event time, each partition's own order kept: a batch holds one
    partition's messages after another's, so a rule created before a run's event (another partition) could
    otherwise be evaluated after it, and a rule applies to the events logged after it."""
    by_partition: dict[int, list[LoggedEvent]] = {}
    for logged in events:
        by_partition.setdefault(logged.partition, []).append(logged)
    return list(heapq.merge(*by_partition.values(), key=lambda logged: logged.event.event_time))
