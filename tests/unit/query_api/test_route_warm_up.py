"""The route state FastAPI builds on first use is built at start-up (`warm_routes`), not by the first request
that passes a router (in a sweep: the first analyst SQL query, in the middle of the ingest).

The app is built without running its lifespan; requests go to the router alone, so nothing but route matching
(and the endpoints' refusal of missing state) runs."""

from __future__ import annotations

import asyncio
from typing import Any

import fastapi.routing
import pytest

from query_api.app import through_router, warm_routes
from runstream.settings import ServerSettings
from runstream.stack import build_app


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every route state FastAPI builds from now on, by path."""
    built: list[str] = []
    populate = fastapi.routing._populate_api_route_state

    def counted(route: Any, path: str, *args: Any, **kwargs: Any) -> Any:
        built.append(path)
        return populate(route, path, *args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "_populate_api_route_state", counted)
    return built


def ask(app: Any, method: str, path: str) -> None:
    """One request through the router alone (its answer is not looked at: only what matching builds)."""
    asyncio.run(through_router(app, method, path, b"{}"))


def test_first_requests_build_route_state_without_the_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    built = counting(monkeypatch)
    app = build_app(ServerSettings())
    ask(app, "POST", "/api/v1/sql")
    assert "/api/v1/sql" in built  # the lazy build this module is about: if FastAPI drops it, so can the warm-up


def test_after_the_warm_up_no_request_builds_route_state(monkeypatch: pytest.MonkeyPatch) -> None:
    built = counting(monkeypatch)
    app = build_app(ServerSettings())
    asyncio.run(warm_routes(app))
    warmed = len(built)
    assert warmed > 100 and "/api/v1/sql" in built and "/api/v1/runs/{run_id}/metrics/{key:path}" in built
    for method, path in (("POST", "/api/v1/sql"), ("GET", "/api/v1/runs/" + "0" * 32 + "/metrics/marker"),
                         ("POST", "/api/2.0/mlflow/runs/log-batch"), ("GET", "/healthz"), ("GET", "/nothing")):
        ask(app, method, path)
    assert built[warmed:] == []
