"""Sweep benchmark: runstream against an MLflow tracking server on the same machine, in one run.

    python benchmarks/sweep.py [--runs 200 --metrics 5 --steps 1000 --producers 2] [--scale] [--backlog 10000000]

Both systems get the same seeded sweep (R runs x 10 params x M metrics x S steps) from the same number of
producer processes, then the same questions over HTTP (medians of repeated calls):

- runstream: `runstream up` (its own broker, ClickHouse and ports, started here), the SDK in each producer;
  ingest is timed from the first log_metric to the last point visible through the API; freshness is sampled
  while ingesting by a probe that logs a point (SDK batch size 1) and polls the API until it is visible;
- MLflow: `mlflow server` with a sqlite backend started here, `MlflowClient.log_batch` (1,000 metrics per
  call, params in the first call) in each producer; its writes are synchronous, so ingest ends with the last
  call.

CPU seconds and peak RSS of every process (broker, runstream server, producers, MLflow server) are sampled
with psutil. Results: a markdown table under benchmarks/results/ (printed too) and benchmarks/results/latest.json.
`--scale` repeats the runstream side at 10x the runs; `--backlog N` publishes N points while the server's
projector is off, then starts it and records the server's peak RSS while it works through the backlog. A
process's RSS and CPU include its children (the server's alert worker process), except the broker's own.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
EXPERIMENT = "bench-sweep"
PARAM_NAMES = ["lr", "optimizer", "batch_size", "dropout", "layers", "width", "warmup", "weight_decay", "seed",
               "scheduler"]
MLFLOW_BATCH = 1000


# -- the sweep (seeded, identical for both systems) -----------------------------------------------------------
def metric_names(metrics: int) -> list[str]:
    base = ["val_loss", "train_loss", "accuracy", "lr_actual", "grad_norm"]
    return base[:metrics] + [f"metric_{i}" for i in range(len(base), metrics)]


def run_params(seed: int, run: int) -> dict[str, str]:
    rng = random.Random(seed * 1_000_003 + run)
    return {
        "lr": f"{10 ** rng.uniform(-5, -1):.6g}", "optimizer": rng.choice(["adam", "sgd", "adamw"]),
        "batch_size": str(rng.choice([16, 32, 64, 128, 256])), "dropout": f"{rng.uniform(0, 0.5):.3f}",
        "layers": str(rng.randint(2, 12)), "width": str(rng.choice([128, 256, 512, 1024])),
        "warmup": str(rng.randint(0, 1000)), "weight_decay": f"{10 ** rng.uniform(-6, -2):.6g}",
        "seed": str(run), "scheduler": rng.choice(["cosine", "linear", "constant"]),
    }


def metric_value(seed: int, run: int, key_index: int, step: int) -> float:
    base = 0.5 + ((seed * 7919 + run * 104_729) % 1000) / 1000
    return base / (step + 1) + key_index + ((run * 31 + step * 17 + key_index) % 97) / 10_000


def metric_values(seed: int, run: int, key_index: int, steps: np.ndarray) -> np.ndarray:
    """metric_value at every step, computed by numpy in the same order of float operations: bit-identical
    (tests/unit/benchmarks), without a Python call per point in the producers' timed loop."""
    base = 0.5 + ((seed * 7919 + run * 104_729) % 1000) / 1000
    out: np.ndarray = base / (steps + 1) + key_index + ((run * 31 + steps * 17 + key_index) % 97) / 10_000
    return out


# -- processes ----------------------------------------------------------------------------------------------------
_GIVEN_PORTS: set[int] = set()


