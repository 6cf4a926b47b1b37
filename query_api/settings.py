"""Settings of the HTTP layer: where it listens, who may call it, and the bounds of what it answers."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """The API's own settings; where the log and the tables are comes from consumers.settings."""

    model_config = SettingsConfigDict(env_prefix="RUNSTREAM_", frozen=True, extra="ignore")

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
    mlflow_read_wait_s: float = Field(10.0, gt=0, description="how long a read waits for the projector to "
                                      "reach this server's own writes")
    publish_timeout_s: float = Field(10.0, gt=0, description="how long an HTTP write waits for Kafka's ack")

    @property
    def base_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    def artifact_dir(self, data_dir: Path) -> Path:
        """Where artifacts are stored: artifact_root, else under the server's data directory."""
        return self.artifact_root or data_dir / "artifacts"
