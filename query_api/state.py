"""What the app holds while it runs, built once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client
from confluent_kafka.admin import AdminClient

from consumers.runner import ProjectorThread
from query_api.consistency import ReadBarrier
from query_api.maintenance import MaintenanceRunner
from query_api.mlflow.service import MlflowService
from query_api.publisher import ApiPublisher
from query_api.readers import Readers
from query_api.settings import ServerSettings


@dataclass
class AppState:
    settings: ServerSettings
    clickhouse: Client
    kafka_admin: AdminClient
    projector: ProjectorThread | None = None
    maintenance: MaintenanceRunner | None = None
    readers: Readers | None = None
    publisher: ApiPublisher | None = None
    mlflow: MlflowService | None = None
    barrier: ReadBarrier | None = None
    health_clickhouse: Client | None = None  # /healthz's own client: never queued behind a slow request's query