def free_port() -> int:
    """A port free now and never handed out before by this process (the OS may offer a just-closed port again,
    and a broker's two listeners were once given the same one)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


class Sampler:
    """Peak RSS and CPU seconds of named processes and their children, sampled in a thread.

    A watched process's children are found again at every sample (the server's alert worker is a child process
    started after it), except those watched under a name of their own (the Kafka broker)."""

    def __init__(self) -> None:
        self.procs: dict[str, list[psutil.Process]] = {}
        self.peak_rss: dict[str, float] = {}
        self.peak_rss_of: dict[int, float] = {}  # per process, MB
        self.pids: dict[str, set[int]] = {}  # every process seen under a name
        self.cpu: dict[str, dict[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def watch(self, name: str, pid: int) -> None:
        self.procs.setdefault(name, []).append(psutil.Process(pid))

    def forget(self, name: str) -> None:
        self.procs.pop(name, None)

    def _tree(self, procs: list[psutil.Process], others: set[int]) -> dict[int, psutil.Process]:
        found = {proc.pid: proc for proc in procs}
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                found.update({c.pid: c for c in proc.children(recursive=True) if c.pid not in others})
        return found

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            watched = dict(self.procs)
            for name, procs in watched.items():
                others = {p.pid for other, ps in watched.items() if other != name for p in ps}
                rss = 0.0
                tree = self._tree(procs, others)
                self.pids.setdefault(name, set()).update(tree)
                for proc in tree.values():
                    try:
                        with proc.oneshot():
                            own = proc.memory_info().rss
                            rss += own
                            self.peak_rss_of[proc.pid] = max(self.peak_rss_of.get(proc.pid, 0.0), own / 2**20)
                            times = proc.cpu_times()
                            self.cpu.setdefault(name, {})[proc.pid] = times.user + times.system
                    except psutil.Error:
                        continue
                self.peak_rss[name] = max(self.peak_rss.get(name, 0.0), rss / 2**20)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> dict[str, dict[str, float]]:
        return {name: {"cpu_s": round(sum(self.cpu.get(name, {}).values()), 1),
                       "peak_rss_mb": round(self.peak_rss.get(name, 0.0), 1)} for name in self.peak_rss}


class Http:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.last_answer: str | None = None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> Any:
        payload = json.dumps(body) if body is not None else None
        sent = {"Content-Type": "application/json", **(headers or {})}
        try:
            self.conn.request(method, path, payload, sent)
            response = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):  # a server that closed the connection: once more
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.conn.request(method, path, payload, sent)
            response = self.conn.getresponse()
        data = response.read()
        self.last_answer = response.getheader("X-Runstream-Answer")  # runstream's: "remembered" or "read"
        if response.status != 200:
            raise RuntimeError(f"{method} {path} -> {response.status}: {data[:300]!r}")
        try:
            return json.loads(data)
        except ValueError:  # MLflow's /health answers plain text
            return data.decode("utf-8", "replace")

    def median_ms(self, repeat: int, method: str, path: str, body: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None) -> float:
        return median_ms_of(repeat, lambda: self.call(method, path, body, headers))


def median_ms_of(repeat: int, call: Callable[[], Any]) -> float:
    """The median time of `repeat` calls, after one to warm up."""
    call()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def wait(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: object = None  # the last answer or error, named when the wait times out
    while True:
        try:
            value = last = predicate()
        except (OSError, RuntimeError, http.client.HTTPException) as exc:
            value, last = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r:.500})")
        time.sleep(interval)


@dataclass
class Runstream:
    """`runstream up` in a child process, with its own data directory and ports."""

    home: Path
    projector: bool = True
    settings: dict[str, str] = field(default_factory=dict)
    """RUNSTREAM_* settings for the server (`--server-env`); every other RUNSTREAM_* variable is left out."""
    api_port: int = field(default_factory=free_port)
    kafka_port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNSTREAM_")}
        env.update({"RUNSTREAM_DATA_DIR": str(self.home), "RUNSTREAM_API_PORT": str(self.api_port),
                    "RUNSTREAM_KAFKA_PORT": str(self.kafka_port),
                    "RUNSTREAM_KAFKA_CONTROLLER_PORT": str(self.controller_port),
                    "RUNSTREAM_RUN_PROJECTOR": "true" if self.projector else "false", **self.settings})
        log = open(self.home / "up.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen([sys.executable, "-m", "runstream", "up"], env=env, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=ROOT)
        log.close()
        api = Http(self.api_port)
        try:
            wait(lambda: self.proc is not None and self.proc.poll() is None and api.call("GET", "/healthz"), 240,
                 "runstream up to be healthy", 0.5)
        except RuntimeError:
            print((self.home / "up.log").read_text()[-3000:], file=sys.stderr)
            raise

    def broker_pid(self) -> int:
        return int((self.home / "kafka" / "broker.pid").read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        pid_file = self.home / "kafka" / "broker.pid"
        if pid_file.exists():  # never leave a broker behind
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


# -- producers (separate processes) -------------------------------------------------------------------------
def runstream_producer(bootstrap: str, runs: list[int], metrics: int, steps: int, seed: int, out: Any,
                       start: Any = None) -> None:
    """Per-point logging (`--per-point`): log_metrics at every step, as a training loop does."""
    from producer import Tracker, TrackerSettings

    keys = metric_names(metrics)
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=bootstrap,
                                               spool_dir=Path(tempfile.mkdtemp(prefix="bench-spool-"))))
    together(start)
    first, cpu_first = time.time(), time.process_time()
    for run in runs:
        with tracker.start_run(EXPERIMENT, f"trial-{run}", params=run_params(seed, run)) as active:
            for step in range(steps):
                active.log_metrics({k: metric_value(seed, run, i, step) for i, k in enumerate(keys)}, step=step)
    logged = time.time()
    remaining = tracker.close(600)
    out.put({"first": first, "logged": logged, "last": time.time(), "undelivered": remaining,
             "acked": tracker.acked_offsets,
             "cpu_s": time.process_time() - cpu_first})


def runstream_series_producer(bootstrap: str, runs: list[int], metrics: int, steps: int, seed: int,
                              out: Any, start: Any = None) -> None:
    """Batched logging (the default, as MLflow's producers send log_batch of 1,000): each key's series in one call,
    its values made as a numpy array (as a job importing a history holds them), not one Python call per point."""
    from producer import Tracker, TrackerSettings

    keys = metric_names(metrics)
    step_array = np.arange(steps, dtype=np.int64)
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=bootstrap,
                                               spool_dir=Path(tempfile.mkdtemp(prefix="bench-spool-"))))
    together(start)
    first, cpu_first = time.time(), time.process_time()
    for run in runs:
        with tracker.start_run(EXPERIMENT, f"trial-{run}", params=run_params(seed, run)) as active:
            for i, k in enumerate(keys):
                active.log_metric_series(k, step_array, metric_values(seed, run, i, step_array))
    logged = time.time()
    remaining = tracker.close(600)
    out.put({"first": first, "logged": logged, "last": time.time(), "undelivered": remaining,
             "acked": tracker.acked_offsets,
             "cpu_s": time.process_time() - cpu_first})


def per_point_rate(bootstrap: str, points: int = 200_000, metrics: int = 5) -> float:
    """What a training loop pays: points/s of per-point `log_metrics` calls in one process (until flushed)."""
    from producer import Tracker, TrackerSettings

    keys = metric_names(metrics)
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=bootstrap,
                                               spool_dir=Path(tempfile.mkdtemp(prefix="bench-spool-"))))
    with tracker.start_run("bench-per-point", "per-point") as run:
        began = time.perf_counter()
        for step in range(points // metrics):
            run.log_metrics({k: step * 0.5 + i for i, k in enumerate(keys)}, step=step)
        tracker.flush(60)
        seconds = time.perf_counter() - began
    tracker.close(60)
    return points / seconds


def mlflow_producer(uri: str, experiment_id: str, runs: list[int], metrics: int, steps: int, seed: int,
                    out: Any, start: Any = None) -> None:
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the client prints a link per run
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    keys = metric_names(metrics)
    together(start)
    first = time.time()
    for run in runs:
        created = client.create_run(experiment_id, run_name=f"trial-{run}")
        run_id = created.info.run_id
        params = [Param(k, v) for k, v in run_params(seed, run).items()]
        batch: list[Metric] = []
        stamp = int(time.time() * 1000)
        for step in range(steps):
            for i, k in enumerate(keys):
                batch.append(Metric(k, metric_value(seed, run, i, step), stamp, step))
                if len(batch) == MLFLOW_BATCH:
                    client.log_batch(run_id, metrics=batch, params=params)
                    batch, params = [], []
        if batch or params:
            client.log_batch(run_id, metrics=batch, params=params)
        client.set_terminated(run_id)
    out.put({"first": first, "last": time.time(), "undelivered": 0})


def together(start: Any) -> None:
    """Wait until every producer process is ready to log (imports done, client made), so that the clock starts with
    all of them logging. Spawned one after another, the second's first log call came 0.04-0.44 s after the first's
    (usually ~0.3 s: its interpreter was still importing, on a core shared with the first's logging), and
    "first log call to last point visible" counted that stagger as ingest time."""
    if start is not None:
        start.wait(600)


def start_producers(target: Callable[..., None], head: tuple[Any, ...], runs: int, args: argparse.Namespace,
                    sampler: Sampler, name: str) -> tuple[list[Any], Any]:
    """`args.producers` processes, each logging every n-th run: target(*head, runs, metrics, steps, seed, out,
    start=barrier); each waits on the barrier (`together`) before its first log call, and so does this process,
    which holds the barrier until every child has passed it (a barrier collected here is gone for them)."""
    context = mp.get_context("spawn")
    out = context.Queue()
    start = context.Barrier(args.producers + 1)
    procs = [context.Process(target=target, daemon=True,
                             args=(*head, list(range(i, runs, args.producers)), args.metrics, args.steps, args.seed,
                                   out), kwargs={"start": start})
             for i in range(args.producers)]
    for proc in procs:
        proc.start()
        sampler.watch(name, proc.pid)  # type: ignore[arg-type]
    together(start)
    return procs, out


# -- the runstream side ---------------------------------------------------------------------------------------
def visible_points(api: Http, experiment_id: str, headers: dict[str, str] | None = None) -> int:
    """Points the API can see, counted by ClickHouse (the id is our own uuid5, checked, not user text)."""
    if not all(c in "0123456789abcdef-" for c in experiment_id):
        raise ValueError(f"unexpected experiment id {experiment_id!r}")
    answer = api.call("POST", "/api/v1/sql", {
        "query": f"SELECT sum(point_count) FROM run_metric_summary WHERE experiment_id = '{experiment_id}'"}, headers)
    value = answer["rows"][0][0]
    return int(value or 0)


def next_poll_s(remaining: int, rate: float, *, floor: float = 0.1, ceiling: float = 0.5, share: float = 0.25) -> float:
    """Seconds until asking again whether every point is visible: a quarter of the time the remaining points take at
    the rate last seen, within [floor, ceiling]. Each ask is an analyst-SQL call costing the server CPU (~30 ms when
    each call opened a client of its own, ~11 ms with reused clients), so asking every 0.1 s through a whole drain
    took ~0.2 of a core from the server it measures; near the end the asks still come `floor` apart."""
    if remaining <= 0 or rate <= 0:
        return floor
    return min(ceiling, max(floor, share * remaining / rate))


def acknowledged(reports: list[dict[str, Any]]) -> dict[int, int]:
    """The highest offset the broker acknowledged per partition over every producer's report."""
    acked: dict[int, int] = {}
    for report in reports:
        for partition, offset in report.get("acked", {}).items():
            acked[partition] = max(offset, acked.get(partition, -1))
    return acked


def wait_visible(api: Http, experiment_id: str, expected: int, since: float, timeout: float = 3600,
                 after: dict[int, int] | None = None) -> tuple[float, int]:
    """Wait until the API counts `expected` points of the experiment; return the time.time() it saw them and how
    many times it asked. With `after` (the producers' acknowledged offsets) each ask is a read that waits in the
    server until the projector has passed them (`X-Runstream-After`, bounded: a 503 asks again), so the answer
    comes as the last point lands instead of up to a poll interval later, with one ask instead of several."""
    from schemas.positions import HEADER, format_positions

    headers = {HEADER: format_positions(after)} if after else None
    deadline = time.monotonic() + timeout
    last_at, last_seen, asks = since, 0, 0
    while True:
        try:
            seen, now = visible_points(api, experiment_id, headers), time.time()
        except RuntimeError as exc:
            if "-> 503" not in str(exc) or time.monotonic() > deadline:
                raise
            asks += 1
            continue  # the projector has not passed the offsets within the server's bound: ask again
        asks += 1
        if seen >= expected:
            return now, asks
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for every point visible ({seen:,} of {expected:,})")
        rate = (seen - last_seen) / max(now - last_at, 1e-3) if seen > last_seen else seen / max(now - since, 1e-3)
        last_at, last_seen = now, seen
        time.sleep(next_poll_s(expected - seen, rate))


class FreshnessProbe:
    """Logs a marker point every `interval` s to a probe run (SDK batch size 1); a poller reads the marker's
    curve through the API as each marker is acknowledged, and times each point from log_metric to visible."""

    def __init__(self, bootstrap: str, api_port: int, interval: float = 0.2) -> None:
        from producer import Tracker, TrackerSettings

        self.tracker = Tracker(settings=TrackerSettings(
            kafka_bootstrap_servers=bootstrap, metrics_batch_points=1, metrics_flush_interval_s=0.01,
            spool_dir=Path(tempfile.mkdtemp(prefix="bench-probe-"))))
        self.run = self.tracker.start_run("bench-freshness", "probe")
        self.api = Http(api_port)
        self.interval = interval
        self.logged: dict[int, float] = {}
        self.delays: list[float] = []
        self.idle_delays: list[float] = []  # points logged before `loaded_from` (the floor: nothing else to do)
        self.samples: list[tuple[int, float, float]] = []  # (step, logged, seen) epoch seconds: `--probe-trace`
        self.loaded_from = math.inf
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._guard, args=(f,), daemon=True) for f in (self._log, self._poll)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _guard(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # reported with the results, not lost with the thread
            self.error = exc

    def _log(self) -> None:
        step = 0
        while not self._stop.is_set():
            self.logged[step] = time.time()
            self.run.log_metric("marker", float(step), step=step)
            step += 1
            self._stop.wait(self.interval)

    def _poll(self) -> None:
        """Once the broker has acknowledged a new marker, one read that waits in the server until the projector has
        passed it (`X-Runstream-After`): the time it is seen is the answer's, not the next poll's (the poll every
        50 ms this replaced came up to 50 ms late and cost the server 20 requests a second)."""
        path = f"/api/v1/runs/{self.run.run_id}/metrics/marker"
        seen: set[int] = set()
        asked: dict[str, str] = {}
        while not self._stop.is_set():
            after = self.tracker.read_after()
            if after == asked:  # nothing new acknowledged: look again in a moment (no request)
                time.sleep(0.002)
                continue
            try:
                points = self.api.call("GET", path, headers=after)["points"]
                asked = after
            except RuntimeError:  # 404 until the probe run itself is projected; 503 past the server's bound
                points = []
                time.sleep(0.05)
            now = time.time()
            for point in points:
                step = int(point["step"])
                if step not in seen and step in self.logged:
                    seen.add(step)
                    at = self.logged[step]
                    self.samples.append((step, at, now))
                    (self.delays if at >= self.loaded_from else self.idle_delays).append(now - at)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.run.end()
        self.tracker.close(30)
        if self.error is not None:
            raise RuntimeError(f"the freshness probe failed: {self.error!r}") from self.error


TIMING = {"runstream_projector_waited_seconds": "log -> consumed",
          "runstream_projector_write_seconds": "consumed -> written",
          "runstream_projector_visible_age_seconds": "log -> written"}
Histograms = dict[str, tuple[list[tuple[float, float]], float, float]]


def scrape_timing(api: Http) -> Histograms:
    """The projector's batch timing histograms from the server's /metrics: (cumulative buckets, count, sum)."""
    from prometheus_client.parser import text_string_to_metric_families

    api.conn.request("GET", "/metrics")
    text = api.conn.getresponse().read().decode()
    out: Histograms = {}
    for family in text_string_to_metric_families(text):
        if family.name == "runstream_projector_insert_seconds":  # per table: (no buckets, statements, seconds)
            for sample in family.samples:
                kind, span = sample.name.rpartition("_")[2], f"insert {sample.labels['table']}"
                if kind in ("count", "sum"):
                    _, count_, total_ = out.get(span, ([], 0.0, 0.0))
                    out[span] = ([], sample.value if kind == "count" else count_,
                                 sample.value if kind == "sum" else total_)
        if family.name in TIMING:
            buckets = [(float(s.labels["le"]), s.value) for s in family.samples if s.name.endswith("_bucket")]
            count = next((s.value for s in family.samples if s.name.endswith("_count")), 0.0)
            total = next((s.value for s in family.samples if s.name.endswith("_sum")), 0.0)
            out[TIMING[family.name]] = (buckets, count, total)
    return out


def timing_between(before: Histograms, after: Histograms) -> dict[str, dict[str, float]]:
    """Per consumed batch (its oldest message) between two scrapes: count, mean, and the bucket bounds holding
    the median and the 99th percentile."""
    out = {}
    for span, (buckets, count, total) in after.items():
        old_buckets, old_count, old_total = before.get(span, ([], 0.0, 0.0))
        old = dict(old_buckets)
        diff = [(le, n - old.get(le, 0.0)) for le, n in buckets]
        n = count - old_count

        def bound(q: float, diff: list[tuple[float, float]] = diff, n: float = n) -> float:
            return next((le for le, c in diff if c >= q * n), math.inf)

        out[span] = {"batches": n, "mean_s": round((total - old_total) / n, 3) if n else math.nan,
                     "p50_le_s": bound(0.5) if buckets else math.nan, "p99_le_s": bound(0.99) if buckets else math.nan,
                     "total_s": round(total - old_total, 2)}
    return out


def cpu_seconds(pid: int, *, without: tuple[int, ...] = ()) -> float:
    """User + system CPU seconds of a process and its live children (the server's alert worker is one; the
    broker `runstream up` starts is one too, hence `without`)."""
    try:
        proc = psutil.Process(pid)
        total = 0.0
        for p in (proc, *proc.children(recursive=True)):
            if p.pid in without:
                continue
            with contextlib.suppress(psutil.Error):
                times = p.cpu_times()
                total += times.user + times.system
        return total
    except psutil.Error:
        return math.nan


def ingest_stages(reports: list[dict[str, Any]], visible_at: float) -> dict[str, float]:
    """Seconds from the producers' first log call to: their last log call returned (`logged_s`: SDK encoding and
    the spool), the last event acknowledged by the broker (`published_s`), the last point visible (`visible_s`); and
    how far apart the producers' first log calls were (`start_skew_s`: `together` keeps it to milliseconds)."""
    first = min(r["first"] for r in reports)
    return {"start_skew_s": round(max(r["first"] for r in reports) - first, 3),
            "logged_s": round(max(r["logged"] for r in reports) - first, 3),
            "published_s": round(max(r["last"] for r in reports) - first, 3),
            "visible_s": round(visible_at - first, 3)}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(q * len(ordered))) - 1)]


