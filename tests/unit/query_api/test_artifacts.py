"""The artifact store: paths stay inside the root, writes land whole or not at all."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from query_api.artifacts import ArtifactStore, check_relative
from query_api.errors import InvalidParameter, NotFound


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def failing() -> AsyncIterator[bytes]:
    yield b"half"
    raise ConnectionResetError("client went away")


def test_a_write_lands_whole_with_its_size_and_digest(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    stored = asyncio.run(store.write("1/r/artifacts/docs/a.txt", chunks(b"hello ", b"world")))
    assert stored.size == 11 and stored.digest == "sha256:" + hashlib.sha256(b"hello world").hexdigest()
    assert store.file("1/r/artifacts/docs/a.txt").read_bytes() == b"hello world"
    assert [(e.path, e.is_dir, e.size) for e in store.list("1/r/artifacts")] == [("1/r/artifacts/docs", True, None)]
    assert [(e.path, e.size) for e in store.list("1/r/artifacts/docs")] == [("1/r/artifacts/docs/a.txt", 11)]
    assert store.list("1/r/nothing-here") == []


def test_a_broken_upload_leaves_nothing(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    asyncio.run(store.write("x/old.txt", chunks(b"kept")))
    with pytest.raises(ConnectionResetError):
        asyncio.run(store.write("x/old.txt", failing()))
    assert store.file("x/old.txt").read_bytes() == b"kept"
    assert sorted(os.listdir(tmp_path / "x")) == ["old.txt"], "no temporary file is left behind"


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../up", "a/../../b", "a//b", "a/./b", "a\\b", "a\x00b", "a/.."])
def test_paths_that_could_leave_the_root_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(InvalidParameter):
        ArtifactStore(tmp_path).resolve(path)


def test_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(InvalidParameter, match="outside"):
        ArtifactStore(tmp_path / "root").resolve("link/secret.txt")


def test_missing_files_and_relative_paths(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        ArtifactStore(tmp_path).file("nope.txt")
    assert check_relative("a/b/") == "a/b"


def test_an_upload_over_the_limit_is_a_413_and_leaves_nothing(tmp_path: Path) -> None:
    from query_api.artifacts import TooLarge

    store = ArtifactStore(tmp_path, max_bytes=10)
    asyncio.run(store.write("x/ok.bin", chunks(b"0123456789")))
    with pytest.raises(TooLarge) as caught:
        asyncio.run(store.write("x/big.bin", chunks(b"012345", b"6789", b"!")))
    assert caught.value.status_code == 413
    assert sorted(os.listdir(tmp_path / "x")) == ["ok.bin"], "nothing of the refused upload is kept"


@pytest.mark.parametrize("path", ["a/" + "b" * 256, "a/" + "b/" * 600 + "c", "é" * 200])
def test_over_long_artifact_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidParameter, match="too long"):
        check_relative(path)
