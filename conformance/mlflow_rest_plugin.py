"""A pytest plugin that runs MLflow's own REST tests (tests/tracking/test_rest_tracking.py of an MLflow source
tree, never copied into this repository) against runstream, or against MLflow itself for the baseline.

`make mlflow-rest-tests MLFLOW_SRC=<path>` runs pytest inside that tree with this plugin. With
`--against=runstream` (the default) the server a test asks for (`ServerThread(app, port)` over MLflow's
FastAPI app, or the older `_init_server(...)`) is replaced by a fresh runstream: its own topic and database on one
Kafka broker and one embedded ClickHouse for the session, served over HTTP, with the artifact root the test gave
MLflow. With `--against=mlflow` nothing is replaced: the tests run against the installed MLflow's own server
(sqlite), which gives the baseline. MLflow runs each test against a file and a sqlalchemy store; only the
sqlalchemy variants count (the file variants are deselected). At the end the outcome of every test and the
counts per group are written as JSON.
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
from urllib.parse import urlparse

import pytest

GROUPS = (  # first match wins; the rest is "tracking"
    ("server-independent", r"validation_regex|calls_optimized_impl|secrets_config_with_default"),
    ("logged models", r"logged_model|log_model|search_logged|finalize|metric_model|inputs_model|log_outputs"),
    ("registry", r"registered_model|model_version|alias|register"),
    ("traces and assessments", r"trace|span|assessment"),
    ("GenAI evaluation datasets", r"evaluation_dataset|dataset_record|genai|_rest_tracking$"),
    ("GraphQL", r"graphql"),
    ("UI-only routes", r"history_bulk|search_dataset_handler|upload_artifact|promptlab|gateway_proxy"),
    ("AI gateway and scorers", r"scorer|secret|endpoint|model_definition|provider|list_models"),
)
_state: dict[str, Any] = {"results": {}, "reasons": {}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runstream-report", default=None, help="write the outcome per test and per group as JSON")
    parser.addoption("--against", default="runstream", choices=("runstream", "mlflow"),
                     help="the server the tests talk to: a fresh runstream per test, or MLflow's own")


def pytest_configure(config: pytest.Config) -> None:
    _state["against"] = config.getoption("--against")
    # MLflow's newest test module imports a flag that 3.17.2 does not have yet; it only gates three AI gateway
    # tests (skipped when False, as when litellm is absent), so the module still imports against 3.17.2.
    import mlflow.utils.providers as providers

    if not hasattr(providers, "_PROVIDER_BACKEND_AVAILABLE"):
        providers._PROVIDER_BACKEND_AVAILABLE = False  # type: ignore[attr-defined]


@pytest.fixture(scope="session", autouse=True)
def _runstream_services(request: pytest.FixtureRequest,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One broker (RUNSTREAM_TEST_KAFKA_BOOTSTRAP, else a local one) and one chdb path for the session."""
    if _state["against"] != "runstream":
        yield
        return
    from runstream.local.kafka import BrokerConfig, LocalKafka

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


@pytest.fixture(autouse=True)
def _fresh_client_state() -> Iterator[None]:
    """What MLflow's own conftest does between tests: no active run, experiment or tracking URI carried over."""
    import mlflow
    from mlflow.tracking import fluent

    yield
    while mlflow.active_run():
        mlflow.end_run()
    fluent._active_experiment_id = None
    mlflow.set_tracking_uri(None)
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI"):
        os.environ.pop(name, None)  # set_experiment exports the experiment; the next server does not know it


def _local_path(uri: str | None) -> Path:
    if uri and uri.startswith("file:"):
        return Path(urlparse(uri).path)
    return Path(uri) if uri else Path(tempfile.mkdtemp(prefix="runstream-artifacts-"))


@contextlib.contextmanager
def runstream_server(artifact_root: str | None = None) -> Iterator[str]:
    """A fresh runstream on a free port (what MLflow's server helpers give: a URL), stopped afterwards."""
    import uvicorn
    from confluent_kafka.admin import AdminClient

    from consumers.topics import ensure_topics
    from runstream.settings import ServerSettings
    from runstream.stack import build_app

    suffix = uuid.uuid4().hex[:8]
    port = _free_port()
    settings = ServerSettings(
        kafka_bootstrap_servers=_state["kafka"], topic=f"conf.{suffix}.events", dlq_topic=f"conf.{suffix}.dlq",
        consumer_group=f"conf-{suffix}", clickhouse_dsn=_state["clickhouse"], clickhouse_database=f"conf_{suffix}",
        artifact_root=_local_path(artifact_root), api_port=port, topic_partitions=1,
        # MLflow's test server serves no artifacts: its runs' files go to the file: root the test gives, written by
        # the client itself; runstream is configured the same way (mlflow_default_artifact_root)
        mlflow_default_artifact_root=artifact_root if artifact_root and artifact_root.startswith("file:") else None)
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
    if _state["against"] != "runstream" or module is None:
        return
    roots: dict[str, str | None] = {"root": None}

    def remember_root(*_args: Any, default_artifact_root: str | None = None, **_kwargs: Any) -> None:
        roots["root"] = default_artifact_root  # the artifact root the test gives its server

    def server_thread(*_args: Any, **_kwargs: Any) -> contextlib.AbstractContextManager[str]:
        return runstream_server(roots["root"])

    def init_server(*_args: Any, root_artifact_uri: str | None = None, **_kwargs: Any
                    ) -> contextlib.AbstractContextManager[str]:
        return runstream_server(root_artifact_uri)

    for name, replacement in (("initialize_backend_stores", remember_root), ("ServerThread", server_thread),
                              ("_init_server", init_server)):
        if hasattr(module, name):
            setattr(module, name, replacement)


def group_of(nodeid: str) -> str:
    name = nodeid.split("::")[-1].split("[")[0].lower()
    return next((group for group, pattern in GROUPS if re.search(pattern, name)), "tracking")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "xfailed" if hasattr(report, "wasxfail") and report.skipped else report.outcome
        _state["results"][report.nodeid] = outcome
        if report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            _state["reasons"][report.nodeid] = (crash.message if crash else str(report.longrepr))[:300]


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--runstream-report")
    if not path:
        return
    counts: dict[str, Counter[str]] = {}
    for nodeid, outcome in _state["results"].items():
        counts.setdefault(group_of(nodeid), Counter())[outcome] += 1
    report = {"against": _state["against"], "groups": {g: dict(c) for g, c in sorted(counts.items())},
              "tests": dict(sorted(_state["results"].items())),
              "failure_reasons": dict(sorted(_state["reasons"].items()))}
    Path(path).write_text(json.dumps(report, indent=1) + "\n")