def runstream_side(args: argparse.Namespace, runs: int, sampler: Sampler, home: Path) -> dict[str, Any]:
    from schemas.ids import experiment_id_for

    stack = Runstream(home, settings=server_settings(args))
    stack.start()
    try:
        assert stack.proc is not None
        sampler.watch("runstream server", stack.proc.pid)
        sampler.watch("kafka broker", stack.broker_pid())
        api = Http(stack.api_port)
        experiment_id = experiment_id_for(EXPERIMENT)
        expected = runs * args.metrics * args.steps
        probe = FreshnessProbe(stack.bootstrap, stack.api_port, args.probe_interval_s)
        probe.start()
        time.sleep(args.idle_probe_s)  # the probe alone: its floor (SDK, Kafka, an idle projector, the poll)
        probe.loaded_from = time.time()
        timing_before = scrape_timing(api)
        broker = stack.broker_pid()

        def cpu() -> dict[str, float]:
            assert stack.proc is not None
            return {"server": cpu_seconds(stack.proc.pid, without=(broker,)), "broker": cpu_seconds(broker)}

        cpu_before = cpu()
        producer = runstream_producer if args.per_point else runstream_series_producer
        producers, out = start_producers(producer, (stack.bootstrap,), runs, args, sampler, "runstream producers")
        reports = [out.get(timeout=3600) for _ in range(args.producers)]
        cpu_published = cpu()
        visible_at, asks = wait_visible(api, experiment_id, expected, min(r["first"] for r in reports),
                                        after=acknowledged(reports))
        cpu_visible = cpu()
        probe.stop()
        if args.probe_trace:
            args.probe_trace.write_text(json.dumps({"loaded_from": probe.loaded_from, "samples": probe.samples,
                                                    "first": min(r["first"] for r in reports),
                                                    "published": max(r["last"] for r in reports),
                                                    "visible": visible_at}))
        timing = timing_between(timing_before, scrape_timing(api))
        if args.settle_s:  # the work left behind (merges) counts too: the server's CPU some seconds later
            time.sleep(max(0.0, visible_at + args.settle_s - time.time()))
            api = Http(stack.api_port)  # the idle connection may have been closed meanwhile
        cpu_settled = cpu()
        for proc in producers:
            proc.join(30)
        first = min(r["first"] for r in reports)
        ingest = {"points": expected, "seconds": visible_at - first, "points_per_s": expected / (visible_at - first),
                  "undelivered": sum(r["undelivered"] for r in reports), **ingest_stages(reports, visible_at),
                  "visibility_asks": asks,
                  # CPU seconds while ingesting (from the producers' start; the server with its alert worker child)
                  "cpu_s": {"producers": round(sum(r["cpu_s"] for r in reports), 2),
                            **{f"{name} to published": round(cpu_published[name] - cpu_before[name], 2)
                               for name in cpu_before},
                            **{f"{name} to visible": round(cpu_visible[name] - cpu_before[name], 2)
                               for name in cpu_before},
                            **({f"{name} to visible+{args.settle_s:g}s": round(cpu_settled[name] - cpu_before[name], 2)
                                for name in cpu_before} if args.settle_s else {})}}
        calls: dict[str, dict[str, Any]] = {}
        queries = runstream_queries(api, experiment_id, args, detail=calls)
        queries_cold = runstream_queries(api, experiment_id, args, cold=True)
        ingest["per_point_log_metrics_points_per_s"] = per_point_rate(stack.bootstrap)
        return {"ingest": ingest, "queries": queries, "queries_cold": queries_cold, "calls": calls,
                "freshness": {"samples": len(probe.delays), "p50_s": percentile(probe.delays, 0.5),
                              "p99_s": percentile(probe.delays, 0.99), "idle_samples": len(probe.idle_delays),
                              "idle_p50_s": percentile(probe.idle_delays, 0.5),
                              "idle_p99_s": percentile(probe.idle_delays, 0.99), "projector": timing}}
    finally:
        stack.stop()
        sampler.forget("runstream producers")
        if args.parts_after and "ingest" in locals():
            ingest["parts_after"] = active_parts(home / "clickhouse")


