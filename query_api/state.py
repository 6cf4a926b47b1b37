"""What the app holds while it runs, built once in the lifespan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client
from confluent_kafka.admin import AdminClient

from consumers.alerts import HostedAlerts
from consumers.runner import ProjectorThread
from consumers.settings import ProjectorSettings
from query_api.answers import Answers, Version
from query_api.artifacts import ArtifactStore
from query_api.clientpool import Readers
from query_api.consistency import ReadBarrier
from query_api.curvecopy import CurveCopy
from query_api.facts import Facts
from query_api.maintenance import MaintenanceRunner
from query_api.publisher import ApiPublisher
from query_api.settings import ApiSettings
from query_api.statecache.cache import RunStates


@dataclass
class AppState:
    api: ApiSettings
    store: ProjectorSettings
    clickhouse: Client
    kafka_admin: AdminClient
    projector: ProjectorThread | None = None
    maintenance: MaintenanceRunner | None = None
    readers: Readers | None = None
    publisher: ApiPublisher | None = None
    artifacts: ArtifactStore | None = None
    barrier: ReadBarrier | None = None
    health_clickhouse: Client | None = None  # /healthz's own client: never queued behind a slow request's query
    alerts: HostedAlerts | None = None  # the alert worker when this process hosts it (reported by /healthz)
    facts: Facts = field(default_factory=Facts)  # experiments that exist, runs' experiments: asked once
    answers: Answers | None = None  # searches remembered at a data version (query_api/answers.py)
    data_version: Callable[[], Version | None] | None = None  # what the projector has made visible, now
    # the data version where it needs no statement (the hosted projector's memory), else None: what a remembered
    # answer may be looked up at on the event loop (deps.answered)
    memory_version: Callable[[], Version | None] | None = None
    curves: CurveCopy | None = None  # exact copies of metric series kept by the local projector (curvecopy.py)
    run_states: RunStates | None = None  # experiments' exact current run state for searches (query_api/statecache)
