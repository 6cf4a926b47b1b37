"""Settings of the SDK, read from RUNSTREAM_* environment variables."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrackerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNSTREAM_", frozen=True, extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "runstream.events"
    metrics_batch_points: int = Field(1000, ge=1, le=100_000, description="flush a run's points at this many")
    metrics_flush_interval_s: float = Field(0.5, gt=0, description="flush pending points at least this often")
    produce_block_s: float = Field(10.0, ge=0, description="longest a log call waits when the send queue is full")
    linger_ms: int = Field(5, ge=0)
    compression: str = "zstd"
    message_timeout_ms: int = Field(300_000, ge=1000, description="give up on delivering an event after this")
