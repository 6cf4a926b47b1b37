"""The MLflow front door's parts, built once per app: its reads, its writes (with their checks) and the artifact
store behind its proxy."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from query_api.artifacts import ArtifactStore
from query_api.consistency import ReadBarrier
from query_api.facts import Facts
from query_api.mlflow.locations import Locations
from query_api.mlflow.reader import MlflowReader
from query_api.mlflow.writer import MlflowWriter
from query_api.publisher import ApiPublisher
from schemas import Producer
from schemas.factory import EventFactory

SOFTWARE = "runstream-api (MLflow REST)"


@dataclass(frozen=True)
class MlflowService:
    reader: MlflowReader
    writer: MlflowWriter
    artifacts: ArtifactStore
    locations: Locations

    @classmethod
    def build(cls, clickhouse: Client, publisher: ApiPublisher, barrier: ReadBarrier,
              artifacts: ArtifactStore, *, default_artifact_root: str | None = None,
              facts: Facts | None = None) -> MlflowService:
        reader = MlflowReader(clickhouse, barrier, default_artifact_root, facts=facts)
        events = EventFactory(Producer(socket.gethostname(), os.getpid(), "mlflow-client", SOFTWARE))
        return cls(reader, MlflowWriter(reader, publisher, events), artifacts,
                   Locations(artifacts, default_artifact_root))
