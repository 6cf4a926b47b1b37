"""The FastAPI application: built from settings, owning its clients and (locally) the projector."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial

from clickhouse_connect.driver.client import Client
from confluent_kafka.admin import AdminClient
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool

from consumers.alerts import HostedAlerts
from consumers.clickhouse import connect, open_client
from consumers.migrate import migrate
from consumers.runner import ProjectorThread
from consumers.settings import ProjectorSettings
from query_api.answers import Answers, Version, data_version
from query_api.artifacts import ArtifactStore
from query_api.auth import load_tokens, require, require_route_scope
from query_api.clientpool import ClientPool, Readers
from query_api.consistency import ReadBarrier
from query_api.curvecopy import CurveCopy
from query_api.errors import InvalidParameter, install_error_handlers
from query_api.facts import Facts
from query_api.jsonresponse import JSONResponse
from query_api.maintenance import MaintenanceRunner
from query_api.mlflow import artifact_routes, server_routes, ui_routes, unimplemented
from query_api.mlflow import routes as mlflow_routes
from query_api.mlflow.deps import Replays
from query_api.mlflow.model_app import build_model_services, install_model_routes
from query_api.mlflow.service import MlflowService
from query_api.publisher import ApiPublisher
from query_api.queries.log import positions
from query_api.routes import admin as admin_routes
from query_api.routes import alerts, analytics, artifacts, experiments, groups, health, opmetrics, runs, sql
from query_api.routes import logged_models as run_logged_models
from query_api.routes import registry as registry_audit
from query_api.routes.dashboard import install_dashboard
from query_api.security import LocalOnly
from query_api.settings import ApiSettings
from query_api.sqlbudget import SqlGuard
from query_api.sqlclient import query_limits, sql_clients
from query_api.state import AppState
from query_api.statecache.cache import RunStates
from schemas.positions import HEADER as AFTER_HEADER
from schemas.positions import parse_positions

log = logging.getLogger("runstream.api")


async def read_your_writes(request: Request) -> None:
    """Most reads find the barrier passed on the event loop; only one that must wait goes to a worker thread. A read
    may name log positions it must see (`X-Runstream-After`, an SDK client's acknowledged offsets)."""
    after = after_positions(request.headers.get(AFTER_HEADER))
    state: AppState | None = getattr(request.app.state, "runstream", None)
    if state is not None and state.barrier is not None and not state.barrier.passed(after):
        await run_in_threadpool(state.barrier.wait, after)


def after_positions(value: str | None) -> dict[int, int] | None:
    """The positions of an `X-Runstream-After` header; 400 naming what is wrong."""
    if value is None:
        return None
    try:
        return parse_positions(value)
    except ValueError as exc:
        raise InvalidParameter(f"{AFTER_HEADER}: {exc}") from None


def visible_positions(clickhouse: Client, projector: ProjectorThread | None) -> dict[int, int]:
    """What readers see projected: from the projector's memory while it alone writes, else from ClickHouse."""
    alone = projector.projected_alone() if projector is not None else None
    return alone if alone is not None else positions(clickhouse)


def memory_positions(projector: ProjectorThread | None) -> dict[int, int]:
    """`visible_positions` where they are in this process's memory (its projector alone writes), else none."""
    alone = projector.projected_alone() if projector is not None else None
    return alone or {}


def copy_usable(projector: ProjectorThread, maintenance: MaintenanceRunner) -> tuple[int, int] | None:
    """While this process's projector alone writes and no job runs, the maintenance generation and the projector's
    assignment count (a copy kept before partitions moved, or a job, is dropped), else None: when the in-memory
    copy of series (query_api/curvecopy.py) may answer curves."""
    assignments = projector.projector.assignments
    generation = maintenance.generation()
    if generation is None or not projector.projector.owns_topic():
        return None
    return (generation, assignments)


def seen_by(run_states: RunStates, version: Callable[[], Version | None]) -> Version | None:
    """The data version, shown to the run states (which catch up when they do not hold it)."""
    found = version()
    run_states.seen(found)
    return found


WARM_PATH = "/.runstream-warm-up"  # served by no route: a request for it passes every router


async def through_router(app: FastAPI, method: str, path: str, body: bytes = b"") -> None:
    """One request sent to the app's router alone (no middleware, no lifespan state): what matching it builds
    happens, its answer is dropped, and an error it ends with is logged at debug level."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": [],
             "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 0), "app": app, "state": {}}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: object) -> None:
        return None

    try:
        await app.router(scope, receive, send)
    except Exception as exc:  # a 404, or an endpoint refusing without the lifespan's state: only matching counts
        log.debug("%s %s through the router alone ended with %r", method, path, exc)


async def warm_routes(app: FastAPI) -> None:
    """Build the route state FastAPI builds on first use, at start-up. FastAPI (0.165) builds an included router's
    routes (each route's dependencies, its parameters' pydantic schemas) the first time a request passes through
    that router, and so in the middle of the first ingest the first analyst SQL query (the routers before the SQL
    one) paid ~50 ms of the server's CPU for it. A request for a path no route serves, sent to the router alone (no
    middleware, no dependency runs), passes every router: a 404 that nobody sees."""
    await through_router(app, "GET", WARM_PATH)


def create_app(settings: ApiSettings, store: ProjectorSettings, *, host_projector: bool = True,
               alert_worker: HostedAlerts | None = None) -> FastAPI:
    """The app; its lifespan connects to the store, migrates it and, with host_projector, runs the projector.
    `alert_worker` is the alert worker when the process hosts one: /healthz reports it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        clickhouse = connect(store.clickhouse_url, store.clickhouse_database)
        applied = migrate(clickhouse)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        clickhouse.close()  # the requests' client is bounded (time, memory); migrations were not
        limits = query_limits(settings)
        pool = ClientPool(lambda: open_client(store.clickhouse_url, store.clickhouse_database, limits),
                          settings.query_clients)
        clickhouse = pool.as_client()
        health_client = open_client(store.clickhouse_url, store.clickhouse_database, limits)
        admin = AdminClient({"bootstrap.servers": store.kafka_bootstrap_servers})
        projector = None
        if host_projector:
            projector = ProjectorThread(store, connect(store.clickhouse_url, store.clickhouse_database))
            projector.start()
        maintenance = MaintenanceRunner(store, projector.projector if projector is not None else None)
        readers = Readers(pool)
        publisher = ApiPublisher(store.kafka_bootstrap_servers, store.topic, timeout_s=settings.publish_timeout_s)
        barrier = ReadBarrier(publisher.acked, lambda: positions(clickhouse),
                              local=projector.projected if projector is not None else None,
                              timeout_s=settings.mlflow_read_wait_s)
        artifacts = ArtifactStore(settings.artifact_dir(store.data_dir), max_bytes=settings.artifact_max_bytes)
        # The data version remembered answers are valid at: over embedded ClickHouse, while this process's projector
        # holds every partition, nothing else writes, so its positions (in memory, moved after a batch's every
        # table is written) are the version; otherwise the positions are read from ClickHouse (~2-4 ms).
        embedded = store.clickhouse_url.startswith("chdb://")
        version = partial(data_version, partial(visible_positions, clickhouse, projector if embedded else None),
                          maintenance.generation)
        in_memory = partial(data_version, partial(memory_positions, projector if embedded else None),
                            maintenance.generation)
        answers = (Answers(settings.answer_cache_entries, settings.answer_cache_bytes)
                   if settings.answer_cache_entries and settings.answer_cache_bytes else None)
        # Loads and refreshes off the searches' path, started once the search that found the state missing or
        # stale has had its SQL answer (~50-250 ms at 10,000 runs): a load beside it took its GIL and cores.
        # Held states also catch up when the hosted projector whose memory gives the version has written and is
        # idle or, where the version is read from ClickHouse, when a question reads a version they do not hold: the
        # next cold question finds them current. (With the projector's version, questions asked while it drains
        # would start catch-ups between its insert groups; its idle moments say when an ingest is over. Without
        # it, reading the version is a statement the projector's thread must not wait for.)
        run_states = (RunStates(settings.run_state_cache_runs, delay_s=0.3,
                                background=ThreadPoolExecutor(1, thread_name_prefix="run-states"),
                                client=clickhouse, version=version)
                      if settings.run_state_cache_runs else None)
        if run_states is not None:
            if projector is not None and embedded:
                projector.projector.on_caught_up = run_states.moved
            else:
                version = partial(seen_by, run_states, version)
        curves = None
        if projector is not None and embedded and settings.curve_cache_points:
            curves = CurveCopy(settings.curve_cache_points, partial(copy_usable, projector, maintenance))
            projector.projector.writer.on_written = curves.written
        facts = Facts()  # shared by both front doors: a run's experiment read by one is known to the other
        app.state.mlflow = MlflowService.build(clickhouse, publisher, barrier, artifacts, facts=facts,
                                               default_artifact_root=settings.mlflow_default_artifact_root)
        passphrase = settings.gateway_kek_passphrase
        build_model_services(app, app.state.mlflow,
                             gateway_passphrase=passphrase.get_secret_value() if passphrase else None)
        app.state.runstream = AppState(settings, store, clickhouse, admin, projector=projector,
                                       maintenance=maintenance, readers=readers, publisher=publisher,
                                       artifacts=artifacts, barrier=barrier, health_clickhouse=health_client,
                                       alerts=alert_worker, facts=facts, answers=answers, data_version=version,
                                       memory_version=in_memory,
                                       run_states=run_states, curves=curves)
        await warm_routes(app)
        try:
            yield
        finally:
            publisher.close()
            if run_states is not None:
                run_states.close()
            maintenance.close()
            readers.close()
            if projector is not None:
                projector.stop()
            clickhouse.close()
            health_client.close()
            app.state.sql_clients.close()
            del app.state.runstream, app.state.mlflow  # drop the Kafka clients now, not when the app is collected

    app = FastAPI(title="runstream", version="0.1.0", lifespan=lifespan, default_response_class=JSONResponse)
    install_error_handlers(app)
    tokens = settings.auth_tokens.get_secret_value() if settings.auth_tokens else None
    app.state.tokens = load_tokens(tokens, settings.auth_tokens_file)
    app.state.sql_guard = SqlGuard(settings.sql_memory_budget_bytes)
    app.state.sql_clients = sql_clients(settings, store)  # opened by the first analyst query, closed at shutdown
    if app.state.tokens is None:  # open local mode: this machine only (allowed hosts, no cross-site writes)
        app.add_middleware(LocalOnly, allowed_hosts=settings.allowed_host_list)
    # Reads of run data also wait (bounded) for the projector to pass this instance's own writes.
    read = [Depends(require("read")), Depends(read_your_writes)]
    admin = [Depends(require("admin"))]
    app.include_router(health.router)
    app.include_router(opmetrics.router)
    app.include_router(experiments.router, dependencies=read)
    app.include_router(runs.router, dependencies=read)
    app.include_router(analytics.router, dependencies=read)
    app.include_router(groups.router, dependencies=read)
    app.include_router(alerts.router, dependencies=[Depends(require_route_scope()), Depends(read_your_writes)])
    app.include_router(artifacts.router, dependencies=read)
    app.include_router(registry_audit.router, dependencies=read)
    app.include_router(run_logged_models.router, dependencies=read)
    app.include_router(sql.router, dependencies=[*admin, Depends(read_your_writes)])
    app.include_router(admin_routes.router, dependencies=admin)
    # MLflow's REST API: the same events through Kafka, the same tokens (reads need read, writes need write).
    app.state.replays = Replays()
    by_route = [Depends(require_route_scope())]
    for prefix in ("/api/2.0", "/ajax-api/2.0"):
        for served in (mlflow_routes.router, artifact_routes.router, ui_routes.router):
            unimplemented.include_served(app, served, prefix=prefix, dependencies=by_route)
    for prefix in ("/api/3.0", "/ajax-api/3.0"):
        unimplemented.include_served(app, server_routes.v3, prefix=prefix)
    install_model_routes(app, by_route)  # MLflow 3 logged models and the model registry
    app.include_router(server_routes.plain)
    app.include_router(ui_routes.plain, dependencies=by_route)
    install_dashboard(app, settings.dashboard_dir)
    return app
