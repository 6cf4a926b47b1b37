"""Process wiring: topics, the local broker, the HTTP server with its hosted projector, the demo."""

from __future__ import annotations

import json
import logging
import shlex
import signal
import sys
import time

import uvicorn
from confluent_kafka.admin import AdminClient
from fastapi import FastAPI

from consumers.alerts import HostedAlerts, start_alert_worker
from consumers.memory import malloc_options, set_malloc_options
from consumers.settings import ProjectorSettings
from consumers.topics import ensure_topics
from query_api.app import create_app
from runstream import demo as demo_sweep
from runstream.local.kafka import BrokerConfig, LocalKafka
from runstream.settings import ServerSettings

log = logging.getLogger("runstream")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class StackError(RuntimeError):
    """The stack cannot start as configured (the message says why)."""


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def terminate_as_interrupt() -> None:
    """SIGTERM unwinds like Ctrl-C, so `finally` blocks stop the broker before uvicorn takes over signals."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


def tune_process(store: ProjectorSettings) -> None:
    """glibc's malloc parameters and Python's thread switch interval from the settings, for this process; before
    any thread starts."""
    set_malloc_options(malloc_options(mmap_threshold_kb=store.malloc_mmap_threshold_kb))
    sys.setswitchinterval(store.gil_switch_interval_ms / 1000)


def create_topics(store: ProjectorSettings) -> None:
    admin = AdminClient({"bootstrap.servers": store.kafka_bootstrap_servers})
    created = ensure_topics(admin, [store.topic, store.dlq_topic], partitions=store.topic_partitions,
                            replication_factor=store.topic_replication_factor)
    if created:
        log.info("created topics %s", ", ".join(created))


def broker_config(settings: ServerSettings) -> BrokerConfig:
    """The local broker's configuration from the server's settings."""
    cfg = settings.broker
    return BrokerConfig(
        home=(settings.store.data_dir / "kafka").expanduser().resolve(), port=cfg.kafka_port,
        controller_port=cfg.kafka_controller_port, version=cfg.kafka_version, heap=cfg.kafka_heap,
        jvm_options=tuple(shlex.split(cfg.kafka_jvm_options)),
    )


def local_broker(settings: ServerSettings) -> tuple[LocalKafka | None, ServerSettings]:
    """Start (or reuse) the local broker unless RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS names a cluster."""
    if not settings.local_kafka:
        return None, settings
    started = time.monotonic()
    cfg = settings.broker
    broker = LocalKafka(broker_config(settings))
    broker.start()
    settings = settings.with_local_kafka()
    log.info("Kafka %s ready on %s (%s) after %.1fs", cfg.kafka_version, settings.store.kafka_bootstrap_servers,
             "reused" if broker.reused else "started", time.monotonic() - started)
    return broker, settings


def start_alerts(settings: ServerSettings) -> HostedAlerts | None:
    """The alert worker beside the server (RUNSTREAM_ALERTS_ENABLED=false leaves it out)."""
    store = settings.store
    alerts = settings.alerts.model_copy(update={"kafka_bootstrap_servers": store.kafka_bootstrap_servers,
                                                "topic": store.topic})
    return start_alert_worker(alerts) if alerts.alerts_enabled else None


def serve(settings: ServerSettings, alerts: HostedAlerts | None = None) -> None:
    """Run the API (hosting the projector unless told not to) until interrupted; /healthz reports `alerts`."""
    try:
        app = build_app(settings, alerts)
    except ValueError as exc:  # a bad token table: say what is wrong, never the tokens
        raise StackError(str(exc)) from None
    tokens = app.state.tokens
    api = settings.api
    if tokens is not None:
        log.info("API on %s; bearer tokens required (%d configured)", api.base_url, len(tokens))
    elif api.api_host in LOOPBACK:
        log.warning("API on %s is OPEN: no RUNSTREAM_AUTH_TOKENS, so it listens on loopback only", api.base_url)
    else:
        raise StackError(f"refusing to serve {api.base_url} without authentication: set RUNSTREAM_AUTH_TOKENS "
                         "(or RUNSTREAM_AUTH_TOKENS_FILE), or listen on 127.0.0.1")
    uvicorn.run(app, host=api.api_host, port=api.api_port, log_level="info", timeout_graceful_shutdown=10)


def run_demo(settings: ServerSettings) -> None:
    """Publish the demo sweep, then print its leaderboard once the API shows it."""
    runs, steps = 50, 500
    points = demo_sweep.publish_demo_sweep(settings.store.kafka_bootstrap_servers, settings.store.topic,
                                           runs=runs, steps=steps)
    log.info("demo sweep published: %d runs, %d points", runs, points)
    token = None
    if settings.api.auth_tokens:  # read the demo back with any token that may read
        grants = json.loads(settings.api.auth_tokens.get_secret_value())
        token = next((t for t, scopes in grants.items() if {"read", "admin"} & set(scopes)
                      and not t.startswith("sha256:")), None)
    demo_sweep.wait_and_print_leaderboard(settings.api.base_url, runs, steps, token=token)


def build_app(settings: ServerSettings, alerts: HostedAlerts | None = None) -> FastAPI:
    """The HTTP app of a server process composed from these settings (and the alert worker it hosts, if any)."""
    return create_app(settings.api, settings.store, host_projector=settings.host.run_projector,
                      alert_worker=alerts)
