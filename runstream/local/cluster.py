"""A three-node KRaft Kafka cluster from the same Maven jars as the local broker, for tests that lose a broker.

Each node is a combined broker and controller (three voters: the quorum survives one loss) with the settings of
a replicated event log: replication factor 3, min.insync.replicas=2, no unclean leader election. With the SDK's
acks=all, an acknowledged event is on at least two brokers, so killing any one loses nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from confluent_kafka.admin import AdminClient

from runstream.local.kafka import BrokerConfig, LocalKafka, LocalKafkaError, _java, new_cluster_id, provision

log = logging.getLogger("runstream.kafka")

NODES = (1, 2, 3)

# The replicated settings every node shares (also in compose/docker-compose.yml and the README).
REPLICATED = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
    "unclean.leader.election.enable": "false",
    "auto.create.topics.enable": "false",
    "group.initial.rebalance.delay.ms": "0",
    "log.retention.hours": "-1",
}


@dataclass(frozen=True)
class ClusterConfig:
    home: Path
    ports: tuple[int, int, int]
    controller_ports: tuple[int, int, int]
    version: str = "4.1.1"
    heap: str = "384m"  # per node
    cache_dir: Path | None = None

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.ports)

    @property
    def voters(self) -> str:
        return ",".join(f"{n}@127.0.0.1:{p}" for n, p in zip(NODES, self.controller_ports, strict=True))

    def node(self, node_id: int) -> BrokerConfig:
        return BrokerConfig(home=self.home / f"node{node_id}", port=self.ports[node_id - 1],
                            controller_port=self.controller_ports[node_id - 1], version=self.version, heap=self.heap,
                            cache_dir=self.cache_dir)


def node_properties(cluster: ClusterConfig, node_id: int) -> str:
    """The server.properties of one combined broker+controller node of the cluster."""
    cfg = cluster.node(node_id)
    lines = [
        "process.roles=broker,controller",
        f"node.id={node_id}",
        f"controller.quorum.voters={cluster.voters}",
        f"listeners=PLAINTEXT://127.0.0.1:{cfg.port},CONTROLLER://127.0.0.1:{cfg.controller_port}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{cfg.port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={cfg.home / 'data'}",
        *(f"{k}={v}" for k, v in REPLICATED.items()),
    ]
    return "\n".join(lines) + "\n"


class ClusterNode(LocalKafka):
    """One node: formatted with the cluster's id and static voters; started without waiting for the others."""

    def __init__(self, cluster: ClusterConfig, node_id: int, cluster_id: str) -> None:
        super().__init__(cluster.node(node_id))
        self.node_id = node_id
        self._cluster = cluster
        self._cluster_id = cluster_id

    def format(self) -> None:
        cfg = self.cfg
        (cfg.home / "logs").mkdir(parents=True, exist_ok=True)
        (cfg.home / "log4j2.properties").write_text(files("runstream.local").joinpath("log4j2.properties").read_text())
        (cfg.home / "server.properties").write_text(node_properties(self._cluster, self.node_id))
        if (cfg.home / "data" / "meta.properties").exists():
            return
        cmd = _java(cfg, "kafka.tools.StorageTool", "format", "-t", self._cluster_id, "-c",
                    str(cfg.home / "server.properties"))  # static voters: no --standalone
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise LocalKafkaError(f"formatting node {self.node_id} failed:\n{proc.stdout}{proc.stderr}")

    def start(self, timeout: float = 90.0) -> None:
        """Launch the node's JVM (the cluster waits for all nodes together)."""
        if self._alive():
            return
        self.format()
        cfg = self.cfg
        out = open(cfg.home / "broker.out", "ab")  # noqa: SIM115 - handed to the child process
        self._proc = subprocess.Popen(_java(cfg, "kafka.Kafka", str(cfg.home / "server.properties"), heap=cfg.heap),
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.pid = self._proc.pid
        (cfg.home / "broker.pid").write_text(str(self.pid))

    def kill(self) -> None:
        """SIGKILL: no controlled shutdown, no leadership handed over, nothing flushed."""
        if self.pid is None:
            return
        os.kill(self.pid, signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait(10)
            self._proc = None
        self.pid = None

    @property
    def alive(self) -> bool:
        return self._alive()


class LocalKafkaCluster:
    """Three ClusterNodes sharing one cluster id; start, kill and restart nodes, ask who leads a partition."""

    def __init__(self, cfg: ClusterConfig) -> None:
        self.cfg = cfg
        id_file = cfg.home / "cluster.id"
        cfg.home.mkdir(parents=True, exist_ok=True)
        if not id_file.exists():
            id_file.write_text(new_cluster_id())
        cluster_id = id_file.read_text().strip()
        self.nodes = {n: ClusterNode(cfg, n, cluster_id) for n in NODES}

    def start(self, timeout: float = 120.0) -> None:
        provision(self.cfg.node(1))
        for node in self.nodes.values():
            node.start()
        self.wait_brokers(len(NODES), timeout)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def restart(self, node_id: int, timeout: float = 120.0) -> None:
        self.nodes[node_id].start()
        self.wait_brokers(len(NODES), timeout)

    def wait_brokers(self, count: int, timeout: float) -> None:
        """Until `count` brokers are registered in the cluster's metadata."""
        admin = AdminClient({"bootstrap.servers": self.cfg.bootstrap, "log_level": 2})
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes.values():
                if node.pid is not None and not node.alive:
                    tail = (node.cfg.home / "broker.out").read_text(errors="replace")[-2000:]
                    raise LocalKafkaError(f"node {node.node_id} exited:\n{tail}")
            try:
                if len(admin.list_topics(timeout=2).brokers) >= count:
                    return
            except Exception:  # not answering yet; retried until the deadline
                pass
            if time.monotonic() > deadline:
                raise LocalKafkaError(f"{count} brokers did not register on {self.cfg.bootstrap} within {timeout}s")
            time.sleep(0.5)

    def leader(self, topic: str, partition: int) -> int:
        """The node id leading a partition now."""
        admin = AdminClient({"bootstrap.servers": self.cfg.bootstrap, "log_level": 2})
        return int(admin.list_topics(topic, timeout=10).topics[topic].partitions[partition].leader)

    def in_sync(self, topic: str, partition: int) -> list[int]:
        admin = AdminClient({"bootstrap.servers": self.cfg.bootstrap, "log_level": 2})
        return sorted(admin.list_topics(topic, timeout=10).topics[topic].partitions[partition].isrs)