def active_parts(data: Path) -> dict[str, int]:
    """Active parts per table of the stopped server's embedded ClickHouse (the end state of its merges)."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=f"chdb://{data.resolve()}")
    try:
        rows = client.query("SELECT table, count() FROM system.parts WHERE database = 'runstream' AND active "
                            "AND table IN ('metrics', 'run_metric_summary', 'events', 'event_offsets') "
                            "GROUP BY table ORDER BY table").result_rows
    finally:
        client.close()
    return {str(table): int(n) for table, n in rows}


def server_settings(args: argparse.Namespace) -> dict[str, str]:
    """`--server-env NAME=VALUE` pairs (RUNSTREAM_* only): settings of the server under test."""
    return env_pairs(args.server_env, "--server-env")


def env_pairs(pairs: list[str], option: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.startswith("RUNSTREAM_"):
            raise SystemExit(f"{option} takes RUNSTREAM_NAME=VALUE, not {pair!r}")
        out[name] = value
    return out


# runstream remembers a search's answer while nothing new is projected (query_api/answers.py); asked with this
# header it reads the answer again, which is the latency of a first (cold) question
NO_CACHE = {"Cache-Control": "no-cache"}


def runstream_questions(api: Http, experiment_id: str, args: argparse.Namespace
                        ) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    """The five questions as (method, path, body)."""
    metric = metric_names(args.metrics)[0]
    some = [r["run_id"] for r in api.call("POST", "/api/v1/runs/search", {
        "experiment_ids": [experiment_id], "max_results": 20, "order_by": ["attributes.run_name ASC"]})["runs"]]
    return {
        "top10_by_final_metric": ("GET", f"/api/v1/experiments/{experiment_id}/leaderboard?metric={metric}"
                                         "&order=asc&k=10&agg=last", None),
        "param_filtered_search": ("POST", "/api/v1/runs/search", {
            "experiment_ids": [experiment_id], "filter": "params.optimizer = 'adam'", "max_results": 100}),
        "one_curve": ("GET", f"/api/v1/runs/{some[0]}/metrics/{metric}", None),
        "twenty_curves": ("POST", "/api/v1/compare", {"run_ids": some[:20], "metric_keys": [metric],
                                                      "max_points": args.steps}),
        "all_runs_params_final_metrics": ("GET", f"/api/v1/experiments/{experiment_id}/parallel-coordinates?"
                                                 f"params={','.join(PARAM_NAMES)}&metric={metric}", None),
    }


def runstream_queries(api: Http, experiment_id: str, args: argparse.Namespace, *, cold: bool = False,
                      detail: dict[str, dict[str, Any]] | None = None) -> dict[str, float]:
    """The five questions' median times; `cold`: every call asks for an answer read now, none remembered.
    `detail` (if given) gets each question's timed calls: their times and how many the server answered from memory
    (its `X-Runstream-Answer` header)."""
    h = NO_CACHE if cold else None
    medians = {}
    for name, (method, path, body) in runstream_questions(api, experiment_id, args).items():
        api.call(method, path, body, h)  # as median_ms_of: one call to warm up, then `repeat` timed
        times, remembered = [], 0
        for _ in range(args.repeat):
            began = time.perf_counter()
            api.call(method, path, body, h)
            times.append((time.perf_counter() - began) * 1000)
            remembered += api.last_answer == "remembered"
        medians[name] = statistics.median(times)
        if detail is not None:
            detail[name] = {"calls_ms": [round(t, 2) for t in times], "remembered": remembered}
    return medians


# -- the MLflow side --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def mlflow_server(home: Path, sampler: Sampler) -> Iterator[Http]:
    """A real `mlflow server` (sqlite, proxied artifacts) in its own session, watched by the sampler.

    Its own session because MLflow's job runner SIGKILLs its whole process group when it stops."""
    port = free_port()
    log = open(home / "mlflow.log", "wb")  # noqa: SIM115 - owned by the child
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
         "--artifacts-destination", str(home / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         # uvicorn kills a worker that misses a 5 s health check: on a busy shared machine it killed workers in
         # the middle of a long search, then every worker it started after them (seen at load 17 on 2 cores)
         "--uvicorn-opts", "--timeout-worker-healthcheck 300"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        api = Http(port)
        wait(lambda: server.poll() is None and api.call("GET", "/health") is not None, 240, "mlflow server", 0.5)
        sampler.watch("mlflow server", server.pid)
        for child in psutil.Process(server.pid).children(recursive=True):
            sampler.watch("mlflow server", child.pid)
        yield api
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)


