"""Rebuild and verify through the server that hosts the projector (see docs/rebuild.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from consumers.maintenance import Kind
from query_api.errors import InvalidParameter, NotFound
from query_api.jsonresponse import JSONResponse
from query_api.maintenance import MaintenanceRunner

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    only: list[str] | None = Field(None, max_length=50, description="tables to cover (default: every table)")


class JobStatusModel(BaseModel):
    kind: str
    tables: list[str]
    state: str = Field(description="running, done or failed")
    phase: str
    started_at: str
    finished_at: str | None
    events: int
    points: int
    events_per_s: float
    points_per_s: float
    lag: int | None = Field(description="messages between the replay and the live projection")
    paused_s: float | None = Field(description="how long live projection was paused")
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    differences: list[dict[str, Any]] = Field(description="verify: the runs and tables that differ")
    error: str | None


def _runner(request: Request) -> MaintenanceRunner:
    runner: MaintenanceRunner = request.app.state.runstream.maintenance
    return runner


def _start(request: Request, kind: Kind, body: JobRequest | None) -> JSONResponse:
    try:
        job = _runner(request).start(kind, body.only if body else None)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    return JSONResponse(job.refresh().to_dict(), status_code=202)


def _status(request: Request, kind: Kind) -> dict[str, object]:
    job = _runner(request).last(kind)
    if job is None:
        raise NotFound(f"no {kind} has run since this server started")
    return job.refresh().to_dict()


@router.post("/rebuild", status_code=202, response_model=JobStatusModel,
             responses={409: {"description": "a rebuild or verify is already running"}})
def start_rebuild(request: Request, body: JobRequest | None = None) -> JSONResponse:
    """Replay the log into shadow tables and swap them in (EXCHANGE TABLES) while projection is paused."""
    return _start(request, "rebuild", body)


@router.get("/rebuild", response_model=JobStatusModel)
def rebuild_status(request: Request) -> dict[str, object]:
    """Progress of the running rebuild, or the outcome of the last one."""
    return _status(request, "rebuild")


@router.post("/verify", status_code=202, response_model=JobStatusModel,
             responses={409: {"description": "a rebuild or verify is already running"}})
def start_verify(request: Request, body: JobRequest | None = None) -> JSONResponse:
    """Replay the log into scratch tables and compare per-run checksums with the live tables."""
    return _start(request, "verify", body)


@router.get("/verify", response_model=JobStatusModel)
def verify_status(request: Request) -> dict[str, object]:
    """Progress of the running verify, or its outcome: `differences` names each run and table that differs."""
    return _status(request, "verify")
