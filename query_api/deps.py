"""FastAPI dependencies; tests swap them with app.dependency_overrides."""

from typing import Annotated

from clickhouse_connect.driver.client import Client
from fastapi import Depends, Request

from query_api.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.runstream
    return state


def get_clickhouse(state: Annotated[AppState, Depends(get_state)]) -> Client:
    return state.clickhouse


StateDep = Annotated[AppState, Depends(get_state)]
ClickHouseDep = Annotated[Client, Depends(get_clickhouse)]