def mlflow_side(args: argparse.Namespace, sampler: Sampler, home: Path) -> dict[str, Any]:
    with mlflow_server(home, sampler) as api:
        try:
            uri = f"http://127.0.0.1:{api.port}"
            experiment_id = api.call("POST", "/api/2.0/mlflow/experiments/create", {"name": EXPERIMENT})[
                "experiment_id"]
            expected = args.runs * args.metrics * args.steps
            producers, out = start_producers(mlflow_producer, (uri, experiment_id), args.runs, args, sampler,
                                             "mlflow producers")
            reports = [out.get(timeout=36_000) for _ in range(args.producers)]
            for proc in producers:
                proc.join(30)
            first, last = min(r["first"] for r in reports), max(r["last"] for r in reports)
            ingest = {"points": expected, "seconds": last - first, "points_per_s": expected / (last - first)}
            return {"ingest": ingest, "queries": mlflow_queries(api, experiment_id, args)}
        finally:
            sampler.forget("mlflow producers")


def mlflow_questions(api: Http, experiment_id: str, metric: str, steps: int, runs: int
                     ) -> dict[str, Callable[[], Any]]:
    """The five questions over MLflow's REST API (a real MLflow server's, or runstream's MLflow door), as calls."""
    search = "/api/2.0/mlflow/runs/search"
    some = [r["info"]["run_id"] for r in api.call("POST", search, {
        "experiment_ids": [experiment_id], "max_results": 20, "order_by": ["attributes.run_name ASC"]})["runs"]]
    bulk = urllib.parse.urlencode([("run_ids", r) for r in some[:20]] + [("metric_key", metric),
                                                                         ("max_results", steps)])
    return {
        "top10_by_final_metric": lambda: api.call("POST", search, {
            "experiment_ids": [experiment_id], "max_results": 10, "order_by": [f"metrics.{metric} ASC"]}),
        "param_filtered_search": lambda: api.call("POST", search, {
            "experiment_ids": [experiment_id], "filter": "params.optimizer = 'adam'", "max_results": 100}),
        "one_curve": lambda: api.call("GET", f"/api/2.0/mlflow/metrics/get-history?run_id={some[0]}"
                                             f"&metric_key={metric}"),
        "twenty_curves": lambda: api.call("GET", f"/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?{bulk}"),
        "all_runs_params_final_metrics": lambda: api.call("POST", search, {
            "experiment_ids": [experiment_id], "max_results": min(runs, 50_000)}),
    }


