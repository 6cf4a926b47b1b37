"""Settings of the runstream server (API, and the projector when hosted in the same process)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from consumers.settings import ProjectorSettings


class ServerSettings(ProjectorSettings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=1, le=65535)
    run_projector: bool = Field(True, description="host the projector in the API process")
    kafka_version: str = Field("4.1.1", description="Apache Kafka version the local broker runs")
    kafka_port: int = Field(9092, ge=1, le=65535, description="port of the local broker")
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_heap: str = Field("1g", description="-Xmx of the local broker")
    health_timeout_s: float = Field(2.0, gt=0)
    auth_tokens: SecretStr | None = Field(None, description='JSON {"token": ["read", "write", "admin"], ...}')
    auth_tokens_file: Path | None = Field(None, description="a file holding the same JSON")
    sql_max_execution_time_s: float = Field(10.0, gt=0, description="time limit of /api/v1/sql queries")
    sql_max_result_rows: int = Field(100_000, ge=1, description="rows /api/v1/sql returns at most")
    dashboard_dir: Path | None = Field(None, description="built dashboard (default: query_api/static/dashboard)")
    artifact_root: Path | None = Field(None, description="where MLflow artifacts are stored "
                                       "(default: <data dir>/artifacts)")
    mlflow_read_wait_s: float = Field(10.0, gt=0, description="how long a read waits for the projector to "
                                      "reach this server's own writes")
    publish_timeout_s: float = Field(10.0, gt=0, description="how long an HTTP write waits for Kafka's ack")
    sql_max_memory_bytes: int = Field(2 * 1024**3, ge=1024**2, description="memory limit of /api/v1/sql queries")
    query_max_execution_time_s: float = Field(30.0, gt=0, description="time limit of every query the API runs")
    query_max_memory_bytes: int = Field(2 * 1024**3, ge=1024**2, description="memory limit of every query the "
                                        "API runs")
    query_clients: int = Field(4, ge=1, le=64, description="ClickHouse clients the requests share (queries of "
                               "one client run one at a time)")
    artifact_max_bytes: int = Field(1024**3, ge=1, description="largest artifact upload (413 beyond)")
    allowed_hosts: str = Field("127.0.0.1,localhost,[::1]", description="without tokens: the Host names served "
                               "(comma-separated; *.example.org or * allowed), against DNS rebinding")
    sql_clickhouse_dsn: SecretStr | None = Field(None, description="the DSN analyst SQL connects with: on a "
                                                 "ClickHouse server, a user granted only SELECT on the database "
                                                 "(compose/clickhouse-analyst.sh); default: clickhouse_dsn")
    sql_memory_budget_bytes: int = Field(4 * 1024**3, ge=1024**2, description="memory all concurrent /api/v1/sql "
                                         "queries may reserve together (each reserves its limit)")

    @property
    def allowed_host_list(self) -> tuple[str, ...]:
        """allowed_hosts, and the host the API listens on unless it listens on every address."""
        hosts = [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]
        if self.api_host not in ("0.0.0.0", "::", "") and self.api_host not in hosts:
            hosts.append(f"[{self.api_host}]" if ":" in self.api_host else self.api_host)
        return tuple(hosts)

    @property
    def artifact_dir(self) -> Path:
        return self.artifact_root or self.data_dir / "artifacts"

    @property
    def local_kafka(self) -> bool:
        """True unless RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS names an existing cluster."""
        return "kafka_bootstrap_servers" not in self.model_fields_set

    def with_local_kafka(self) -> ServerSettings:
        """These settings with the bootstrap address of the local broker filled in."""
        if not self.local_kafka:
            return self
        return self.model_copy(update={"kafka_bootstrap_servers": f"127.0.0.1:{self.kafka_port}"})
