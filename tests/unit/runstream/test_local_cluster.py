"""The three-node cluster's configuration (query_api/local/cluster.py), without starting anything."""

from __future__ import annotations

from pathlib import Path

from runstream.local.cluster import ClusterConfig, node_properties


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_each_node_is_broker_and_controller_of_a_replicated_log(tmp_path: Path) -> None:
    cfg = ClusterConfig(home=tmp_path, ports=(9101, 9102, 9103), controller_ports=(9201, 9202, 9203))
    assert cfg.bootstrap == "127.0.0.1:9101,127.0.0.1:9102,127.0.0.1:9103"
    nodes = {n: _props(node_properties(cfg, n)) for n in (1, 2, 3)}
    for n, props in nodes.items():
        assert props["node.id"] == str(n) and props["process.roles"] == "broker,controller"
        assert props["controller.quorum.voters"] == "1@127.0.0.1:9201,2@127.0.0.1:9202,3@127.0.0.1:9203"
        assert props["listeners"] == f"PLAINTEXT://127.0.0.1:{9100 + n},CONTROLLER://127.0.0.1:{9200 + n}"
        assert props["log.dirs"] == str(tmp_path / f"node{n}" / "data")
        assert props["default.replication.factor"] == props["offsets.topic.replication.factor"] == "3"
        assert props["min.insync.replicas"] == props["transaction.state.log.min.isr"] == "2"
        assert props["unclean.leader.election.enable"] == "false"
    assert cfg.node(2).heap == "384m" and cfg.node(2).port == 9102