def mlflow_queries(api: Http, experiment_id: str, args: argparse.Namespace) -> dict[str, float]:
    calls = mlflow_questions(api, experiment_id, metric_names(args.metrics)[0], args.steps, args.runs)
    return {name: median_ms_of(args.repeat, call) for name, call in calls.items()}


# -- backlog --------------------------------------------------------------------------------------------------------
class BacklogReads:
    """While a backlog drains, a cold one-run curve and a cold param search every `interval` s (first run found):
    how reads fare while parts pile up (`--backlog-reads`)."""

    def __init__(self, port: int, experiment_id: str, metric: str, interval: float = 0.5) -> None:
        self.api, self.experiment_id, self.metric, self.interval = Http(port), experiment_id, metric, interval
        self.times: dict[str, list[float]] = {"one_curve": [], "param_filtered_search": []}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        run_id = None
        while not self._stop.wait(self.interval):
            if run_id is None:
                try:
                    runs = self.api.call("POST", "/api/v1/runs/search", {
                        "experiment_ids": [self.experiment_id], "max_results": 1,
                        "order_by": ["attributes.run_name ASC"]}, NO_CACHE)["runs"]
                except RuntimeError:  # the experiment is not projected yet
                    continue
                run_id = runs[0]["run_id"] if runs else None
                continue
            asks: list[tuple[str, str, str, dict[str, Any] | None]] = [
                ("one_curve", "GET", f"/api/v1/runs/{run_id}/metrics/{self.metric}", None),
                ("param_filtered_search", "POST", "/api/v1/runs/search", {
                    "experiment_ids": [self.experiment_id], "filter": "params.optimizer = 'adam'", "max_results": 100})]
            for name, method, path, body in asks:
                began = time.perf_counter()
                try:
                    self.api.call(method, path, body, NO_CACHE)
                except RuntimeError:  # not there yet (a run whose points come later in the backlog)
                    continue
                self.times[name].append((time.perf_counter() - began) * 1000)

    def report(self) -> dict[str, dict[str, float]]:
        return {name: {"n": len(t), "p50_ms": round(percentile(t, 0.5), 1), "p90_ms": round(percentile(t, 0.9), 1),
                       "max_ms": round(max(t, default=float("nan")), 1)} for name, t in self.times.items()}


