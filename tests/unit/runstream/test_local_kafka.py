"""runstream.local.kafka and ServerSettings: the local KRaft broker's configuration, without starting one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runstream.local.kafka import BrokerConfig, _java, broker_command, new_cluster_id, server_properties
from runstream.settings import ServerSettings
from runstream.stack import broker_config


def properties(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    assert all(len(p) == 2 for p in pairs)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "a key is set twice"
    return dict(pairs)  # type: ignore[arg-type]


def test_server_properties_for_custom_ports(tmp_path: Path) -> None:
    props = properties(server_properties(BrokerConfig(home=tmp_path, port=19092, controller_port=19093)))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert props["auto.create.topics.enable"] == "false"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["log.retention.hours"] == "-1"  # the log is the source of truth: kept forever
    assert props["offsets.topic.replication.factor"] == "1"


def test_server_properties_with_default_ports(tmp_path: Path) -> None:
    cfg = BrokerConfig(home=tmp_path)
    text = server_properties(cfg)
    assert text.endswith("\n")
    props = properties(text)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert cfg.bootstrap == "127.0.0.1:9092"
    assert "19092" not in text


def test_broker_libs_live_in_the_versioned_cache(tmp_path: Path) -> None:
    cfg = BrokerConfig(home=tmp_path / "home", version="4.1.1", cache_dir=tmp_path / "cache")
    assert cfg.libs == tmp_path / "cache" / "kafka-4.1.1" / "libs"


def test_cluster_ids_are_22_url_safe_characters_never_starting_with_a_dash() -> None:
    ids = [new_cluster_id() for _ in range(3000)]
    assert len(set(ids)) == len(ids)
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert all(len(i) == 22 and set(i) <= allowed and not i.startswith("-") for i in ids)


# -- ServerSettings.local_kafka ---------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS", "RUNSTREAM_KAFKA_PORT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_local_kafka_is_the_default(clean_env: pytest.MonkeyPatch) -> None:
    settings = ServerSettings()
    assert settings.local_kafka is True
    assert settings.with_local_kafka().store.kafka_bootstrap_servers == "127.0.0.1:9092"


def test_the_local_broker_port_is_used_for_the_bootstrap(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("RUNSTREAM_KAFKA_PORT", "19092")
    settings = ServerSettings()
    assert settings.local_kafka is True
    assert settings.with_local_kafka().store.kafka_bootstrap_servers == "127.0.0.1:19092"


def test_a_configured_bootstrap_means_no_local_broker(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    settings = ServerSettings()
    assert settings.local_kafka is False
    assert settings.store.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.with_local_kafka() is settings


def test_a_configured_bootstrap_equal_to_the_default_still_means_no_local_broker(
        clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("RUNSTREAM_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    assert ServerSettings().local_kafka is False


def test_a_bootstrap_passed_in_code_also_means_no_local_broker(clean_env: pytest.MonkeyPatch) -> None:
    assert ServerSettings(kafka_bootstrap_servers="elsewhere:9092").local_kafka is False


def test_the_broker_gets_its_java_options_and_the_storage_tool_does_not(tmp_path: Path) -> None:
    cfg = BrokerConfig(home=tmp_path, heap="512m", jvm_options=("-XX:TieredStopAtLevel=1", "-Dx=a b"))
    command = broker_command(cfg)
    assert command[:3] == ["java", "-Xmx512m", "-Xms256m"]
    assert command[command.index("-XX:+UseG1GC") + 1:][:2] == ["-XX:TieredStopAtLevel=1", "-Dx=a b"]
    assert command[-2:] == ["kafka.Kafka", str(tmp_path / "server.properties")]
    tool = _java(cfg, "kafka.tools.StorageTool", "random-uuid")
    assert "-XX:TieredStopAtLevel=1" not in tool and "-Dx=a b" not in tool
    assert "-XX:TieredStopAtLevel=1" not in broker_command(BrokerConfig(home=tmp_path))


def test_a_garbage_collector_in_the_java_options_replaces_the_default_one(tmp_path: Path) -> None:
    # The JVM refuses to start with two collectors ("Multiple garbage collectors selected").
    assert "-XX:+UseG1GC" in broker_command(BrokerConfig(home=tmp_path))
    command = broker_command(BrokerConfig(home=tmp_path, jvm_options=("-XX:+UseSerialGC",)))
    assert "-XX:+UseSerialGC" in command and "-XX:+UseG1GC" not in command


def test_the_local_broker_java_options_come_from_the_settings(clean_env: pytest.MonkeyPatch, tmp_path: Path
                                                              ) -> None:
    clean_env.setenv("RUNSTREAM_DATA_DIR", str(tmp_path))
    clean_env.delenv("RUNSTREAM_KAFKA_JVM_OPTIONS", raising=False)
    assert broker_config(ServerSettings()).jvm_options == ("-XX:TieredStopAtLevel=1",)  # C1 only, the default
    clean_env.setenv("RUNSTREAM_KAFKA_JVM_OPTIONS", "-XX:+UseSerialGC '-Dwith.space=a b'")
    cfg = broker_config(ServerSettings())
    assert cfg.jvm_options == ("-XX:+UseSerialGC", "-Dwith.space=a b")
    assert cfg.home == (tmp_path / "kafka").resolve()
    clean_env.setenv("RUNSTREAM_KAFKA_JVM_OPTIONS", "")
    assert broker_config(ServerSettings()).jvm_options == ()


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_bad_ports_are_refused(clean_env: pytest.MonkeyPatch, port: str) -> None:
    clean_env.setenv("RUNSTREAM_KAFKA_PORT", port)
    with pytest.raises(ValueError):
        ServerSettings()


FAKE_MVN = """#!/bin/sh
# counts its runs, then 'resolves' two jars into -DoutputDirectory slowly, as Maven does on a fresh machine
echo run >> "$MVN_RUNS"
for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}";; esac; done
mkdir -p "$out"; sleep 1; touch "$out/kafka.jar"; sleep 1; touch "$out/clients.jar"
"""


def test_processes_provisioning_at_once_resolve_the_jars_once_and_all_find_them(tmp_path: Path) -> None:
    """Two test sessions starting on a fresh machine used to rename one half-written directory over the other's,
    and one of them started Kafka with no jars."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mvn").write_text(FAKE_MVN)
    (bin_dir / "mvn").chmod(0o755)
    runs = tmp_path / "runs"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MVN_RUNS": str(runs)}
    script = ("import sys; from pathlib import Path; from runstream.local.kafka import BrokerConfig, provision; "
              "libs = provision(BrokerConfig(home=Path(sys.argv[1]), cache_dir=Path(sys.argv[2]))); "
              "print(sorted(p.name for p in libs.iterdir()))")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / f"home{i}"), str(tmp_path / "cache")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert all(out.strip() == "['.complete', 'clients.jar', 'kafka.jar']" for out, _ in outputs), outputs
    assert runs.read_text().count("run") == 1
