"""Session-scoped real Kafka and real ClickHouse; a fresh topic and database per test module.

The broker is, in order: RUNSTREAM_TEST_KAFKA_BOOTSTRAP (an existing broker), a testcontainers
Kafka where a Docker engine answers, else a local broker provisioned from Maven Central jars.
ClickHouse is RUNSTREAM_TEST_CLICKHOUSE_DSN (a server) or embedded chdb under a temp directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient

from consumers.topics import ensure_topics
from producer import Tracker, TrackerSettings
from runstream.local.kafka import BrokerConfig, LocalKafka
from runstream.settings import ServerSettings
from runstream.stack import build_app

log = logging.getLogger("tests")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _docker_answers() -> bool:
    """True when a Docker engine answers on DOCKER_HOST or the default socket."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no engine, no permission: both mean "no Docker here"
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    existing = os.environ.get("RUNSTREAM_TEST_KAFKA_BOOTSTRAP")
    if existing:
        yield existing
        return
    if _docker_answers():
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.9.0").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    broker = LocalKafka(BrokerConfig(
        home=tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port(), heap="768m",
    ))
    broker.start(timeout=120)
    try:
        yield broker.cfg.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def clickhouse_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get("RUNSTREAM_TEST_CLICKHOUSE_DSN") or f"chdb://{tmp_path_factory.mktemp('clickhouse')}"


def http_json(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """Call a server in another process: (status, JSON body); (0, None) when nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data, {"Content-Type": "application/json"},
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
    except OSError:
        return 0, None


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.2, what: str = "") -> Any:
    """Poll until predicate() is truthy; return its value or fail the test naming what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@dataclass
class Stack:
    """One module's slice of the real stack: its own topic, database and in-process API + projector."""

    settings: ServerSettings
    api: TestClient

    def tracker(self, **overrides: Any) -> Tracker:
        settings = TrackerSettings(kafka_bootstrap_servers=self.settings.store.kafka_bootstrap_servers,
                                   topic=self.settings.store.topic, **overrides)
        return Tracker(settings=settings)

    def lag(self) -> int | None:
        body = self.api.get("/healthz").json()
        return body.get("projector_lag")

    def wait_projected(self, timeout: float = 60.0) -> None:
        wait_for(lambda: self.lag() == 0, timeout, what="projector lag 0")


def stack_settings(kafka_bootstrap: str, clickhouse_dsn: str, name: str, **extra: Any) -> ServerSettings:
    suffix = f"{name}_{uuid.uuid4().hex[:8]}"
    settings = ServerSettings(
        kafka_bootstrap_servers=kafka_bootstrap, topic=f"it.{suffix}.events", dlq_topic=f"it.{suffix}.dlq",
        consumer_group=f"it-{suffix}", clickhouse_dsn=clickhouse_dsn, clickhouse_database=f"it_{suffix}",
        topic_partitions=3, **extra,
    )
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    store = settings.store
    ensure_topics(admin, [store.topic, store.dlq_topic], partitions=store.topic_partitions)
    return settings


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, clickhouse_dsn: str, request: pytest.FixtureRequest) -> Iterator[Stack]:
    name = Path(str(request.node.name)).stem.removeprefix("test_")
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, name)
    with TestClient(build_app(settings)) as api:
        yield Stack(settings, api)


@contextlib.contextmanager
def serving(settings: ServerSettings) -> Iterator[int]:
    """The app on a real port (uvicorn in a thread of this process), for clients that speak HTTP."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(settings.updated(api_port=port)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), 60, what="the API to listen")
    assert thread.is_alive(), "the API did not start (see the log above)"
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)
