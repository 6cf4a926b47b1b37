"""Settings of the SDK, read from RUNSTREAM_* environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrackerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNSTREAM_", frozen=True, extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "runstream.events"
    metrics_batch_points: int = Field(1000, ge=1, le=100_000, description="flush a run's points at this many")
    metrics_flush_interval_s: float = Field(0.5, gt=0, description="flush pending points at least this often")
    linger_ms: int = Field(5, ge=0)
    compression: Literal["lz4", "zstd", "snappy", "gzip", "none"] = Field(
        "lz4", description="librdkafka's compression.type. lz4 by default: against zstd the producers used 25% less "
        "CPU and the consumers decompress faster; the log takes ~40% more disk (benchmarks/results/ingest-20261203.md)")
    message_timeout_ms: int = Field(0, ge=0, description="librdkafka's delivery timeout; 0 (never give up) because "
                                    "the spool keeps undelivered events")
    spool_dir: Path = Field(Path("~/.cache/runstream/spool"), description="where events wait for the broker")
    exit_timeout_s: float = Field(5.0, ge=0, description="at interpreter exit, wait this long for acknowledgements "
                                  "(what is not acknowledged stays spooled)")
    spool_max_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="beyond this, new events are dropped")
