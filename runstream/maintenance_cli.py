"""`runstream rebuild` and `runstream verify`: through a running server's admin API, else on the data directly."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import typer

from consumers.clickhouse import connect
from consumers.maintenance import Kind, MaintenanceJob, select_tables
from consumers.migrate import migrate
from runstream.settings import ServerSettings
from runstream.stack import local_broker

POLL_S = 1.0

# Exit codes: 0 done (verify: equal), 1 verify found differences, 2 the job failed or could not start.
EXIT_OK, EXIT_DIFFERENT, EXIT_FAILED = 0, 1, 2


def format_progress(status: dict[str, Any]) -> str:
    """One progress line of a running job."""
    lag = status.get("lag")
    parts = [
        f"{status['kind']}: {status['phase']}",
        f"{status['events']:,} events ({status['events_per_s']:,.0f}/s)",
        f"{status['points']:,} points ({status['points_per_s']:,.0f}/s)",
    ]
    if lag is not None:
        parts.append(f"lag {lag:,}")
    return " | ".join(parts)


def format_outcome(status: dict[str, Any]) -> tuple[str, int]:
    """What to print when a job has ended, and the exit code."""
    lines = [format_progress(status)]
    if status["state"] == "failed":
        lines.append(f"{status['kind']} FAILED: {status['error']}")
        return "\n".join(lines), EXIT_FAILED
    before, after = status.get("counts_before") or {}, status.get("counts_after") or {}
    if status["kind"] == "rebuild":
        width = max(map(len, before), default=5)
        lines.append(f"{'table'.ljust(width)}  {'rows before':>14}  {'rows after':>14}")
        for table in status["tables"]:
            lines.append(f"{table.ljust(width)}  {before.get(table, 0):>14,}  {after.get(table, 0):>14,}")
        lines.append(f"rebuilt {len(status['tables'])} table(s); projection paused {status.get('paused_s')} s")
        return "\n".join(lines), EXIT_OK
    differences = status.get("differences") or []
    if not differences:
        lines.append(f"verified {len(status['tables'])} table(s): every run equals its replay")
        return "\n".join(lines), EXIT_OK
    lines.append(f"{len(differences)} difference(s) between the live tables and a replay of the log:")
    for d in differences:
        lines.append(f"  {d['table']}  run {d['run_id'] or '(table-wide)'}: {d['what']}")
    return "\n".join(lines), EXIT_DIFFERENT


class ServerUnavailable(Exception):
    """Nothing answers at the server's address."""


def _call(url: str, method: str, token: str | None, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        reply = exc.read().decode("utf-8", "replace")
        try:
            return exc.code, json.loads(reply)
        except ValueError:
            return exc.code, {"error_code": f"HTTP {exc.code}", "message": reply[:500]}
    except OSError as exc:
        raise ServerUnavailable(str(exc)) from exc


def server_answers(base: str) -> bool:
    try:
        _call(f"{base}/healthz", "GET", None)
    except ServerUnavailable:
        return False
    return True


def through_server(kind: Kind, base: str, only: list[str] | None, token: str | None,
                   echo: Callable[[str], None] = typer.echo) -> int:
    """Start the job on the server and follow it to the end; the exit code."""
    url = f"{base}/api/v1/admin/{kind}"
    try:
        return _follow(kind, url, only, token, echo)
    except ServerUnavailable as exc:
        echo(f"runstream {kind}: the server at {base} stopped answering ({exc}); the job did not finish. Each live "
             "table is either the old one or its rebuilt copy, both at the same log position, and leftover shadow "
             "tables are replaced by the next job: start the server again and run `runstream verify`.")
        return EXIT_FAILED


def _follow(kind: Kind, url: str, only: list[str] | None, token: str | None, echo: Callable[[str], None]) -> int:
    base = url.rsplit("/api/v1/", 1)[0]
    code, body = _call(url, "POST", token, {"only": only} if only else None)
    if code != 202:
        echo(f"runstream {kind}: the server refused ({code}): {body.get('error_code')}: {body.get('message')}")
        return EXIT_FAILED
    echo(f"{kind} started on {base}")
    while True:
        time.sleep(POLL_S)
        code, status = _call(url, "GET", token)
        if code != 200:
            echo(f"runstream {kind}: lost track of the job ({code}): {status}")
            return EXIT_FAILED
        if status["state"] != "running":
            text, exit_code = format_outcome(status)
            echo(text)
            return exit_code
        echo(format_progress(status))


def direct(kind: Kind, only: list[str] | None, echo: Callable[[str], None] = typer.echo) -> int:
    """No server runs: open the data ourselves (starting the local broker if it is not running)."""

    try:
        select_tables(only)
    except ValueError as exc:
        echo(f"runstream {kind}: {exc}")
        return EXIT_FAILED
    settings = ServerSettings()
    broker, settings = local_broker(settings)
    try:
        store = settings.store
        try:
            client = connect(store.clickhouse_url, store.clickhouse_database)
        except Exception as exc:  # chdb refuses a data directory another process holds, a server may be down
            echo(f"runstream {kind}: cannot open ClickHouse at {store.clickhouse_url}: {exc}")
            return EXIT_FAILED
        migrate(client)
        job = MaintenanceJob(kind, store, client, only=only)
        worker = threading.Thread(target=job.run, name=f"runstream-{kind}")
        worker.start()
        while worker.is_alive():
            worker.join(POLL_S)
            if worker.is_alive():
                echo(format_progress(job.refresh().to_dict()))
        text, exit_code = format_outcome(job.refresh().to_dict())
        echo(text)
        client.close()
        return exit_code
    finally:
        if broker is not None and not broker.reused:
            broker.stop()
