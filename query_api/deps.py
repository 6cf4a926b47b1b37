"""FastAPI dependencies; tests swap them with app.dependency_overrides."""

from typing import Annotated

from clickhouse_connect.driver.client import Client
from fastapi import Depends, Request

from query_api.clientpool import Readers
from query_api.facts import Facts
from query_api.sqlclient import SqlBackend
from query_api.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.runstream
    return state


def get_clickhouse(state: Annotated[AppState, Depends(get_state)]) -> Client:
    return state.clickhouse


StateDep = Annotated[AppState, Depends(get_state)]
ClickHouseDep = Annotated[Client, Depends(get_clickhouse)]


def get_readers(request: Request) -> Readers | None:
    """The app's side-by-side readers; None where the app runs without its state (route unit tests)."""
    state: AppState | None = getattr(request.app.state, "runstream", None)
    return state.readers if state is not None else None


ReadersDep = Annotated[Readers | None, Depends(get_readers)]


def get_facts(request: Request) -> Facts:
    """The app's remembered facts; a fresh (empty) memory where the app runs without its state."""
    state: AppState | None = getattr(request.app.state, "runstream", None)
    return state.facts if state is not None else Facts()


FactsDep = Annotated[Facts, Depends(get_facts)]


def get_sql_backend(state: StateDep, request: Request) -> SqlBackend:
    """Connects nothing: a request refused by validation never opens a client."""
    return SqlBackend(state.api, state.store, request.app.state.sql_guard)


SqlBackendDep = Annotated[SqlBackend, Depends(get_sql_backend)]
