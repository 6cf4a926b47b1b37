"""Which store holds the files under an artifact URI: this server's artifact store (`mlflow-artifacts:`), the
operator's client-direct `file:` root (read here, never written: clients write there themselves), or none."""

from __future__ import annotations

from pathlib import Path

from query_api.artifacts import ArtifactStore
from query_api.mlflow import protocol as p
from query_api.mlflow.sources import local_path


class Locations:
    def __init__(self, proxied: ArtifactStore, default_artifact_root: str | None) -> None:
        self.proxied = proxied
        # Only under the root the operator configured: an experiment's own file: location, which any client may
        # name, is never read by the server (it could name any file of the server's machine).
        self._root = local_path(default_artifact_root) if default_artifact_root else None
        self._direct = ArtifactStore(Path(self._root)) if self._root else None

    def find(self, uri: str) -> tuple[ArtifactStore, str] | None:
        """(store, path in it) of the files under `uri`; None when this server cannot read them."""
        if (path := p.proxied_path(uri)) is not None:
            return self.proxied, path
        local = local_path(uri) if uri.startswith("file:") else None
        if self._direct is None or self._root is None or local is None:
            return None
        if local == self._root or local.startswith(self._root.rstrip("/") + "/"):
            return self._direct, local[len(self._root):].strip("/")
        return None

    def listing(self, uri: str, sub: str | None) -> list[dict[str, object]]:
        """MLflow's file entries directly under `uri`/`sub` (paths relative to `uri`); none for files this
        server cannot read (a location its clients write to themselves: s3://, another machine's file:)."""
        if sub and (".." in sub.split("/") or sub.startswith("/")):
            raise p.MlflowError("Invalid path")  # MLflow's words for a path leaving the artifact root
        found = self.find(uri)
        if found is None:
            return []
        store, root = found
        listed = store.list("/".join(part for part in (root, sub) if part) or None)
        prefix = f"{root}/" if root else ""
        return [p.drop_none({"path": e.path.removeprefix(prefix), "is_dir": e.is_dir, "file_size": e.size})
                for e in listed]

    def file(self, uri: str, relative: str) -> Path:
        """The file at `uri`/`relative` (404 when absent or not readable by this server)."""
        if not relative or ".." in relative.split("/") or relative.startswith("/"):
            raise p.MlflowError("Invalid path")
        found = self.find(uri)
        if found is None:
            raise p.DoesNotExist(f"The files under {uri} are written by its clients to a location this server does "
                                 "not read; download them from there.")
        store, root = found
        return store.file("/".join(part for part in (root, relative) if part))
