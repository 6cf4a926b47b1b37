"""The SDK installs light: a new virtualenv with only the base install (no extras) logs a run to a running stack,
and the server's packages are not in it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

from tests.integration.conftest import Stack, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("chdb", "clickhouse_connect", "pyarrow", "fastapi", "uvicorn", "lark", "typer")


def _sdk_venv(tmp_path: Path) -> Path:
    """A fresh virtualenv with `pip install <project>` (base dependencies only), from a copy of the source."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in ("schemas", "producer", "consumers", "query_api", "runstream"):
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "static"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(source)], check=True, timeout=600)
    return python


def test_a_training_environment_with_only_the_sdk_logs_a_run(stack: Stack, tmp_path: Path) -> None:
    python = _sdk_venv(tmp_path)
    probe = "import importlib.util, sys; print([m for m in sys.argv[1:] if importlib.util.find_spec(m)])"
    present = subprocess.run([str(python), "-c", probe, *SERVER_ONLY], capture_output=True, text=True, check=True)
    assert present.stdout.strip() == "[]", f"server packages in an SDK-only install: {present.stdout}"

    store = stack.settings.store
    script = textwrap.dedent(f"""
        from producer import Tracker, TrackerSettings
        settings = TrackerSettings(kafka_bootstrap_servers={store.kafka_bootstrap_servers!r}, topic={store.topic!r},
                                   spool_dir={str(tmp_path / "spool")!r})
        with Tracker(settings=settings) as tracker:
            with tracker.start_run("sdk-only", "light", params={{"lr": 0.1}}) as run:
                for step in range(100):
                    run.log_metrics({{"loss": 1.0 / (step + 1)}}, step=step)
            assert tracker.flush(timeout=60) == 0
        print(run.run_id)
    """)
    logged = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)  # not the repo: the installed SDK, not the source tree, is imported
    assert logged.returncode == 0, logged.stderr
    run_id = logged.stdout.strip().splitlines()[-1]

    def projected() -> dict | None:
        response = stack.api.get(f"/api/v1/runs/{run_id}")
        body = response.json() if response.status_code == 200 else None
        return body if body and body["metrics"].get("loss", {}).get("count") == 100 else None

    run = wait_for(projected, 60, what="the SDK-only run in the API")
    assert run["params"] == {"lr": "0.1"} and run["status"] == "FINISHED"

    command = subprocess.run([str(python.parent / "runstream"), "up"], capture_output=True, text=True, timeout=60)
    assert command.returncode != 0 and "runstream[server]" in command.stderr, "the command says what to install"
    assert sys.prefix not in str(python)
