"""The artifact store behind MLflow's artifact proxy: files under one root directory, written atomically.

Paths come from clients, so every one is checked to stay inside the root: no absolute paths, no `..`, no
empty or `.` segments, no backslashes or NUL bytes; symlinks that lead outside the root are refused too.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from query_api.errors import ApiError, InvalidParameter, NotFound

MAX_PATH_LENGTH = 1024  # characters of an artifact path; each segment at most 255 (a file name's limit)


class TooLarge(ApiError):
    status_code = 413
    error_code = "RESOURCE_LIMIT_EXCEEDED"


@dataclass(frozen=True)
class StoredFile:
    path: str
    size: int
    digest: str  # sha256:<hex>


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the listed directory's parent, as MLflow reports it
    is_dir: bool
    size: int | None


def check_relative(path: str, what: str = "path") -> str:
    """A relative POSIX path that names something inside a directory, or InvalidParameter."""
    if not path or "\x00" in path or "\\" in path or path.startswith("/"):
        raise InvalidParameter(f"{what} {path[:200]!r} must be a relative path inside the artifact root")
    parts = path.rstrip("/").split("/")
    if len(path) > MAX_PATH_LENGTH or any(len(part.encode()) > 255 for part in parts):
        raise InvalidParameter(f"{what} {path[:200]!r}… is too long: at most {MAX_PATH_LENGTH} characters, "
                               "255 bytes a segment")
    if any(part in ("", ".", "..") for part in parts) or posixpath.normpath(path) != path.rstrip("/"):
        raise InvalidParameter(f"{what} {path!r} must not contain empty, '.' or '..' segments")
    return path.rstrip("/")


class ArtifactStore:
    """Files under `root`; each write lands whole (temporary file, fsync, rename) or not at all."""

    def __init__(self, root: Path, *, max_bytes: int | None = None) -> None:
        self.root = root.expanduser().resolve()
        self.max_bytes = max_bytes

    def check_size(self, size: int) -> None:
        if self.max_bytes is not None and size > self.max_bytes:
            raise TooLarge(f"an artifact may hold at most {self.max_bytes} bytes (RUNSTREAM_ARTIFACT_MAX_BYTES)")

    def resolve(self, path: str) -> Path:
        target = (self.root / check_relative(path)).resolve()
        if target != self.root and self.root not in target.parents:
            raise InvalidParameter(f"path {path!r} leads outside the artifact root")
        return target

    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> StoredFile:
        target = self.resolve(path)
        if target.is_dir():
            raise InvalidParameter(f"{path!r} is a directory of artifacts")
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    self.check_size(size + len(chunk))
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return StoredFile(path, size, f"sha256:{digest.hexdigest()}")

    def remove(self, path: str) -> None:
        self.resolve(path).unlink(missing_ok=True)

    def file(self, path: str) -> Path:
        target = self.resolve(path)
        if not target.is_file():
            raise NotFound(f"artifact {path!r} does not exist")
        return target

    def list(self, path: str | None) -> list[Entry]:
        """The entries directly under `path` (the root when None), with paths as MLflow reports them:
        relative to `path`'s parent listing, i.e. `path/name`. A missing directory lists as empty."""
        directory = self.resolve(path) if path else self.root
        if not directory.is_dir():
            return []
        entries = []
        for child in sorted(directory.iterdir()):
            if child.name.startswith(".upload-"):
                continue
            rel = f"{path}/{child.name}" if path else child.name
            is_dir = child.is_dir()
            entries.append(Entry(rel, is_dir, None if is_dir else child.stat().st_size))
        return entries
