"""A pytest plugin that runs MLflow's own REST tests (tests/tracking/test_rest_tracking.py of an MLflow source
tree, never copied into this repository) against runstream instead of an MLflow server.

`make mlflow-rest-tests MLFLOW_SRC=<path>` runs pytest inside that tree with this plugin. Each test's
`_init_server(...)` (MLflow's helper that starts a tracking server) is replaced by a fresh runstream: its own
topic and database on one Kafka broker and one embedded ClickHouse for the session, served over HTTP. MLflow
runs each test against a file and a sqlalchemy store; both would be the same runstream, so the `file` variants
are deselected. At the end the counts per group (logged models, registry, traces, ...) are written as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from consumers.topics import ensure_topics
from runstream.local.kafka import BrokerConfig, LocalKafka
from runstream.settings import ServerSettings
from runstream.stack import build_app

GROUPS = (  # first match wins; the rest is "tracking"
    ("logged models", r"logged_model|log_model|search_logged|finalize"),
    ("registry", r"registered_model|model_version|alias|register"),
    ("traces and assessments", r"trace|span|assessment"),
    ("GenAI evaluation datasets", r"evaluation_dataset|dataset_record|genai"),
    ("GraphQL", r"graphql"),
    ("UI-only routes", r"get_history_bulk|search_datasets|upload_artifact|promptlab"),
)
_state: dict[str, Any] = {"results": {}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runstream-report", default=None, help="write the counts per group as JSON here")


@pytest.fixture(scope="session", autouse=True)
def _runstream_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One broker (RUNSTREAM_TEST_KAFKA_BOOTSTRAP, else a local one) and one chdb path for the session."""
    _state["clickhouse"] = f"chdb://{tmp_path_factory.mktemp('clickhouse')}"
    existing = os.environ.get("RUNSTREAM_TEST_KAFKA_BOOTSTRAP")
    if existing:
        _state["kafka"] = existing
        yield
        return
    broker = LocalKafka(BrokerConfig(home=tmp_path_factory.mktemp("kafka"), port=_free_port(),
                                     controller_port=_free_port(), heap="768m"))
    broker.start(timeout=120)
    _state["kafka"] = broker.cfg.bootstrap
    try:
        yield
    finally:
        broker.stop()


@contextlib.contextmanager
def runstream_server(*_args: Any, **_kwargs: Any) -> Iterator[str]:
    """A fresh runstream on a free port (what MLflow's `_init_server` gives: a URL), stopped afterwards."""
    import uvicorn

    suffix = uuid.uuid4().hex[:8]
    port = _free_port()
    settings = ServerSettings(
        kafka_bootstrap_servers=_state["kafka"], topic=f"conf.{suffix}.events", dlq_topic=f"conf.{suffix}.dlq",
        consumer_group=f"conf-{suffix}", clickhouse_dsn=_state["clickhouse"], clickhouse_database=f"conf_{suffix}",
        artifact_root=Path(tempfile.mkdtemp(prefix="runstream-artifacts-")), api_port=port, topic_partitions=1)
    ensure_topics(AdminClient({"bootstrap.servers": _state["kafka"]}), [settings.store.topic, settings.store.dlq_topic],
                  partitions=1)
    server = uvicorn.Server(uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError("runstream did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept = [i for i in items if "[file" not in i.nodeid and "-file]" not in i.nodeid]
    config.hook.pytest_deselected(items=[i for i in items if i not in kept])
    items[:] = kept


def pytest_runtest_setup(item: pytest.Item) -> None:
    module = getattr(item, "module", None)
    if module is not None and hasattr(module, "_init_server"):
        module._init_server = runstream_server


def group_of(nodeid: str) -> str:
    name = nodeid.split("::")[-1].lower()
    return next((group for group, pattern in GROUPS if re.search(pattern, name)), "tracking")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _state["results"][report.nodeid] = report.outcome


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--runstream-report")
    if not path:
        return
    counts: dict[str, Counter[str]] = {}
    for nodeid, outcome in _state["results"].items():
        counts.setdefault(group_of(nodeid), Counter())[outcome] += 1
    report = {"groups": {g: dict(c) for g, c in sorted(counts.items())},
              "tests": dict(sorted(_state["results"].items()))}
    Path(path).write_text(json.dumps(report, indent=1) + "\n")
