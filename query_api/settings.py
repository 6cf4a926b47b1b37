"""Settings of the HTTP layer: where it listens, who may call it, and the bounds of what it answers."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """The API's own settings; where the log and the tables are comes from consumers.settings."""

    model_config = SettingsConfigDict(env_prefix="RUNSTREAM_", frozen=True, extra="ignore", populate_by_name=True)

    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=1, le=65535)
    health_timeout_s: float = Field(2.0, gt=0)
    auth_tokens: SecretStr | None = Field(None, description='JSON {"token": ["read", "write", "admin"], ...}')
    auth_tokens_file: Path | None = Field(None, description="a file holding the same JSON")
    sql_max_execution_time_s: float = Field(10.0, gt=0, description="time limit of /api/v1/sql queries")
    sql_max_result_rows: int = Field(100_000, ge=1, description="rows /api/v1/sql returns at most")
    sql_max_memory_bytes: int = Field(2 * 1024**3, ge=1024**2, description="memory limit of /api/v1/sql queries")
    dashboard_dir: Path | None = Field(None, description="built dashboard (default: query_api/static/dashboard)")
    artifact_root: Path | None = Field(None, description="where MLflow artifacts are stored "
                                       "(default: <data dir>/artifacts)")
    mlflow_default_artifact_root: str | None = Field(
        None, description="as `mlflow server --default-artifact-root URI --no-serve-artifacts`: new experiments "
        "get <URI>/<experiment id> and clients write their runs' files there themselves (file:// or s3://...); "
        "runstream records the locations, never the files. Default: files pass through this server "
        "(mlflow-artifacts:/), each one an event in the log")
    mlflow_read_wait_s: float = Field(10.0, gt=0, description="how long a read waits for the projector to "
                                      "reach this server's own writes")
    publish_timeout_s: float = Field(10.0, gt=0, description="how long an HTTP write waits for Kafka's ack")
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
    gateway_kek_passphrase: SecretStr | None = Field(
        None, validation_alias=AliasChoices("RUNSTREAM_GATEWAY_KEK_PASSPHRASE", "MLFLOW_CRYPTO_KEK_PASSPHRASE"),
        description="the passphrase AI-gateway secrets are encrypted with (MLflow's MLFLOW_CRYPTO_KEK_PASSPHRASE is "
        "read too); unset: MLflow's development default, reported by gateway/secrets/config. Keep it: secrets "
        "encrypted with one passphrase cannot be decrypted with another")
    sql_memory_budget_bytes: int = Field(4 * 1024**3, ge=1024**2, description="memory all concurrent /api/v1/sql "
                                         "queries may reserve together (each reserves its limit)")
    answer_cache_entries: int = Field(256, ge=0, description="answers to run searches and metric curves "
                                      "remembered while nothing new is projected (0: none); each answer is "
                                      "valid only at the data version it was read at")
    answer_cache_bytes: int = Field(64 * 1024**2, ge=0, description="bytes of remembered answers at most")
    curve_cache_points: int = Field(2_000_000, ge=0, description="metric points of whole series this process "
                                    "copies in memory for curves while its projector alone writes (0: none); "
                                    "~24 bytes a point plus ~0.6 KB a series, least recently asked first")
    run_state_cache_runs: int = Field(20_000, ge=0, description="runs whose exact current state this process "
                                      "holds for searches (0: none); the least recently searched experiment goes "
                                      "first, and a bigger experiment is searched in ClickHouse")

    @field_validator("gateway_kek_passphrase")
    @classmethod
    def _blank_passphrase(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None  # empty: unset, as MLflow

    @field_validator("mlflow_default_artifact_root")
    @classmethod
    def _artifact_root_uri(cls, value: str | None) -> str | None:
        if not value:
            return None
        if value.startswith("mlflow-artifacts:"):
            raise ValueError("mlflow-artifacts: is the default (files through this server): leave the setting unset")
        if "://" in value:
            return value
        if Path(value).is_absolute():
            return Path(value).as_uri()
        raise ValueError(f"{value!r}: give a URI (file:///..., s3://...) or an absolute path")

    @property
    def allowed_host_list(self) -> tuple[str, ...]:
        """allowed_hosts, and the host the API listens on unless it listens on every address."""
        hosts = [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]
        if self.api_host not in ("0.0.0.0", "::", "") and self.api_host not in hosts:
            hosts.append(f"[{self.api_host}]" if ":" in self.api_host else self.api_host)
        return tuple(hosts)

    @property
    def base_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    def artifact_dir(self, data_dir: Path) -> Path:
        """Where artifacts are stored: artifact_root, else under the server's data directory."""
        return self.artifact_root or data_dir / "artifacts"
