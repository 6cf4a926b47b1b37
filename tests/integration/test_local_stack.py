"""`runstream up` end to end: a real broker process, SIGKILL mid-ingest, restart, nothing lost or doubled."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from producer import Tracker, TrackerSettings
from tests.integration.conftest import free_port, http_json, wait_for

pytestmark = pytest.mark.integration

RUNS, STEPS = 20, 1500


class Up:
    """A `runstream up` child process with its own data directory and ports."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.api_port, kafka_port, controller = free_port(), free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{kafka_port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTREAM_")}
        self.env.update({
            "RUNSTREAM_DATA_DIR": str(data_dir), "RUNSTREAM_API_PORT": str(self.api_port),
            "RUNSTREAM_KAFKA_PORT": str(kafka_port), "RUNSTREAM_KAFKA_CONTROLLER_PORT": str(controller),
            "RUNSTREAM_BATCH_MAX_MESSAGES": "20", "RUNSTREAM_KAFKA_HEAP": "512m",
        })
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.data_dir / f"up-{self.starts}.log", "wb")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([sys.executable, "-m", "runstream", "up"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: self.health()[0] == 200, 180, 0.5, what=f"runstream up #{self.starts} healthy")

    def log(self) -> str:
        return (self.data_dir / f"up-{self.starts}.log").read_text(errors="replace")

    def get(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        status, answer = http_json(self.api_port, "POST" if body is not None else "GET", path, body)
        return status, answer or {}

    def health(self) -> tuple[int, dict[str, Any]]:
        return self.get("/healthz")

    def broker_pid(self) -> int:
        return int((self.data_dir / "kafka" / "broker.pid").read_text())

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(60)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    stack = Up(tmp_path)
    yield stack
    if stack.proc is not None and stack.proc.poll() is None:
        stack.stop()
    pid_file = tmp_path / "kafka" / "broker.pid"
    if pid_file.exists():  # never leave a broker behind, whatever happened
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _alert_children(pid: int) -> list[int]:
    """The host's children spawned by multiprocessing (the alert worker; not its resource tracker), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
                found.append(int(entry))
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _sweep(bootstrap: str, experiment: str) -> dict[str, str]:
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=bootstrap, metrics_batch_points=100))
    ids = {}
    for i in range(RUNS):
        with tracker.start_run(experiment, f"r{i}", params={"i": i}) as run:
            for step in range(STEPS):
                run.log_metrics({"loss": 1.0 / (step + 1), "acc": step / STEPS}, step=step)
        ids[run.run_id] = f"r{i}"
    assert tracker.flush(60) == 0
    tracker.close()
    return ids


def test_sigkill_and_restart_loses_and_duplicates_nothing(up: Up) -> None:
    up.start()
    first_broker = up.broker_pid()
    ids = _sweep(up.bootstrap, "crash-test")
    wait_for(lambda: (up.health()[1].get("projector_lag") or 0) > 0, 30, 0.05, what="ingest under way")
    assert up.proc is not None
    alerts = _alert_children(up.proc.pid)
    assert len(alerts) == 1, "the alert worker runs in a child process of the server"
    assert up.stop(signal.SIGKILL) == -signal.SIGKILL
    wait_for(lambda: not _running(alerts[0]), 30, 0.2, what="the killed server's alert worker gone with it")
    lag_at_kill = up.health()  # the API died with it
    assert lag_at_kill[0] == 0

    up.start()
    assert up.broker_pid() == first_broker, "the broker left by the killed process is reused"
    assert "reused" in up.log()
    wait_for(lambda: up.health()[1].get("projector_lag") == 0, 120, 0.5, what="projection caught up")
    assert up.health()[1]["alerts"] == "running", "the alert worker runs beside the API and /healthz says so"

    status, found = up.get("/api/v1/runs/search", {"experiment_names": ["crash-test"], "max_results": 1000})
    assert status == 200
    runs = found["runs"]
    assert {r["run_id"]: r["name"] for r in runs} == ids
    for run in runs:
        assert run["status"] == "FINISHED"
        assert {k: m["count"] for k, m in run["metrics"].items()} == {"loss": STEPS, "acc": STEPS}
        assert run["metrics"]["loss"]["last"] == 1.0 / STEPS
        history = up.get(f"/api/v1/runs/{run['run_id']}/history")[1]["events"]
        assert [e["seq"] for e in history] == list(range(1, len(history) + 1)), "each event exactly once"
    status, experiments = up.get("/api/v1/experiments")
    assert [(e["name"], e["run_count"]) for e in experiments["experiments"]] == [("crash-test", RUNS)]

    assert up.proc is not None
    (worker,) = _alert_children(up.proc.pid)
    os.kill(worker, signal.SIGKILL)  # a dead alert worker: rules are no longer evaluated, and /healthz says so
    wait_for(lambda: up.health()[0] == 503, 30, 0.2, what="/healthz failing without its alert worker")
    assert up.health()[1]["alerts"] == f"stopped: 'the alert worker process exited with code {-signal.SIGKILL}'"

    assert up.stop(signal.SIGTERM) == 0
    wait_for(lambda: not Path(f"/proc/{first_broker}").exists(), 30, what="the broker stopped with a clean shutdown")


def _cli(up: Up, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runstream", *args], env=up.env, capture_output=True, text=True,
                          timeout=300, check=False)


DAMAGE = """
import sys, clickhouse_connect
client = clickhouse_connect.get_client(dsn=f"chdb://{sys.argv[1]}", database="runstream")
client.command("ALTER TABLE params UPDATE value = 'tampered' WHERE run_id = {r:String} SETTINGS mutations_sync = 1",
               parameters={"r": sys.argv[2]})
"""


def test_rebuild_and_verify_on_the_command_line_through_the_server_or_directly(up: Up) -> None:
    up.start()
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=up.bootstrap))
    for i in range(4):
        with tracker.start_run("cli-maintenance", f"r{i}", params={"i": i}) as run:
            run.log_metrics({"loss": 1.0, "acc": 0.5}, step=0)
            run.set_tag("phase", "done")
    tracker.close()
    wait_for(lambda: up.health()[1].get("projector_lag") == 0, 120, 0.5, what="projection caught up")

    verify = _cli(up, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "verify started on" in verify.stdout and "every run equals its replay" in verify.stdout
    rebuild = _cli(up, "rebuild", "--only", "metrics")
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
    assert re.search(r"^metric_chunks\s+8\s+8$", rebuild.stdout, re.M), rebuild.stdout  # the table behind the view
    refused = _cli(up, "rebuild", "--only", "nope")
    assert refused.returncode == 2 and "unknown table(s) 'nope'" in refused.stdout

    assert up.stop(signal.SIGTERM) == 0  # no server: the commands open the data themselves
    damage = subprocess.run([sys.executable, "-c", DAMAGE, str(up.data_dir / "clickhouse"), run.run_id],
                            capture_output=True, text=True, timeout=120, check=False)
    assert damage.returncode == 0, damage.stderr
    verify = _cli(up, "verify")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "working on the data directly" in verify.stdout
    assert f"params  run {run.run_id}: same row count, different contents" in verify.stdout
    rebuild = _cli(up, "rebuild")
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
    assert _cli(up, "verify").returncode == 0


def test_a_server_killed_during_a_rebuild_leaves_tables_that_verify(up: Up) -> None:
    up.start()
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=up.bootstrap))
    for i in range(40):
        with tracker.start_run("killed-rebuild", f"r{i}", params={"i": i}) as run:
            for step in range(5000):
                run.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 5000}, step=step)
    tracker.close(120)
    wait_for(lambda: up.health()[1].get("projector_lag") == 0, 180, 0.5, what="projection caught up")

    cli = subprocess.Popen([sys.executable, "-m", "runstream", "rebuild"], env=up.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: up.get("/api/v1/admin/rebuild")[1].get("events", 0) > 0, 60, 0.05, what="the replay under way")
    assert up.stop(signal.SIGKILL) == -signal.SIGKILL
    output, _ = cli.communicate(timeout=120)
    assert cli.returncode == 2, output
    assert "stopped answering" in output and "runstream verify" in output

    up.start()  # the broker left running is reused; the projector resumes from ClickHouse
    wait_for(lambda: up.health()[1].get("projector_lag") == 0, 180, 0.5, what="projection caught up again")
    verify = _cli(up, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    status, found = up.get("/api/v1/runs/search", {"experiment_names": ["killed-rebuild"], "max_results": 100})
    assert status == 200 and len(found["runs"]) == 40
    assert all(r["metrics"]["loss"]["count"] == 5000 for r in found["runs"])
    rebuild = _cli(up, "rebuild")
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
