"""The settings each process composes: the store (Kafka and ClickHouse), the API, the local broker."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumers.alerts.settings import AlertSettings
from consumers.settings import ProjectorSettings
from query_api.settings import ApiSettings


class BrokerSettings(BaseSettings):
    """The local Kafka broker `runstream up` starts when no cluster is named."""

    model_config = SettingsConfigDict(env_prefix="RUNSTREAM_", frozen=True, extra="ignore")

    kafka_version: str = Field("4.1.1", description="Apache Kafka version the local broker runs")
    kafka_port: int = Field(9092, ge=1, le=65535, description="port of the local broker")
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_heap: str = Field("1g", description="-Xmx of the local broker")
    kafka_jvm_options: str = Field(
        "-XX:TieredStopAtLevel=1", description="more java options of the local broker, split like a shell's. By "
        "default the JIT stops at C1: C2 compiling the broker's hot paths took half of its CPU while a fresh broker "
        "ingested a 1M-point sweep on 2 cores (benchmarks/results/ingest-20261202b.md); '' for the JVM's defaults")


class HostSettings(BaseSettings):
    """What the server process hosts besides the API."""

    model_config = SettingsConfigDict(env_prefix="RUNSTREAM_", frozen=True, extra="ignore")

    run_projector: bool = Field(True, description="host the projector in the API process")


_PARTS: dict[str, type[BaseSettings]] = {
    "store": ProjectorSettings, "api": ApiSettings, "broker": BrokerSettings, "host": HostSettings,
    "alerts": AlertSettings,
}


class ServerSettings(BaseModel):
    """The server process: each part reads its RUNSTREAM_* variables; flat keyword arguments
    (`ServerSettings(api_port=8081, clickhouse_dsn=...)`) go to the part that declares them."""

    model_config = ConfigDict(frozen=True)

    store: ProjectorSettings = Field(default_factory=ProjectorSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    host: HostSettings = Field(default_factory=HostSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @model_validator(mode="before")
    @classmethod
    def _distribute(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not (set(data) - set(_PARTS)):
            return data
        parts: dict[str, Any] = {k: v for k, v in data.items() if k in _PARTS}
        for key, value in data.items():
            if key in _PARTS:
                continue
            owner = next((name for name, part in _PARTS.items() if key in part.model_fields), None)
            if owner is None:
                raise ValueError(f"unknown setting {key!r}")
            if isinstance(parts.get(owner), BaseSettings):
                raise ValueError(f"{key!r} given both flat and inside {owner!r}")
            parts.setdefault(owner, {})[key] = value
        return {name: _PARTS[name](**value) if isinstance(value, dict) else value for name, value in parts.items()}

    @property
    def local_kafka(self) -> bool:
        """True unless RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS names an existing cluster."""
        return "kafka_bootstrap_servers" not in self.store.model_fields_set

    def with_local_kafka(self) -> ServerSettings:
        """These settings with the bootstrap address of the local broker filled in."""
        if not self.local_kafka:
            return self
        store = self.store.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{self.broker.kafka_port}"})
        return self.model_copy(update={"store": store})

    def updated(self, **flat: Any) -> ServerSettings:
        """A copy with flat settings changed in the part that declares each (as the constructor takes them)."""
        changes: dict[str, dict[str, Any]] = {}
        for key, value in flat.items():
            owner = next((name for name, part in _PARTS.items() if key in part.model_fields), None)
            if owner is None:
                raise ValueError(f"unknown setting {key!r}")
            changes.setdefault(owner, {})[key] = value
        return self.model_copy(update={name: getattr(self, name).model_copy(update=c) for name, c in changes.items()})
