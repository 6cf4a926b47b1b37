"""Settings of the alert worker, read from RUNSTREAM_* environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AlertSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNSTREAM_", frozen=True, extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "runstream.events"
    alerts_enabled: bool = Field(True, description="run the alert worker in the local stack (runstream up)")
    alerts_consumer_group: str = "runstream-alerts"
    alerts_stall_check_s: float = Field(10.0, gt=0, description="how often RUNNING runs are checked for silence")
    alerts_webhook_attempts: int = Field(6, ge=1, description="tries per delivery round (exponential backoff)")
    alerts_webhook_timeout_s: float = Field(5.0, gt=0)
    alerts_start_wait_s: float = Field(120.0, gt=0, description="how long start-up waits out a topic without "
                                       "leaders (just created, a broker restarting) before the worker gives up")
    alerts_retry_s: float = Field(30.0, gt=0, description="undelivered firings are tried again this often")
    alerts_fetch_queue_kbytes: int = Field(2 * 1024, ge=1024, description="Kafka messages the worker's consumer "
                                           "prefetches, in KiB (librdkafka's default, 64 MiB, doubled the server's "
                                           "memory for a backlog; 8 MiB still held ~10 MB more than 2 MiB while it "
                                           "read a 10M-point backlog, benchmarks/results/rss-20261203b.md)")
    alerts_memory_release_s: float = Field(0.5, ge=0, description="while the worker reads, return the memory "
                                           "glibc's arenas hold freed to the OS at most this often; 0: never")
    alerts_delivery_delay_s: float = Field(0.0, ge=0, description="a pause between recording a firing and "
                                           "delivering it (the tests kill the worker there)")
