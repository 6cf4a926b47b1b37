"""Where a model version's files may be, checked as MLflow's server checks them (pure).

A local path (or `file:` URI) is only accepted inside the artifact directory of the run (or logged model) the
request names: the registry must not become a way to point at any file of the server's machine."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urlparse

from query_api.mlflow import protocol as p


def local_path(uri: str) -> str | None:
    """The normalized absolute path of a local location (a plain path, or `file:` with no host or localhost);
    None for anything else (`s3://`, `models:/`, `mlflow-artifacts:/`, a `file:` URI of another host)."""
    parsed = urlparse(uri)
    if parsed.scheme == "" or (parsed.scheme == "file" and parsed.netloc in ("", "localhost")):
        path = unquote(parsed.path) if parsed.scheme else uri
        return posixpath.normpath(path) if path else None  # a relative path stays relative: inside nothing
    return None


def inside(root_uri: str, source: str) -> bool:
    """True when `source` is local and lies in (or is) the local directory `root_uri`."""
    root, path = local_path(root_uri), local_path(source)
    if root is None or path is None or not posixpath.isabs(root) or not posixpath.isabs(path):
        return False
    return path == root or path.startswith(root.rstrip("/") + "/")


def check_local(source: str, owner_root: str | None, owner: str) -> None:
    """Refuse a local source unless it lies in its run's (owner="run_id") or logged model's (owner="model_id")
    artifact directory, in MLflow's words."""
    if owner_root is not None and inside(owner_root, source):
        return
    whose = "run" if owner == "run_id" else "logged model"
    raise p.MlflowError(f"Invalid model version source: '{source}'. To use a local path as a model version source, "
                        f"the {owner} request parameter has to be specified and the local path has to be contained "
                        f"within the artifact directory of the {whose} specified by the {owner}.")


def check_remote(source: str) -> None:
    """A non-local source: no `..` segment (it could leave the location it names), no other host's `file:`."""
    parsed = urlparse(source)
    if parsed.scheme == "file":
        raise p.NotARemoteUri(f"{source} is not a valid remote uri. For remote access on windows, please consider "
                            "using a different scheme such as SMB (e.g. smb://<hostname>/<path>).")
    if ".." in unquote(parsed.path).split("/"):
        raise p.MlflowError(f"Invalid model version source: '{source}'. If supplying a source as an http, https, "
                            "local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be "
                            "provided without relative path references present. Please provide an absolute path.")
