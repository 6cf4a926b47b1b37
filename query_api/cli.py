"""The `runstream` command: the local stack, the server, the projector on its own."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import typer
import uvicorn
from confluent_kafka.admin import AdminClient

from consumers.alerts import AlertSettings, AlertWorkerThread, start_alert_worker
from consumers.clickhouse import connect
from consumers.maintenance import Kind
from consumers.migrate import migrate
from consumers.projector import Projector
from consumers.settings import ProjectorSettings
from consumers.topics import ensure_topics
from query_api.app import create_app
from query_api.local.kafka import BrokerConfig, LocalKafka, LocalKafkaError
from query_api.settings import ServerSettings

app = typer.Typer(help="runstream: event-sourced experiment tracking on Kafka and ClickHouse.", no_args_is_help=True)
log = logging.getLogger("runstream")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _terminate_as_interrupt() -> None:
    """SIGTERM unwinds like Ctrl-C, so `finally` blocks stop the broker before uvicorn takes over signals."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


def _create_topics(settings: ProjectorSettings) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    created = ensure_topics(admin, [settings.topic, settings.dlq_topic], partitions=settings.topic_partitions,
                            replication_factor=settings.topic_replication_factor)
    if created:
        log.info("created topics %s", ", ".join(created))


def _serve(settings: ServerSettings) -> None:
    try:
        app = create_app(settings)
    except ValueError as exc:  # a bad token table: say what is wrong, never the tokens
        raise typer.Exit(_fail(str(exc))) from None
    tokens = app.state.tokens
    url = f"http://{settings.api_host}:{settings.api_port}"
    if tokens is not None:
        log.info("API on %s; bearer tokens required (%d configured)", url, len(tokens))
    elif settings.api_host in ("127.0.0.1", "localhost", "::1"):
        log.warning("API on %s is OPEN: no RUNSTREAM_AUTH_TOKENS, so it listens on loopback only", url)
    else:
        raise typer.Exit(_fail(f"refusing to serve {url} without authentication: set RUNSTREAM_AUTH_TOKENS "
                               "(or RUNSTREAM_AUTH_TOKENS_FILE), or listen on 127.0.0.1"))
    uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level="info", timeout_graceful_shutdown=10)


def _fail(message: str) -> int:
    typer.echo(f"runstream: {message}", err=True)
    return 1


