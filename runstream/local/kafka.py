"""A single-node KRaft broker from Maven Central jars: provision once, format once, start, reuse, stop."""

from __future__ import annotations

import base64
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from confluent_kafka.admin import AdminClient

log = logging.getLogger("runstream.kafka")


class LocalKafkaError(RuntimeError):
    """The local broker could not be provisioned, started or reached."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "runstream"


@dataclass(frozen=True)
class BrokerConfig:
    home: Path  # data, logs, pid file
    port: int = 9092
    controller_port: int = 9093
    version: str = "4.1.1"
    heap: str = "1g"
    cache_dir: Path | None = None
    jvm_options: tuple[str, ...] = ()  # added to the broker's java command line (not the storage tool's)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs(self) -> Path:
        return (self.cache_dir or default_cache_dir()) / f"kafka-{self.version}" / "libs"


def server_properties(cfg: BrokerConfig) -> str:
    """The combined broker+controller configuration of a single-node KRaft cluster."""
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.bootstrap.servers=127.0.0.1:{cfg.controller_port}",
        f"listeners=PLAINTEXT://127.0.0.1:{cfg.port},CONTROLLER://127.0.0.1:{cfg.controller_port}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{cfg.port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={cfg.home / 'data'}",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false",
        "log.retention.hours=-1",
        "",
    ])


def provision(cfg: BrokerConfig) -> Path:
    """Resolve the broker's jars with Maven into the cache (once); return the libs directory. Processes that
    start at the same time (two test sessions on a fresh machine) take turns: the second finds the jars cached."""
    libs = cfg.libs
    if (libs / ".complete").exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise LocalKafkaError(
            "the local broker needs Java 17+ and Maven on PATH (or set RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS)"
        )
    work = libs.parent
    work.mkdir(parents=True, exist_ok=True)
    with (work / ".provision.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when this process dies
        if (libs / ".complete").exists():  # another process resolved them while this one waited
            return libs
        return _resolve(cfg, work, libs)


def _resolve(cfg: BrokerConfig, work: Path, libs: Path) -> Path:
    pom = work / "pom.xml"
    template = files("runstream.local").joinpath("kafka-pom.xml").read_text()
    pom.write_text(template.replace("@KAFKA_VERSION@", cfg.version))
    print(f"runstream: resolving Apache Kafka {cfg.version} from Maven Central (first run only)...", file=sys.stderr)
    staging = work / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = ["mvn", "-B", "-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime",
           f"-DoutputDirectory={staging}"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise LocalKafkaError(f"Maven could not resolve Kafka {cfg.version}:\n{proc.stdout[-3000:]}")
    jars = len(list(staging.glob("*.jar")))
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    (libs / ".complete").write_text(cfg.version)
    print(f"runstream: {jars} jars cached in {libs}", file=sys.stderr)
    return libs


def broker_command(cfg: BrokerConfig) -> list[str]:
    """The java command line of the broker process."""
    return _java(cfg, "kafka.Kafka", str(cfg.home / "server.properties"), heap=cfg.heap)


def _java(cfg: BrokerConfig, *args: str, heap: str | None = None) -> list[str]:
    chosen_gc = any(o.startswith("-XX:+Use") and o.endswith("GC") for o in cfg.jvm_options)
    gc = [] if chosen_gc else ["-XX:+UseG1GC"]  # the JVM refuses two collectors: the options' choice wins
    opts = [f"-Xmx{heap}", "-Xms256m", *gc, *cfg.jvm_options] if heap else ["-Xmx256m"]
    log4j = cfg.home / "log4j2.properties"
    return ["java", *opts, f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={cfg.home / 'logs'}",
            "-cp", f"{cfg.libs}/*", *args]


def new_cluster_id() -> str:
    """A KRaft cluster id: 22 url-safe base64 characters, never starting with '-' (the tool would take it
    for an option: about one format in 64 failed before)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def format_storage(cfg: BrokerConfig) -> None:
    """Write the config and format KRaft storage, unless already formatted."""
    cfg.home.mkdir(parents=True, exist_ok=True)
    (cfg.home / "logs").mkdir(exist_ok=True)
    (cfg.home / "log4j2.properties").write_text(files("runstream.local").joinpath("log4j2.properties").read_text())
    (cfg.home / "server.properties").write_text(server_properties(cfg))
    if (cfg.home / "data" / "meta.properties").exists():
        return
    cluster_id = new_cluster_id()
    cmd = _java(cfg, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(cfg.home / "server.properties"),
                "--standalone")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LocalKafkaError(f"formatting Kafka storage failed:\n{proc.stdout}{proc.stderr}")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _our_broker_pid(cfg: BrokerConfig) -> int | None:
    """The pid in the pid file if that process is still our broker (e.g. left by a killed `runstream up`)."""
    pid_file = cfg.home / "broker.pid"
    try:
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"kafka.Kafka" in cmdline and str(cfg.home).encode() in cmdline else None


class LocalKafka:
    """Owns one broker process; reuses a live one it started earlier in the same home."""

    def __init__(self, cfg: BrokerConfig) -> None:
        self.cfg = cfg
        self.pid: int | None = None
        self.reused = False
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        cfg = self.cfg
        existing = _our_broker_pid(cfg)
        if existing is not None:
            log.info("reusing the broker left running (pid %d)", existing)
            self.pid, self.reused = existing, True
        else:
            provision(cfg)
            format_storage(cfg)
            for port in (cfg.port, cfg.controller_port):
                if _port_open(port):
                    raise LocalKafkaError(
                        f"port {port} is taken by another process; stop it, choose RUNSTREAM_KAFKA_PORT / "
                        "RUNSTREAM_KAFKA_CONTROLLER_PORT, or point RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS at that broker"
                    )
            out = open(cfg.home / "broker.out", "ab")  # noqa: SIM115 - handed to the child process
            proc = subprocess.Popen(
                broker_command(cfg),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
            out.close()
            self._proc, self.pid = proc, proc.pid
            (cfg.home / "broker.pid").write_text(str(proc.pid))
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        admin = AdminClient({"bootstrap.servers": self.cfg.bootstrap, "log_level": 2})  # quiet while it boots
        deadline = time.monotonic() + timeout
        while True:
            if self.pid is not None and not self._alive():
                tail = (self.cfg.home / "broker.out").read_text(errors="replace")[-2000:]
                raise LocalKafkaError(f"the Kafka broker exited during start-up:\n{tail}")
            try:
                if admin.list_topics(timeout=2).brokers:
                    return
            except Exception:  # not answering yet; retried until the deadline
                pass
            if time.monotonic() > deadline:
                raise LocalKafkaError(f"the Kafka broker did not answer on {self.cfg.bootstrap} within {timeout}s")
            time.sleep(0.3)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the broker (a controlled shutdown), SIGKILL it if it lingers."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while _alive(pid, self._proc) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid, self._proc):
            os.kill(pid, signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait(10)
            self._proc = None
        (self.cfg.home / "broker.pid").unlink(missing_ok=True)

    def _alive(self) -> bool:
        return self.pid is not None and _alive(self.pid, self._proc)


def _alive(pid: int, proc: subprocess.Popen[bytes] | None = None) -> bool:
    if proc is not None:
        return proc.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))
