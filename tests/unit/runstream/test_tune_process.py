"""The server's launcher sets glibc's malloc parameters (RUNSTREAM_MALLOC_*) and Python's switch interval before
anything starts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from consumers.memory import M_MMAP_THRESHOLD, malloc_options, set_malloc_options
from consumers.settings import ProjectorSettings
from runstream import cli, stack


def test_only_settings_given_become_malloc_options() -> None:
    assert malloc_options() == {}
    assert malloc_options(mmap_threshold_kb=1024) == {M_MMAP_THRESHOLD: 1024 * 1024}


def test_set_malloc_options_calls_mallopt_and_reports_a_refusal() -> None:
    calls: list[tuple[int, int]] = []

    def mallopt(param: int, value: int) -> int:
        calls.append((param, value))
        return 1 if value > 0 else 0

    assert set_malloc_options({M_MMAP_THRESHOLD: 2**20}, mallopt)
    assert not set_malloc_options({M_MMAP_THRESHOLD: -1}, mallopt)
    assert calls == [(M_MMAP_THRESHOLD, 2**20), (M_MMAP_THRESHOLD, -1)]
    assert set_malloc_options({}, lambda p, v: pytest.fail("nothing to set"))


def test_tune_process_reads_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[int, int]] = []
    intervals: list[float] = []
    monkeypatch.setattr(stack, "set_malloc_options", lambda options: seen.append(options) or True)
    monkeypatch.setattr(stack.sys, "setswitchinterval", intervals.append)
    monkeypatch.setenv("RUNSTREAM_MALLOC_MMAP_THRESHOLD_KB", "1024")
    monkeypatch.setenv("RUNSTREAM_GIL_SWITCH_INTERVAL_MS", "2.5")
    stack.tune_process(ProjectorSettings())
    monkeypatch.delenv("RUNSTREAM_MALLOC_MMAP_THRESHOLD_KB")
    monkeypatch.delenv("RUNSTREAM_GIL_SWITCH_INTERVAL_MS")
    stack.tune_process(ProjectorSettings())
    assert seen == [{M_MMAP_THRESHOLD: 2**20}, {}]
    assert intervals == [0.0025, 0.001]


def test_a_switch_interval_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("0", "-1", "101"):
        monkeypatch.setenv("RUNSTREAM_GIL_SWITCH_INTERVAL_MS", bad)
        with pytest.raises(ValueError, match="gil_switch_interval_ms"):
            ProjectorSettings()


def test_up_tunes_the_process_before_the_broker_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []

    class Stop(Exception):
        pass

    def broker(settings: object) -> None:
        order.append("broker")
        raise Stop

    monkeypatch.setattr(cli, "tune_process", lambda store: order.append(f"malloc {store.malloc_mmap_threshold_kb}"))
    monkeypatch.setattr(cli, "local_broker", broker)
    monkeypatch.setattr(cli, "configure_logging", lambda: None)
    monkeypatch.setattr(cli, "terminate_as_interrupt", lambda: None)
    result = CliRunner().invoke(cli.app, ["up"], env={"RUNSTREAM_MALLOC_MMAP_THRESHOLD_KB": "1024"})
    assert isinstance(result.exception, Stop)
    assert order == ["malloc 1024", "broker"]
