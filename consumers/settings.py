"""Settings of the projector, read from RUNSTREAM_* environment variables."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ProjectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNSTREAM_", frozen=True, extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "runstream.events"
    dlq_topic: str = "runstream.events.dlq"
    topic_partitions: int = Field(6, ge=1, description="partitions of the topic when runstream creates it")
    topic_replication_factor: int = Field(1, ge=1)
    consumer_group: str = "runstream-projector"
    data_dir: Path = Field(Path(".runstream"), description="local state: embedded ClickHouse, Kafka data")
    clickhouse_dsn: str | None = Field(None, description="chdb:///path or http://host:8123; default under data_dir")
    clickhouse_database: str = "runstream"
    batch_max_messages: int = Field(5000, ge=1)
    poll_timeout_s: float = Field(0.1, gt=0, description="the longest a batch that is not full waits for more")
    batch_ready_bytes: int = Field(
        4 * 1024**2, ge=0, description="a consumed batch already holding this many bytes of messages is taken at "
        "once instead of waiting out poll_timeout_s (librdkafka returns early only at batch_max_messages, which large "
        "metric messages never reach: behind by a group, the projector idled poll_timeout_s before every batch); "
        "0: always wait out poll_timeout_s (benchmarks/results/consume-20261204.md)")
    fetch_queue_backoff_ms: int = Field(
        10, ge=0, le=300_000, description="librdkafka's fetch.queue.backoff.ms: how long a partition waits to fetch "
        "again after the prefetch queue (fetch_queue_kbytes) was full. librdkafka's 1,000 left a projector behind "
        "with nothing to consume for up to a second after each full queue (benchmarks/results/consume-20261204.md)")
    insert_retries: int = Field(5, ge=0)
    chunk_bytes: int = Field(8 * 1024**2, ge=64 * 1024,
                             description="Avro bytes per insert block: bounds the projector's memory per batch. "
                             "8 MiB (a backlog batch is one group, not two or three): server CPU per 1M points lower "
                             "in 7 of 10 alternated sweeps, the 10M backlog's peak RSS 843-931 MB against 777-840 MB "
                             "(benchmarks/results/drainmerge-20261203d.md)")
    overlap_inserts: bool = Field(False, description="insert a batch on a thread of its own while the next one is "
                                  "decoded. Off by default: it drains faster alone, but the consumed batches get "
                                  "smaller and end-to-end ingest was 5% slower on a quiet machine "
                                  "(benchmarks/results/ingest-drain-20261202.md)")
    side_inserts: bool = Field(True, description="insert the metric_chunks table through a second ClickHouse client "
                               "while the other tables of a group are inserted (off: one table after another)")
    stall_skip_after: int = Field(3, ge=1, description="read errors at one offset (a batch the consumer cannot "
                                  "decompress) before that batch is skipped into dead letters")
    fetch_queue_kbytes: int = Field(8 * 1024, ge=1024,
                                    description="Kafka messages the consumer prefetches, in KiB (librdkafka): with "
                                    "a backlog, a consumed batch holds about this much (8 MiB: ~300k metric points)")
    memory_release_s: float = Field(
        0.2, ge=0, description="while batches are written and the process's RSS is over memory_release_above_mb, "
        "return what embedded ClickHouse's allocator freed to the OS this often (its jemalloc keeps freed pages 5 s; "
        "benchmarks/results/rss-20261203b.md); 0: never. A ClickHouse server manages its own")
    memory_release_above_mb: float = Field(
        600.0, ge=0, description="the server process's RSS (MiB) above which freed memory is returned (0: always): "
        "each return costs CPU, as the pages are faulted in again. The local server idles at ~450 MB with its "
        "ClickHouse library mapped")
    malloc_mmap_threshold_kb: int = Field(
        0, ge=0, le=32 * 1024, description="glibc's M_MMAP_THRESHOLD in KiB, set at the server's start: blocks this "
        "large are unmapped when freed instead of kept in the arenas. 0: glibc's sliding default. 1024 lowered the "
        "10M-point backlog's peak RSS in 7 of 8 alternated pairs (medians 891 -> 824 MB) but the server's CPU was "
        "higher in 5 of 8 (20.4 -> 22.2 s); 256 cost 10% more CPU (benchmarks/results/rssroom-20261203f.md)")
    gil_switch_interval_ms: float = Field(
        1.0, gt=0, le=100, description="Python's thread switch interval (sys.setswitchinterval) in the server's "
        "process, in ms; Python's default is 5. A thread that wants the GIL while another runs Python waits up to "
        "this long, at every hand-off: a remembered 10,000-run search answered beside a GIL-heavy question took "
        "~20 ms at 5 ms against ~9 ms at 1 ms (benchmarks/results/hits-20261203g.md)")
    max_poll_interval_s: float = Field(
        45.0, ge=15, le=3600, description="librdkafka's max.poll.interval.ms, in seconds. It also bounds how long "
        "a JoinGroup request may wait for its answer (this + 3 s): with the default 300 s, a consumer whose "
        "JoinGroup reached a broker that then froze stayed out of its group for five minutes. A batch (or a "
        "rebuild's pause) longer than this costs a rebalance, never an event: positions live in ClickHouse")
    group_stuck_s: float = Field(
        90.0, gt=0, description="seconds the consumer may stay out of its group (rejoining, no assignment) before "
        "the projector replaces it with a new consumer: librdkafka can hang rejoining after its coordinator's broker "
        "died. Keep it above max_poll_interval_s + 3, the longest a healthy rejoin waits for its JoinGroup")
    kafka_debug: str = Field("", description="librdkafka debug contexts for the projector's consumer (e.g. "
                             "'cgrp,fetch'), logged on stderr; empty for none")

    @property
    def clickhouse_url(self) -> str:
        """The DSN to open: the configured one, else embedded ClickHouse under data_dir."""
        return self.clickhouse_dsn or f"chdb://{(self.data_dir / 'clickhouse').expanduser().resolve()}"

    @field_validator("clickhouse_database")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a plain ClickHouse identifier")
        return value
