"""What the SDK asks of librdkafka: the durability settings fixed, the codec from the settings (lz4 by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import producer.publisher as publisher_module
from producer import TrackerSettings
from producer.publisher import Publisher


class ConfigRecorder:
    configs: list[dict[str, Any]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        ConfigRecorder.configs.append(config)

    def produce(self, *args: Any, **kwargs: Any) -> None: ...
    def poll(self, timeout: float = 0.0) -> int: return 0
    def flush(self, timeout: float = 0.0) -> int: return 0
    def purge(self, **kwargs: Any) -> None: ...
    def close(self) -> None: ...


def _config(monkeypatch: pytest.MonkeyPatch, settings: TrackerSettings) -> dict[str, Any]:
    monkeypatch.setattr(publisher_module, "Producer", ConfigRecorder)
    ConfigRecorder.configs = []
    Publisher(settings).close(0)
    (config,) = ConfigRecorder.configs
    return config


def test_lz4_by_default_with_idempotence_and_acks_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = _config(monkeypatch, TrackerSettings(spool_dir=tmp_path))
    assert config["compression.type"] == "lz4"
    assert config["enable.idempotence"] is True and config["acks"] == "all"


def test_the_codec_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUNSTREAM_COMPRESSION", "zstd")
    assert _config(monkeypatch, TrackerSettings(spool_dir=tmp_path))["compression.type"] == "zstd"


def test_an_unknown_codec_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNSTREAM_COMPRESSION", "brotli")
    with pytest.raises(ValidationError, match="compression"):
        TrackerSettings()
