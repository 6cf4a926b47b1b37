"""A real stack for the dashboard: Kafka and ClickHouse from the integration fixtures, the API over HTTP
(uvicorn in a thread), a sweep logged through the SDK, and headless Chromium (Debian's package) via Playwright.
Screenshots of each view land in tests/browser/artifacts/.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from producer import Tracker, TrackerSettings
from runstream.settings import ServerSettings
from runstream.stack import build_app
from tests.integration.conftest import clickhouse_dsn, free_port, kafka_bootstrap, stack_settings, wait_for

__all__ = ["clickhouse_dsn", "kafka_bootstrap"]  # session fixtures shared with the integration suite

CHROMIUM = os.environ.get("RUNSTREAM_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
SWEEP = "browser-sweep"
AUDIT = "browser-audit"
STEPS = 1500
LRS = [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001, 0.00003]
TOKEN = "dashboard-reader-token"


class ServerThread:
    """An ASGI app served by uvicorn on a free loopback port, in a thread of the test process."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), 120, what="uvicorn to start")
        if not self.server.started:
            pytest.fail("the API server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def call(url: str, method: str = "GET", body: dict[str, Any] | None = None,
         token: str | None = None) -> tuple[int, Any]:
    """(status, JSON) of one API call."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@dataclass
class Dashboard:
    """The served stack and what was logged into it."""

    url: str
    settings: ServerSettings
    experiments: dict[str, str] = field(default_factory=dict)  # name -> id
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run id
    audit_times: dict[str, str] = field(default_factory=dict)

    def api(self, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
        status, data = call(self.url + path, method, body)
        assert status == 200, (path, status, data)
        return data

    def search(self, experiment: str, **body: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api("/api/v1/runs/search", "POST",
                                              {"experiment_ids": [self.experiments[experiment]], **body})["runs"]
        return found

    def tracker(self) -> Tracker:
        return Tracker(settings=TrackerSettings(kafka_bootstrap_servers=self.settings.store.kafka_bootstrap_servers,
                                                topic=self.settings.store.topic))

    def wait_projected(self) -> None:
        wait_for(lambda: call(self.url + "/healthz")[1].get("projector_lag") == 0, 60, what="projector lag 0")


def log_sweep(dash: Dashboard) -> None:
    """8 trials x 2 metrics x 1,500 steps, a child run, and a run whose tag and status come 1.5 s after its start."""
    with dash.tracker() as tracker:
        for i, lr in enumerate(LRS):
            params = {"lr": lr, "optimizer": "adam" if i % 3 else "sgd", "batch_size": 32 if i % 2 else 64, "epochs": 3}
            with tracker.start_run(SWEEP, f"trial-{i}", params=params, tags={"team": "vision"}) as run:
                for step in range(STEPS):
                    loss = (1 + 10 * lr) / (1 + step / 50) + 0.02 * math.sin(step * (i + 1) / 7)
                    run.log_metrics({"loss": loss, "acc": 1 - loss / 2}, step=step)
            dash.runs[run.name] = run.run_id
        with tracker.start_run(SWEEP, "trial-0-fold-1", params={"fold": 1},
                               parent_run_id=dash.runs["trial-0"]) as child:
            child.log_metrics({"loss": 0.5}, step=0)
        dash.runs[child.name] = child.run_id
        run = tracker.start_run(AUDIT, "slow-run", params={"lr": 0.01})
        for step in range(20):
            run.log_metrics({"loss": 1 / (step + 1)}, step=step)
        tracker.flush()
        started = time.monotonic()
        dash.wait_projected()
        upload_artifacts(dash, run.run_id)
        time.sleep(max(0.0, 1.5 - (time.monotonic() - started)))
        run.set_tag("stage", "done")
        run.end()
        dash.runs[run.name] = run.run_id
        tracker.flush()
    dash.wait_projected()
    for e in dash.api("/api/v1/experiments")["experiments"]:
        dash.experiments[e["name"]] = e["experiment_id"]
    wait_for(lambda: len(dash.search(SWEEP)) == 9 and dash.search(AUDIT)[0]["status"] == "FINISHED", 60,
             what="the sweep to be searchable")


def tiny_png(width: int = 48, height: int = 24) -> bytes:
    """A real PNG (a blue-to-red gradient) made without an imaging library."""
    rows = b"".join(b"\x00" + b"".join(bytes((x * 255 // width, 40, 255 - x * 255 // width)) for x in range(width))
                    for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


ARTIFACT_FILES = {"plots/loss.png": (tiny_png(), "image/png"),
                  "notes.txt": (b"trained on the browser sweep\n", "text/plain")}


def upload_artifacts(dash: Dashboard, run_id: str) -> None:
    """Through the MLflow artifact proxy (the way MLflow's client logs them), while the run is active."""
    experiment_id = dash.api(f"/api/v1/runs/{run_id}")["experiment_id"]
    for path, (data, media_type) in ARTIFACT_FILES.items():
        url = f"{dash.url}/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/{path}"
        request = urllib.request.Request(url, data, {"Content-Type": media_type}, method="PUT")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200


@pytest.fixture(scope="session")
def dashboard(kafka_bootstrap: str, clickhouse_dsn: str) -> Iterator[Dashboard]:
    settings = stack_settings(kafka_bootstrap, clickhouse_dsn, "dashboard")
    with ServerThread(build_app(settings)) as server:
        dash = Dashboard(server.url, settings)
        log_sweep(dash)
        yield dash


@pytest.fixture(scope="session")
def auth_dashboard(dashboard: Dashboard) -> Iterator[Dashboard]:
    """The same data behind a second API with tokens on (no projector of its own)."""
    settings = dashboard.settings.updated(
        run_projector=False, auth_tokens=SecretStr(json.dumps({TOKEN: ["read"]})))
    with ServerThread(build_app(settings)) as server:
        yield Dashboard(server.url, settings, dict(dashboard.experiments), dict(dashboard.runs))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make browser does)")
    from playwright.sync_api import sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page 1400 px wide; live refresh off unless a test turns it on (it would redraw under the mouse)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(  # about:blank has no storage: hence the try
        "try { if (!sessionStorage.getItem('keep-live')) localStorage.setItem('runstream.live', '0'); } catch {}")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