@app.command()
def up(demo: bool = typer.Option(False, "--demo", help="also publish a demo sweep and print a leaderboard")) -> None:
    """Run the local stack: a Kafka broker (unless RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS is set) and the server."""
    _logging()
    _terminate_as_interrupt()
    settings = ServerSettings()
    broker: LocalKafka | None = None
    alerts = None
    try:
        broker, settings = local_broker(settings)
        _create_topics(settings)
        alerts = _start_alerts(settings)
        if demo:
            threading.Thread(target=_demo, args=(settings,), name="runstream-demo", daemon=True).start()
        _serve(settings)
    except LocalKafkaError as exc:
        typer.echo(f"runstream: {exc}", err=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        pass
    finally:
        if alerts is not None:
            alerts.stop()
        if broker is not None:
            log.info("stopping the Kafka broker")
            broker.stop()


def _start_alerts(settings: ServerSettings) -> AlertWorkerThread | None:
    """The alert worker beside the server (RUNSTREAM_ALERTS_ENABLED=false leaves it out)."""
    alert_settings = AlertSettings(kafka_bootstrap_servers=settings.kafka_bootstrap_servers, topic=settings.topic)
    return start_alert_worker(alert_settings) if alert_settings.alerts_enabled else None


def local_broker(settings: ServerSettings) -> tuple[LocalKafka | None, ServerSettings]:
    """Start (or reuse) the local broker unless RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS names a cluster."""
    if not settings.local_kafka:
        return None, settings
    started = time.monotonic()
    broker = LocalKafka(BrokerConfig(
        home=(settings.data_dir / "kafka").expanduser().resolve(), port=settings.kafka_port,
        controller_port=settings.kafka_controller_port, version=settings.kafka_version, heap=settings.kafka_heap,
    ))
    broker.start()
    settings = settings.with_local_kafka()
    log.info("Kafka %s ready on %s (%s) after %.1fs", settings.kafka_version, settings.kafka_bootstrap_servers,
             "reused" if broker.reused else "started", time.monotonic() - started)
    return broker, settings


def _demo(settings: ServerSettings) -> None:
    from query_api import demo as demo_sweep

    api = f"http://{settings.api_host}:{settings.api_port}"
    runs, steps = 50, 500
    points = demo_sweep.publish_demo_sweep(settings.kafka_bootstrap_servers, settings.topic, runs=runs, steps=steps)
    log.info("demo sweep published: %d runs, %d points", runs, points)
    token = None
    if settings.auth_tokens:  # read the demo back with any token that may read
        grants = json.loads(settings.auth_tokens.get_secret_value())
        token = next((t for t, scopes in grants.items() if {"read", "admin"} & set(scopes)), None)
    demo_sweep.wait_and_print_leaderboard(api, runs, steps, token=token)


@app.command()
def serve() -> None:
    """Run the API (and the projector, unless RUNSTREAM_RUN_PROJECTOR=false) against existing Kafka/ClickHouse."""
    _logging()
    settings = ServerSettings()
    _create_topics(settings)
    _serve(settings)


@app.command()
def project() -> None:
    """Run only the projector (for clusters: several of these share the consumer group)."""
    _logging()
    _terminate_as_interrupt()
    settings = ProjectorSettings()
    _create_topics(settings)
    client = connect(settings.clickhouse_url, settings.clickhouse_database)
    migrate(client)
    stop = threading.Event()
    try:
        Projector(settings, client).run(stop)
    except KeyboardInterrupt:
        stop.set()


@app.command()
def migrate_db() -> None:
    """Apply pending ClickHouse migrations and exit."""
    _logging()
    settings = ProjectorSettings()
    applied = migrate(connect(settings.clickhouse_url, settings.clickhouse_database))
    typer.echo(f"applied: {', '.join(applied) or 'nothing (up to date)'}")


ONLY = typer.Option(None, "--only", help="a table to cover (repeatable); default every table")
TOKEN = typer.Option(None, envvar="RUNSTREAM_API_TOKEN", help="bearer token with the admin scope")


def _maintenance(kind: Kind, only: list[str] | None, token: str | None) -> None:
    from query_api import maintenance_cli

    _logging()
    logging.getLogger("runstream").setLevel(logging.WARNING)  # progress lines say what matters
    settings = ServerSettings()
    base = f"http://{settings.api_host}:{settings.api_port}"
    if maintenance_cli.server_answers(base):
        code = maintenance_cli.through_server(kind, base, only, token)
    else:
        typer.echo(f"no server answers at {base}: working on the data directly")
        try:
            code = maintenance_cli.direct(kind, only)
        except LocalKafkaError as exc:
            _fail(str(exc))
            code = maintenance_cli.EXIT_FAILED
    raise typer.Exit(code)


@app.command()
def rebuild(only: list[str] | None = ONLY, token: str | None = TOKEN) -> None:
    """Replay the log into shadow tables and swap them in; prints the row counts before and after."""
    _maintenance("rebuild", only, token)


@app.command()
def verify(only: list[str] | None = ONLY, token: str | None = TOKEN) -> None:
    """Replay the log into scratch tables and compare per-run checksums; exit 1 naming what differs."""
    _maintenance("verify", only, token)


spool_app = typer.Typer(help="The SDK's on-disk spool of events waiting for Kafka.")
app.add_typer(spool_app, name="spool")


@spool_app.command("flush")
def spool_flush(timeout: float = typer.Option(120.0, help="seconds to wait for the broker")) -> None:
    """Send the events that ended processes left spooled on this machine (RUNSTREAM_SPOOL_DIR)."""
    from producer import Tracker

    _logging()
    tracker = Tracker()
    found = tracker.recovered_events
    remaining = tracker.close(timeout)
    typer.echo(f"{found - remaining} of {found} spooled events delivered; {remaining} still spooled")
    if remaining:
        raise typer.Exit(1)


@app.command()
def sql(
    query: str = typer.Argument(..., help="one SELECT over the run tables"),
    max_rows: int | None = typer.Option(None, help="return at most this many rows"),
    as_json: bool = typer.Option(False, "--json", help="print the raw JSON answer"),
    token: str | None = typer.Option(None, envvar="RUNSTREAM_API_TOKEN", help="bearer token with the admin scope"),
) -> None:
    """Run read-only SQL through a running server (RUNSTREAM_API_HOST / RUNSTREAM_API_PORT)."""
    settings = ServerSettings()
    url = f"http://{settings.api_host}:{settings.api_port}/api/v1/sql"
    body = json.dumps({"query": query, **({"max_rows": max_rows} if max_rows else {})}).encode()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, body, headers)
    try:
        with urllib.request.urlopen(request, timeout=settings.sql_max_execution_time_s + 30) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        reply = exc.read().decode("utf-8", "replace")
        try:
            error = json.loads(reply)
            text = f"{error.get('error_code')}: {error.get('message')}"
        except (ValueError, AttributeError):  # not our JSON (a proxy's page, say): show what came back
            text = f"HTTP {exc.code}: {reply[:500]}"
        typer.echo(f"runstream sql: {text}", err=True)
        raise typer.Exit(1) from exc
    except OSError as exc:
        typer.echo(f"runstream sql: no runstream server answers at {url} ({exc})", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    typer.echo(format_table([c["name"] for c in answer["columns"]], answer["rows"]))
    more = " (truncated)" if answer["truncated"] else ""
    typer.echo(f"{answer['row_count']} row(s){more} in {answer['elapsed_ms']} ms")


def format_table(columns: list[str], rows: list[list[object]]) -> str:
    """An aligned text table of a result."""
    cells = [columns] + [["NULL" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    app(prog_name=Path(sys.argv[0]).name or "runstream")
