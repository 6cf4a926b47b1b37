"""Dependencies of the MLflow front door: its service, and the replay cache that makes retried creates safe."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from query_api.artifacts import ArtifactStore
from query_api.mlflow.locations import Locations
from query_api.mlflow.reader import MlflowReader
from query_api.mlflow.service import MlflowService
from query_api.mlflow.writer import MlflowWriter

IDEMPOTENCY_HEADER = "Idempotency-Key"


class Replays:
    """Answers a retried create (same route, credentials and `Idempotency-Key` header within `ttl_s`) with the
    first answer instead of creating a second run. A retry is recognised only by the key its sender gave it,
    never by equal content: parallel sweeps send identical bodies for distinct runs. Without the header every
    request creates (as MLflow's own server does). Only successes are remembered; requests with the same key
    run one at a time."""

    def __init__(self, *, ttl_s: float = 600.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._answers: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._running: dict[str, threading.Lock] = {}

    def key(self, request: Request) -> str | None:
        given = request.headers.get(IDEMPOTENCY_HEADER)
        if not given:
            return None
        text = json.dumps([request.url.path, request.headers.get("authorization", ""), given])
        return hashlib.sha256(text.encode()).hexdigest()

    def once(self, request: Request, create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        key = self.key(request)
        if key is None:
            return create()
        with self._lock:
            gate = self._running.setdefault(key, threading.Lock())
        with gate:
            now = time.monotonic()
            with self._lock:
                found = self._answers.get(key)
                if found is not None and now - found[0] < self.ttl_s:
                    return found[1]
            try:
                answer = create()
            finally:
                with self._lock:
                    self._running.pop(key, None)
            with self._lock:
                self._answers[key] = (now, answer)
                while len(self._answers) > self.max_entries:
                    self._answers.popitem(last=False)
            return answer


async def get_mlflow(request: Request) -> MlflowService:
    service: MlflowService = request.app.state.mlflow
    return service


async def get_reader(service: Annotated[MlflowService, Depends(get_mlflow)]) -> MlflowReader:
    return service.reader


async def get_writer(service: Annotated[MlflowService, Depends(get_mlflow)]) -> MlflowWriter:
    return service.writer


async def get_artifacts(service: Annotated[MlflowService, Depends(get_mlflow)]) -> ArtifactStore:
    return service.artifacts


async def get_locations(service: Annotated[MlflowService, Depends(get_mlflow)]) -> Locations:
    return service.locations


async def get_replays(request: Request) -> Replays:
    replays: Replays = request.app.state.replays
    return replays


ReaderDep = Annotated[MlflowReader, Depends(get_reader)]
WriterDep = Annotated[MlflowWriter, Depends(get_writer)]
ArtifactsDep = Annotated[ArtifactStore, Depends(get_artifacts)]
LocationsDep = Annotated[Locations, Depends(get_locations)]
ReplaysDep = Annotated[Replays, Depends(get_replays)]
