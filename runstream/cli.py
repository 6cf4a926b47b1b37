"""The `runstream` command: the local stack, the server, the projector on its own, maintenance, SQL."""

from __future__ import annotations

import json
import logging
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import typer

from consumers.clickhouse import connect
from consumers.maintenance import Kind
from consumers.migrate import migrate
from consumers.projector import Projector
from consumers.settings import ProjectorSettings
from runstream import maintenance_cli
from runstream.local.kafka import LocalKafka, LocalKafkaError
from runstream.settings import ServerSettings
from runstream.stack import (
    StackError,
    configure_logging,
    create_topics,
    local_broker,
    run_demo,
    serve,
    start_alerts,
    terminate_as_interrupt,
    tune_process,
)

app = typer.Typer(help="runstream: event-sourced experiment tracking on Kafka and ClickHouse.", no_args_is_help=True)
log = logging.getLogger("runstream")


def _fail(message: str) -> int:
    typer.echo(f"runstream: {message}", err=True)
    return 1


@app.command()
def up(demo: bool = typer.Option(False, "--demo", help="also publish a demo sweep and print a leaderboard")) -> None:
    """Run the local stack: a Kafka broker (unless RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS is set) and the server."""
    configure_logging()
    terminate_as_interrupt()
    settings = ServerSettings()
    tune_process(settings.store)
    broker: LocalKafka | None = None
    alerts = None
    try:
        broker, settings = local_broker(settings)
        create_topics(settings.store)
        alerts = start_alerts(settings)
        if demo:
            threading.Thread(target=run_demo, args=(settings,), name="runstream-demo", daemon=True).start()
        serve(settings, alerts)
    except (LocalKafkaError, StackError) as exc:
        raise typer.Exit(_fail(str(exc))) from exc
    except KeyboardInterrupt:
        pass
    finally:
        if alerts is not None:
            alerts.stop()
        if broker is not None:
            log.info("stopping the Kafka broker")
            broker.stop()


@app.command("serve")
def serve_command() -> None:
    """Run the API (and the projector, unless RUNSTREAM_RUN_PROJECTOR=false) against existing Kafka/ClickHouse."""
    configure_logging()
    settings = ServerSettings()
    tune_process(settings.store)
    create_topics(settings.store)
    try:
        serve(settings)
    except StackError as exc:
        raise typer.Exit(_fail(str(exc))) from exc


@app.command()
def project() -> None:
    """Run only the projector (for clusters: several of these share the consumer group)."""
    configure_logging()
    terminate_as_interrupt()
    settings = ProjectorSettings()
    tune_process(settings)
    create_topics(settings)
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
    configure_logging()
    settings = ProjectorSettings()
    applied = migrate(connect(settings.clickhouse_url, settings.clickhouse_database))
    typer.echo(f"applied: {', '.join(applied) or 'nothing (up to date)'}")


ONLY = typer.Option(None, "--only", help="a table to cover (repeatable); default every table")
TOKEN = typer.Option(None, envvar="RUNSTREAM_API_TOKEN", help="bearer token with the admin scope")


def _maintenance(kind: Kind, only: list[str] | None, token: str | None) -> None:
    configure_logging()
    logging.getLogger("runstream").setLevel(logging.WARNING)  # progress lines say what matters
    base = ServerSettings().api.base_url
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

    configure_logging()
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
    settings = ServerSettings().api
    url = f"{settings.base_url}/api/v1/sql"
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