def backlog_side(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Publish `--backlog` points with the projector off, then start it and watch the server's RSS."""
    from schemas.ids import experiment_id_for

    steps = args.steps
    runs = max(1, args.backlog // (args.metrics * steps))
    stack = Runstream(home, projector=False, settings=server_settings(args))
    stack.start()
    sampler = Sampler()
    try:
        producers, out = start_producers(runstream_producer, (stack.bootstrap,), runs, args, sampler, "producers")
        for _ in range(args.producers):
            out.get(timeout=7200)
        for proc in producers:
            proc.join(30)
        stack.stop()
        stack.projector = True
        stack.start()
        assert stack.proc is not None
        sampler.watch("kafka broker", stack.broker_pid())  # the server's child, counted apart
        sampler.watch("runstream server", stack.proc.pid)
        server = psutil.Process(stack.proc.pid)
        broker = stack.broker_pid()
        at_start = sum(p.memory_info().rss for p in [server, *server.children(recursive=True)]
                       if p.pid != broker) / 2**20
        api = Http(stack.api_port)
        began = time.time()
        expected = runs * args.metrics * steps
        already = visible_points(api, experiment_id_for(EXPERIMENT))  # the projector starts before /healthz answers
        reads = BacklogReads(stack.api_port, experiment_id_for(EXPERIMENT), metric_names(args.metrics)[0]) \
            if args.backlog_reads else None
        if reads is not None:
            reads.start()
        wait(lambda: visible_points(api, experiment_id_for(EXPERIMENT)) >= expected, 7200, "backlog projected", 0.25)
        seconds = time.time() - began
        if reads is not None:
            reads.stop()
        time.sleep(0.5)
        result = {"points": expected, "catch_up_s": seconds, "points_per_s": (expected - already) / seconds,
                  "projected_before_healthy": already,
                  "server_peak_rss_mb": sampler.report()["runstream server"]["peak_rss_mb"],
                  "server_process_peak_rss_mb": round(sampler.peak_rss_of.get(server.pid, 0.0), 1),
                  "children_peak_rss_mb": {str(pid): round(sampler.peak_rss_of.get(pid, 0.0), 1)
                                           for pid in sampler.pids.get("runstream server", set()) if pid != server.pid},
                  "server_rss_when_healthy_mb": round(at_start, 1), "load_average": os.getloadavg()[0],
                  # CPU seconds from the server's start to the last point visible (less load-bound than points/s)
                  "server_process_cpu_s": round(sampler.cpu.get("runstream server", {}).get(server.pid, 0.0), 2),
                  "children_cpu_s": round(sum(cpu for pid, cpu in sampler.cpu.get("runstream server", {}).items()
                                              if pid != server.pid), 2)}
        if reads is not None:
            result["reads_while_draining"] = reads.report()
        return result
    finally:
        sampler.stop()
        stack.stop()


# -- report -----------------------------------------------------------------------------------------------------
def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    return (f"{platform.platform()}; {os.cpu_count()} cores ({model}); {memory:.0f} GiB; "
            f"Python {platform.python_version()}")


def ratio(ours: float, theirs: float, *, higher_is_better: bool) -> float:
    if not ours or not theirs or math.isnan(ours) or math.isnan(theirs):
        return math.nan
    return ours / theirs if higher_is_better else theirs / ours


def summarize(args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    ours, theirs = result["runstream"], result.get("mlflow")
    latest: dict[str, Any] = {
        "ingest": {"runstream_points_per_s": round(ours["ingest"]["points_per_s"]),
                   "mlflow_points_per_s": round(theirs["ingest"]["points_per_s"]) if theirs else None},
        "queries": {},
        "freshness_p50_s": round(ours["freshness"]["p50_s"], 3),
        "freshness_p99_s": round(ours["freshness"]["p99_s"], 3),
        "server_peak_rss_mb": result["processes"].get("runstream server", {}).get("peak_rss_mb"),
    }
    latest["ingest"]["ratio"] = round(ratio(ours["ingest"]["points_per_s"], theirs["ingest"]["points_per_s"],
                                            higher_is_better=True), 1) if theirs else None
    for key in ("queries", "queries_cold"):  # cold: no answer from runstream's memory (sweep.NO_CACHE)
        latest[key] = {}
        for name, ms in ours[key].items():
            other = theirs["queries"][name] if theirs else None
            latest[key][name] = {"runstream_ms": round(ms, 2), "mlflow_ms": round(other, 2) if other else None,
                                 "ratio": round(ratio(ms, other, higher_is_better=False), 1) if other else None}
    # the producers' first log call -> ... (which stage bounds)
    for stage in ("start_skew_s", "logged_s", "published_s", "visible_s"):
        latest["ingest"][stage] = ours["ingest"][stage]
    latest["ingest"]["ingest_cpu_s"] = ours["ingest"]["cpu_s"]
    latest["ingest"]["per_point_log_metrics_points_per_s"] = round(ours["ingest"]["per_point_log_metrics_points_per_s"])
    latest["ingest"]["producer_call"] = "log_metrics per step" if args.per_point else "log_metric_series per key"
    latest["load_average"] = {"before": result["load_before"], "after": result.get("load_after")}
    if "scale10k" in result:
        latest["queries_10k"] = result["scale10k"]["queries_10k"]
        latest["queries_10k_cold"] = result["scale10k"]["queries_10k_cold"]
        latest["scale_10k"] = {k: v for k, v in result["scale10k"].items()
                               if k not in ("queries_10k", "queries_10k_cold", "queries_10k_calls")}
    if "backlog" in result:
        latest["backlog"] = result["backlog"]
    if "scale" in result:
        latest["scale"] = result["scale"]
    return latest


def report(args: argparse.Namespace, result: dict[str, Any], latest: dict[str, Any]) -> str:
    ours, theirs = result["runstream"], result.get("mlflow")
    lines = [
        f"# Sweep benchmark: runstream vs MLflow, {result['when']}",
        "",
        f"Machine: {result['machine']}. Load average before the run: {result['load_before']:.2f}.",
        f"Sweep: {args.runs} runs x 10 params x {args.metrics} metrics x {args.steps} steps = "
        f"{args.runs * args.metrics * args.steps:,} points, seed {args.seed}, {args.producers} producer process(es) "
        "per system. Queries: medians of "
        f"{args.repeat} calls over HTTP with a persistent connection, after one warm-up call.",
        "",
        "| | runstream | MLflow | ratio |",
        "|---|---:|---:|---:|",
    ]
    i = latest["ingest"]
    lines.append(f"| ingest, points/s (first log to last point visible) | {i['runstream_points_per_s']:,} | "
                 f"{i['mlflow_points_per_s'] or 0:,} | {i['ratio']}x |")
    for name, q in latest["queries"].items():
        cold = latest["queries_cold"][name]
        lines.append(f"| {name.replace('_', ' ')}, ms (cold: no remembered answer) | {q['runstream_ms']} "
                     f"({cold['runstream_ms']}) | {q['mlflow_ms']} | {q['ratio']}x ({cold['ratio']}x) |")
    lines.append(f"| per-point `log_metrics`, points/s in one producer process | "
                 f"{i['per_point_log_metrics_points_per_s']:,} | | |")
    if ours.get("calls"):
        lines += ["", "Remembered questions' timed calls answered from memory (slowest call, ms): " + "; ".join(
            f"{name.replace('_', ' ')} {c['remembered']} of {len(c['calls_ms'])} ({max(c['calls_ms'])})"
            for name, c in ours["calls"].items()) + "."]
    if "queries_10k" in latest:
        s10 = latest["scale_10k"]
        lines += ["", f"## {s10['runs']:,} runs ({s10['points']:,} points): the same questions over both HTTP APIs", "",
                  f"MLflow's store filled in bulk through its SQLAlchemy models ({s10['mlflow_bulk_load_s']} s); "
                  f"runstream through Kafka ({s10['runstream_load_s']} s, {s10['runstream_points_per_s']:,} points/s). "
                  f"Load average before/after: {s10['load_average_before']} / {s10['load_average_after']}.", "",
                  "| question | runstream ms (cold) | MLflow ms | ratio (cold) | remembered calls: from memory, "
                  "slowest ms |", "|---|---:|---:|---:|---:|"]
        calls = result["scale10k"].get("queries_10k_calls", {})
        for name, q in latest["queries_10k"].items():
            cold, timed = latest["queries_10k_cold"][name], calls.get(name)
            memory = f"{timed['remembered']} of {len(timed['calls_ms'])}, {max(timed['calls_ms'])}" if timed else ""
            lines.append(f"| {name.replace('_', ' ')} | {q['runstream_ms']} ({cold['runstream_ms']}) | "
                         f"{q['mlflow_ms']} | {q['ratio']}x ({cold['ratio']}x) | {memory} |")
    stages = ours["ingest"]
    lines += ["", "Ingest timeline from the producers' first log call (the producers started together: their first "
              f"calls {stages.get('start_skew_s', math.nan)} s apart): last log call returned at "
              f"{stages['logged_s']} s, last event acknowledged (published) at {stages['published_s']} s, "
              f"last point visible at {stages['visible_s']} s. CPU seconds while ingesting: " +
              ", ".join(f"{k} {v}" for k, v in stages["cpu_s"].items()) + "."]
    lines += [
        "",
        f"Freshness while ingesting (probe point logged -> visible through the API, {ours['freshness']['samples']} "
        f"samples): p50 {latest['freshness_p50_s']} s, p99 {latest['freshness_p99_s']} s; before the producers "
        f"started ({ours['freshness']['idle_samples']} samples): p50 {ours['freshness']['idle_p50_s']:.3f} s, "
        f"p99 {ours['freshness']['idle_p99_s']:.3f} s.",
        "",
        "The projector's consumed batches (oldest message of each; /metrics histograms, bucket bounds):",
        "",
        "| span (insert: ClickHouse statements of one table) | batches | mean s | p50 <= s | p99 <= s | total s |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {span} | {t['batches']:.0f} | {t['mean_s']} | {t['p50_le_s']} | {t['p99_le_s']} | {t['total_s']} |"
          for span, t in ours["freshness"]["projector"].items()),
        "",
        "| process (CPU since it started; the broker's start-up JIT included) | CPU s | peak RSS MB |",
        "|---|---:|---:|",
    ]
    for name, figures in result["processes"].items():
        lines.append(f"| {name} | {figures['cpu_s']} | {figures['peak_rss_mb']} |")
    if theirs is None:
        lines.append("\nMLflow was skipped (--skip-mlflow).")
    if "scale" in result:
        s = result["scale"]
        lines += ["", f"## Scale: {s['runs']} runs ({s['points']:,} points), runstream only", "",
                  f"Ingest {s['ingest_points_per_s']:,.0f} points/s; queries (ms): " +
                  ", ".join(f"{k.replace('_', ' ')} {v:.1f}" for k, v in s["queries"].items())]
    if "backlog" in result:
        b = result["backlog"]
        lines += ["", f"## Backlog: {b['points']:,} points waiting in Kafka", "",
                  f"Projected in {b['catch_up_s']:.0f} s ({b['points_per_s']:,.0f} points/s); the server's peak RSS "
                  f"(with its alert worker process) while catching up: {b['server_peak_rss_mb']} MB "
                  f"(the server process alone: {b.get('server_process_peak_rss_mb')} MB; its children's peaks: "
                  f"{b.get('children_peak_rss_mb')} MB)."]
    lines += ["", "Method: `benchmarks/sweep.py`. runstream's ingest ends when the summaries count every point "
              "(`/api/v1/sql`); MLflow's writes are synchronous, so its ingest ends with the last `log_batch`. "
              "Both servers, their producers and the Kafka broker share the same cores.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--scale", action="store_true", help="repeat the runstream side at 10x the runs")
    parser.add_argument("--backlog", type=int, default=0, help="points to leave waiting in Kafka (e.g. 10000000)")
    parser.add_argument("--backlog-only", action="store_true", help="measure only the backlog (no table saved)")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--per-point", action="store_true",
                        help="runstream producers call log_metrics per step (default: log_metric_series per key)")
    parser.add_argument("--skip-10k", action="store_true", help="skip the 10,000-run comparison")
    parser.add_argument("--server-env", action="append", default=[], metavar="RUNSTREAM_NAME=VALUE",
                        help="a setting of the runstream server under test (repeatable), e.g. "
                             "RUNSTREAM_BATCH_TARGET_S=0")
    parser.add_argument("--sdk-env", action="append", default=[], metavar="RUNSTREAM_NAME=VALUE",
                        help="a setting of the SDK on the runstream side (repeatable): the producers, the freshness "
                             "probe and the per-point rate, e.g. RUNSTREAM_COMPRESSION=lz4")
    parser.add_argument("--probe-interval-s", type=float, default=0.2,
                        help="seconds between the freshness probe's points")
    parser.add_argument("--backlog-reads", action="store_true",
                        help="time a cold curve and a cold search every 0.5 s while the backlog drains")
    parser.add_argument("--settle-s", type=float, default=0.0,
                        help="also report the server's CPU this many seconds after every point is visible")
    parser.add_argument("--parts-after", action="store_true",
                        help="count the hot tables' active parts once the server has stopped (embedded ClickHouse)")
    parser.add_argument("--probe-trace", type=Path, help="write the probe's (step, logged, seen) times here (JSON)")
    parser.add_argument("--idle-probe-s", type=float, default=3.0,
                        help="seconds the freshness probe runs alone before the producers start (its floor)")
    import scale10k

    scale10k.add_arguments(parser)
    args = parser.parse_args()

    for name, value in env_pairs(args.sdk_env, "--sdk-env").items():  # spawned producers inherit them
        os.environ[name] = value
    load_before = os.getloadavg()[0]
    home = Path(tempfile.mkdtemp(prefix="runstream-sweep-bench-"))
    if args.backlog_only:
        (home / "backlog").mkdir()
        try:
            backlog = backlog_side(args, home / "backlog")
            if args.parts_after:  # a few seconds after the last point was visible
                backlog["parts_after"] = active_parts(home / "backlog" / "clickhouse")
            print(json.dumps(backlog))
        finally:
            shutil.rmtree(home, ignore_errors=True)
        return
    sampler = Sampler()
    result: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
                              "load_before": load_before}
    try:
        print(f"runstream: {args.runs} runs from {args.producers} producer(s) ...", flush=True)
        (home / "runstream").mkdir()
        result["runstream"] = runstream_side(args, args.runs, sampler, home / "runstream")
        print(json.dumps(result["runstream"]["ingest"]), flush=True)
        if not args.skip_mlflow:
            print("MLflow ...", flush=True)
            (home / "mlflow").mkdir()
            result["mlflow"] = mlflow_side(args, sampler, home / "mlflow")
            print(json.dumps(result["mlflow"]["ingest"]), flush=True)
        result["processes"] = sampler.report()
        if args.scale:
            print(f"scale: runstream with {args.runs * 10} runs ...", flush=True)
            (home / "scale").mkdir()
            scaled = runstream_side(args, args.runs * 10, Sampler(), home / "scale")
            result["scale"] = {"runs": args.runs * 10, "points": scaled["ingest"]["points"],
                               "ingest_points_per_s": scaled["ingest"]["points_per_s"], "queries": scaled["queries"]}
        if not args.skip_10k and not args.skip_mlflow:
            print(f"{args.runs_10k:,} runs in both systems ...", flush=True)
            import scale10k

            result["scale10k"] = scale10k.compare(argparse.Namespace(**{**vars(args), "runs": args.runs_10k,
                                                                         "steps": args.steps_10k}))
        if args.backlog:
            print(f"backlog: {args.backlog:,} points ...", flush=True)
            (home / "backlog").mkdir()
            result["backlog"] = backlog_side(args, home / "backlog")
    finally:
        sampler.stop()
        shutil.rmtree(home, ignore_errors=True)
    result["load_after"] = os.getloadavg()[0]
    latest = summarize(args, result)
    text = report(args, result, latest)
    print(text)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        (RESULTS / f"sweep-{stamp}.md").write_text(text)
        (RESULTS / "latest.json").write_text(json.dumps(latest, indent=2) + "\n")


if __name__ == "__main__":
    main()
