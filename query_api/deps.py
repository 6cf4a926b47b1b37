"""FastAPI dependencies; tests swap them with app.dependency_overrides.

They are `async def` because they only read the app's state: FastAPI runs a plain `def` dependency on its thread
pool, and those hand-offs (one per dependency, several per request) cost more than the work."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from clickhouse_connect.driver.client import Client
from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from query_api.answers import Answers, Version, asker, no_cache, question
from query_api.clientpool import Readers
from query_api.curvecopy import CurveCopy
from query_api.facts import Facts
from query_api.sqlclient import SqlBackend
from query_api.state import AppState
from query_api.statecache.cache import RunStates


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.runstream
    return state


async def get_clickhouse(state: Annotated[AppState, Depends(get_state)]) -> Client:
    return state.clickhouse


StateDep = Annotated[AppState, Depends(get_state)]
ClickHouseDep = Annotated[Client, Depends(get_clickhouse)]


async def get_readers(request: Request) -> Readers | None:
    """The app's side-by-side readers; None where the app runs without its state (route unit tests)."""
    state: AppState | None = getattr(request.app.state, "runstream", None)
    return state.readers if state is not None else None


ReadersDep = Annotated[Readers | None, Depends(get_readers)]


async def get_run_states(request: Request) -> RunStates | None:
    """The app's in-memory run states (the search's state path); None where disabled or without the app's state."""
    state: AppState | None = getattr(request.app.state, "runstream", None)
    return state.run_states if state is not None else None


RunStatesDep = Annotated[RunStates | None, Depends(get_run_states)]


async def get_curves(request: Request) -> CurveCopy | None:
    """The app's in-memory copy of series; None where there is none (no local projector, disabled, unit tests)."""
    state: AppState | None = getattr(request.app.state, "runstream", None)
    return state.curves if state is not None else None


CurvesDep = Annotated[CurveCopy | None, Depends(get_curves)]


async def get_facts(request: Request) -> Facts:
    """The app's remembered facts; a fresh (empty) memory where the app runs without its state."""
    state: AppState | None = getattr(request.app.state, "runstream", None)
    return state.facts if state is not None else Facts()


FactsDep = Annotated[Facts, Depends(get_facts)]


@dataclass(frozen=True)
class Remembered:
    """The app's remembered answers as one request may use them (query_api/answers.py)."""

    answers: Answers
    version: Callable[[], Version | None]
    asker: str  # the digest of the request's Authorization header: answers never cross tokens
    fresh: bool  # Cache-Control: no-cache: read now (the answer is still remembered)
    in_memory: Callable[[], Version | None] | None = None  # the data version where no statement is needed, else None

    def from_memory(self, route: str, asked: object) -> bytes | None:
        """The answer remembered at the current data version when both are at hand without a statement (the
        version in the hosted projector's memory), else None; never for a no-cache question."""
        if self.fresh or self.in_memory is None:
            return None
        return self.answers.peek((self.asker, question(route, asked)), self.in_memory())

    def respond(self, route: str, asked: object, read: Callable[[Version | None], bytes]) -> tuple[bytes, bool]:
        """The encoded answer to `asked` (a JSON-able description of the whole question) on `route`: from memory
        at the current data version (True), else `read(version)`'s (False; an error raised by `read` is never
        remembered)."""
        return self.answers.answer_from((self.asker, question(route, asked)), self.version, read, fresh=self.fresh)


ANSWER_HEADER = "X-Runstream-Answer"  # "remembered" (from memory at the current data version) or "read" (read now)


def answer(remembered: "Remembered | None", route: str, asked: object,
           read: Callable[[Version | None], bytes], *, remember_fresh: bool = True) -> Response:
    """`read`'s JSON answer, remembered while nothing new is projected where the app remembers answers; the
    `X-Runstream-Answer` header says which it was. With `remember_fresh` False, a question asked with
    Cache-Control: no-cache is read without the data version and not remembered: for a read that needs no version
    of its own (a curve), the version is a statement of its own wherever no local projector holds the log
    positions (~3 ms on chdb at 10,000 runs)."""
    if remembered is None or (remembered.fresh and not remember_fresh):
        body, from_memory = read(None), False
    else:
        body, from_memory = remembered.respond(route, asked, read)
    return _answer_response(body, from_memory)


async def answered(remembered: "Remembered | None", route: str, asked: object,
                   read: Callable[[Version | None], bytes], *, remember_fresh: bool = True) -> Response:
    """`answer` for an `async def` route: a remembered answer whose data version is in memory is served on the
    event loop; anything else (a read, or a version that needs a statement) on the thread pool. Each hand-off
    between the loop and a pool thread waits for the GIL, up to the switch interval
    (`RUNSTREAM_GIL_SWITCH_INTERVAL_MS`) while another thread holds it (a run state loading, the projector): at
    Python's 5 ms a remembered answer asked right after an ingest took 10-23 ms through the pool against ~1.3 ms
    on a quiet process (benchmarks/results/hits-20261203g.md)."""
    found = remembered.from_memory(route, asked) if remembered is not None else None
    if found is not None:
        return _answer_response(found, True)
    return await run_in_threadpool(answer, remembered, route, asked, read, remember_fresh=remember_fresh)


def _answer_response(body: bytes, from_memory: bool) -> Response:
    return Response(body, media_type="application/json",
                    headers={ANSWER_HEADER: "remembered" if from_memory else "read"})


async def get_remembered(request: Request) -> Remembered | None:
    """None where the app remembers no answers (disabled, or route unit tests without the app's state)."""
    state: AppState | None = getattr(request.app.state, "runstream", None)
    if state is None or state.answers is None or state.data_version is None:
        return None
    return Remembered(state.answers, state.data_version, asker(request.headers.get("authorization")),
                      no_cache(request.headers.get("cache-control")), state.memory_version)


RememberedDep = Annotated[Remembered | None, Depends(get_remembered)]


async def get_sql_backend(state: StateDep, request: Request) -> SqlBackend:
    """Connects nothing: a request refused by validation never borrows a client."""
    return SqlBackend(state.api, state.store, request.app.state.sql_guard, request.app.state.sql_clients)


SqlBackendDep = Annotated[SqlBackend, Depends(get_sql_backend)]
