"""Where a cold one-curve request's time goes, stage by stage: HTTP, the ASGI app around the route, the data
version, the run's experiment, each ClickHouse statement (clickhouse-connect around the engine call, the engine
call itself and chdb's own elapsed time), building the points and JSON.

    python benchmarks/curve_profile.py --data DIR [--runs 10000 --steps 50 --repeat 200]

Loads a sweep with benchmarks/queries.py's loader when DIR holds none, serves the API in this process (uvicorn in
a thread, no projector, so the data version is read from ClickHouse unless `--version-in-memory`) and asks one
run's `val_loss` curve with `Cache-Control: no-cache` (`--warm`: without). Prints the median of each stage per
request as JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

Stages = dict[str, float]
_local = threading.local()
_done: list[Stages] = []
_lock = threading.Lock()


def _add(name: str, ms: float) -> None:
    stages: Stages | None = getattr(_local, "stages", None)
    if stages is not None:
        stages[name] = stages.get(name, 0.0) + ms


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _add(name, (time.perf_counter() - began) * 1000)
    return wrapper


def _which(sql: Any) -> str:
    text = sql.decode() if isinstance(sql, bytes) else str(sql or "")
    return "positions statement" if "event_offsets" in text else "curve statement"


def instrument() -> None:
    """Wrap the stages; the ASGI app collects them per request (the route runs on a worker thread, so the
    request's stage dict is handed to it through the thread-local of whichever thread runs a stage)."""
    from clickhouse_connect.driver._backend import chdb_backend
    from clickhouse_connect.driver.client import Client

    from query_api import deps, jsonresponse
    from query_api.queries import curves
    from query_api.routes import runs

    original_query = Client.query
    original_engine = chdb_backend.ChdbBackend._query_locked

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        result = original_query(self, *args, **kwargs)
        _ = result.result_rows
        _add(f"{_which(args[0] if args else kwargs.get('query'))}: clickhouse-connect total",
             (time.perf_counter() - began) * 1000)
        return result

    def engine(self: Any, sql: Any, fmt: str, params: Any = None) -> Any:
        began = time.perf_counter()
        result = original_engine(self, sql, fmt, params)
        _add(f"{_which(sql)}: chdb call", (time.perf_counter() - began) * 1000)
        _add(f"{_which(sql)}: engine elapsed", result.elapsed() * 1000)
        return result

    Client.query = query  # type: ignore[method-assign]
    chdb_backend.ChdbBackend._query_locked = engine  # type: ignore[method-assign]
    runs.experiment_of = _timed("run's experiment (facts)", runs.experiment_of)
    runs.curves.curve = _timed("curves.curve (statements + points)", curves.curve)  # type: ignore[attr-defined]
    runs.dumps = _timed("json encode", jsonresponse.dumps)
    original_respond = deps.Remembered.respond

    def respond(self: Any, route: str, asked: object, read: Callable[..., bytes]) -> bytes:
        _local.stages = stages = _current()
        began = time.perf_counter()
        version = self.version

        def timed_version() -> Any:
            t = time.perf_counter()
            try:
                return version()
            finally:
                _add("data version", (time.perf_counter() - t) * 1000)

        try:
            return original_respond(deps.Remembered(self.answers, timed_version, self.asker, self.fresh), route,
                                    asked, read)
        finally:
            stages["answers.respond"] = (time.perf_counter() - began) * 1000

    deps.Remembered.respond = respond  # type: ignore[method-assign]
    original_answer = runs.answer

    def answer(remembered: Any, route: str, asked: object, read: Callable[..., bytes], **kwargs: Any) -> bytes:
        _local.stages = stages = _current()
        began = time.perf_counter()

        def timed_read(v: Any) -> bytes:
            t = time.perf_counter()
            try:
                return read(v)
            finally:
                _add("read (route body)", (time.perf_counter() - t) * 1000)

        try:
            return original_answer(remembered, route, asked, timed_read, **kwargs)  # type: ignore[no-any-return]
        finally:
            stages["answer (version, memory, read)"] = (time.perf_counter() - began) * 1000

    runs.answer = answer


_requests: dict[int, Stages] = {}
_app: Any = None


def _current() -> Stages:
    return _requests.setdefault(0, {})


def wrap_app(app: Any) -> Any:
    async def timed(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        stages: Stages = {}
        _requests[0] = stages
        began = time.perf_counter()

        async def sent(message: Any) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                stages["asgi app"] = (time.perf_counter() - began) * 1000
            await send(message)

        await app(scope, receive, sent)
        with _lock:
            _done.append(stages)
    return timed


def serve(data_dir: str, port: int) -> None:
    import uvicorn

    from runstream.settings import ServerSettings
    from runstream.stack import build_app

    settings = ServerSettings(data_dir=Path(data_dir), run_projector=False, kafka_bootstrap_servers="127.0.0.1:1",
                              api_port=port)
    global _app
    _app = build_app(settings)
    server = uvicorn.Server(uvicorn.Config(wrap_app(_app), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()


def main() -> None:
    import sweep

    from benchmarks import queries as loader
    from schemas.ids import experiment_id_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--warm", action="store_true", help="ask without Cache-Control: no-cache")
    parser.add_argument("--version-in-memory", action="store_true",
                        help="the data version as a hosted projector gives it (from memory, read once here)")
    args = parser.parse_args()
    if not (Path(args.data) / "clickhouse").exists():
        loader.load(args.data, args.runs, args.steps)
    instrument()
    port = sweep.free_port()
    serve(args.data, port)
    sweep.wait(lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/healthz") or True,
               60, "the API")
    time.sleep(1)
    api = sweep.Http(port)
    if args.version_in_memory:
        state = _app.state.runstream
        fixed = state.data_version()
        state.data_version = lambda: fixed
    experiment_id = experiment_id_for(loader.EXPERIMENT)
    run = api.call("POST", "/api/v1/runs/search", {"experiment_ids": [experiment_id], "max_results": 1,
                                                   "order_by": ["attributes.run_name ASC"]})["runs"][0]["run_id"]
    path, headers = f"/api/v1/runs/{run}/metrics/val_loss", None if args.warm else sweep.NO_CACHE
    for _ in range(5):
        api.call("GET", path, None, headers)
    with _lock:
        _done.clear()
    totals = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        api.call("GET", path, None, headers)
        totals.append((time.perf_counter() - began) * 1000)
    time.sleep(0.2)
    parts: dict[str, list[float]] = defaultdict(list)
    with _lock:
        for stages in _done:
            for name, ms in stages.items():
                parts[name].append(ms)
    print(json.dumps({"question": "one_curve" + ("" if args.warm else "_cold"), "runs": args.runs,
                      "http_total_ms": round(statistics.median(totals), 3),
                      "stages_ms": {k: round(statistics.median(v), 3) for k, v in parts.items()},
                      "load_average": [round(x, 2) for x in os.getloadavg()]}, indent=1), flush=True)


if __name__ == "__main__":
    main()
