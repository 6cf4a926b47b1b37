"""Freed memory is returned to the OS between batches: at most every `memory_release_s`, only after something was
written, ClickHouse's allocator only when it is embedded; a refused purge is logged once and never stops anything."""

from __future__ import annotations

from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from consumers.memory import PURGE, MemoryRelease, jemalloc_purge, libc_trim
from consumers.projector import Projector
from consumers.settings import ProjectorSettings


class Client:
    def __init__(self, fail: bool = False) -> None:
        self.commands: list[str] = []
        self.fail = fail

    def command(self, sql: str, **_: Any) -> None:
        self.commands.append(sql)
        if self.fail:
            raise DatabaseError("Code: 48. DB::Exception: not implemented")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def release(client: Client, interval_s: float = 1.0, *, embedded: bool = True) -> tuple[MemoryRelease, list[int],
                                                                                         Clock]:
    trims: list[int] = []
    clock = Clock()
    purge = jemalloc_purge(client) if embedded else None  # type: ignore[arg-type]
    return MemoryRelease(interval_s, purge=purge, trim=lambda: trims.append(1), clock=clock), trims, clock


def test_released_at_most_every_interval_after_writes() -> None:
    client = Client()
    memory, trims, clock = release(client)
    memory(wrote=True)  # within the first interval
    assert client.commands == [] and trims == []
    clock.now += 1.0
    memory(wrote=True)
    assert client.commands == [PURGE] and trims == [1]
    clock.now += 0.5
    memory(wrote=True)
    assert len(trims) == 1
    clock.now += 0.5
    memory(wrote=False)  # idle, but something was written since the last release
    assert len(trims) == 2 and memory.releases == 2


def test_an_idle_projector_releases_nothing() -> None:
    client = Client()
    memory, trims, clock = release(client)
    for _ in range(5):
        clock.now += 2.0
        memory(wrote=False)
    assert client.commands == [] and trims == []


def test_zero_never_releases() -> None:
    client = Client()
    memory, trims, clock = release(client, 0.0)
    clock.now += 10.0
    memory(wrote=True)
    assert client.commands == [] and trims == []


def test_a_clickhouse_server_is_not_purged() -> None:
    client = Client()
    memory, trims, clock = release(client, embedded=False)
    clock.now += 1.0
    memory(wrote=True)
    assert client.commands == [] and trims == [1]


def test_a_refused_purge_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(fail=True)
    memory, trims, clock = release(client)
    for _ in range(3):
        clock.now += 1.0
        memory(wrote=True)
    assert client.commands == [PURGE] and trims == [1, 1, 1]
    assert caplog.text.count("not asked again") == 1


def test_the_alert_worker_imports_neither_clickhouse_nor_arrow() -> None:
    import subprocess
    import sys

    code = ("import sys, consumers.alerts.worker; "
            "print(sorted({'pyarrow', 'clickhouse_connect', 'chdb'} & {m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_setting_reaches_the_projector() -> None:
    assert ProjectorSettings().memory_release_s == 0.2
    assert ProjectorSettings().memory_release_above_mb == 600
    with pytest.raises(ValueError):
        ProjectorSettings(memory_release_s=-1)
    with pytest.raises(ValueError):
        ProjectorSettings(memory_release_above_mb=-1)
    projector = Projector(ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1", memory_release_s=0.0),
                          client=None)  # type: ignore[arg-type]
    releasing, thread = projector._start_releasing_memory()
    assert thread is None
    projector.release_memory(wrote=True)
    assert projector.release_memory.releases == 0


def test_glibc_trim_runs_here() -> None:
    trim = libc_trim()
    assert trim is not None  # this machine's Python runs on glibc
    trim()


def test_embedded_clickhouse_takes_the_purge() -> None:
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn="chdb://memory")
    try:
        client.command(PURGE)
    finally:
        client.close()


def test_the_thread_releases_while_a_batch_runs_and_once_after() -> None:
    import threading
    import time

    trims: list[int] = []
    memory = MemoryRelease(0.01, trim=lambda: trims.append(1))
    stop = threading.Event()
    thread = threading.Thread(target=memory.run, args=(stop,))
    thread.start()
    try:
        time.sleep(0.1)
        assert trims == []  # nothing written yet
        memory.working(True)
        time.sleep(0.1)
        assert len(trims) >= 2  # released again and again during one long batch
        memory.working(False)
        time.sleep(0.05)
        settled = len(trims)
        time.sleep(0.1)
        assert len(trims) == settled  # idle: nothing more
    finally:
        stop.set()
        thread.join()


def test_the_alert_worker_settings() -> None:
    from consumers.alerts.settings import AlertSettings

    settings = AlertSettings()
    assert settings.alerts_memory_release_s == 0.5 and settings.alerts_fetch_queue_kbytes == 2 * 1024
    with pytest.raises(ValueError):
        AlertSettings(alerts_memory_release_s=-0.1)


def test_the_thread_releases_only_over_the_bound() -> None:
    import threading
    import time

    trims: list[int] = []
    rss = [500.0]
    memory = MemoryRelease(0.01, trim=lambda: trims.append(1), above_mb=600, rss_mb=lambda: rss[0])
    stop = threading.Event()
    thread = threading.Thread(target=memory.run, args=(stop,))
    thread.start()
    try:
        memory.working(True)
        time.sleep(0.1)
        assert trims == []  # under the bound: nothing handed back, whatever is written
        rss[0] = 700.0
        time.sleep(0.1)
        assert len(trims) >= 2
    finally:
        stop.set()
        thread.join()


def test_resident_mb_reads_this_process() -> None:
    from consumers.memory import resident_mb

    assert 1 < resident_mb() < 100_000
