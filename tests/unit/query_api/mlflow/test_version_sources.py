"""Model version sources and artifact locations: what is local, what lies inside a run's directory, and which
store (if any) this server reads a location's files from."""

from __future__ import annotations

from pathlib import Path

import pytest

from query_api.artifacts import ArtifactStore
from query_api.mlflow import protocol as p
from query_api.mlflow.locations import Locations
from query_api.mlflow.sources import check_local, check_remote, inside, local_path


@pytest.mark.parametrize(("uri", "path"), [
    ("/data/x", "/data/x"), ("file:///data/x", "/data/x"), ("file://localhost/data/x/", "/data/x"),
    ("file:///data/x/model/..", "/data/x"), ("file:///data/a%20b", "/data/a b"), ("relative/dir/.", "relative/dir"),
    ("s3://bucket/x", None), ("mlflow-artifacts:/1/r/artifacts", None), ("models:/m-1", None),
    ("file://10.0.0.1/data/x", None),
])
def test_local_paths_are_normalised_and_remote_ones_are_not_local(uri: str, path: str | None) -> None:
    assert local_path(uri) == path


def test_a_source_is_inside_a_run_directory_only_below_it() -> None:
    run = "file:///root/1/abc/artifacts"
    assert inside(run, "/root/1/abc/artifacts")
    assert inside(run, "file:///root/1/abc/artifacts/model/.")
    assert not inside(run, "/root/1/abc/artifacts-other")  # a sibling sharing the prefix
    assert not inside(run, "/root/1/abc/artifacts/../../2/x")
    assert not inside("mlflow-artifacts:/1/abc/artifacts", "/root/1/abc/artifacts")
    assert not inside("file:///root", "root/1")  # a relative path is inside nothing


def test_local_sources_outside_their_run_are_refused_in_mlflows_words() -> None:
    check_local("/root/1/abc/artifacts/model", "file:///root/1/abc/artifacts", "run_id")
    with pytest.raises(p.MlflowError, match="the run_id request parameter has to be specified"):
        check_local("/tmp", "file:///root/1/abc/artifacts", "run_id")
    with pytest.raises(p.MlflowError, match="the model_id request parameter .* logged model specified by the model_id"):
        check_local("/tmp", None, "model_id")


def test_remote_sources_with_relative_segments_or_another_hosts_file_uri_are_refused() -> None:
    check_remote("mlflow-artifacts://host:9000/models/artifact/..../")
    check_remote("s3://bucket/models///x")
    with pytest.raises(p.MlflowError, match="without relative path references"):
        check_remote("mlflow-artifacts://host:9000/models/../../../")
    with pytest.raises(p.MlflowError, match="without relative path references"):
        check_remote("s3://bucket/a/%2E%2E/b")
    with pytest.raises(p.NotARemoteUri, match="is not a valid remote uri") as info:
        check_remote("file://10.1.2.3/path")
    assert info.value.status_code == 500


def test_the_server_reads_only_its_store_and_the_configured_root(tmp_path: Path) -> None:
    proxied = ArtifactStore(tmp_path / "proxied")
    (tmp_path / "root" / "0" / "r" / "artifacts").mkdir(parents=True)
    (tmp_path / "root" / "0" / "r" / "artifacts" / "f.txt").write_text("x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.txt").write_text("s")
    locations = Locations(proxied, (tmp_path / "root").as_uri())
    assert locations.find("mlflow-artifacts:/1/r/artifacts") == (proxied, "1/r/artifacts")
    run = f"{(tmp_path / 'root').as_uri()}/0/r/artifacts"
    assert locations.listing(run, None) == [{"path": "f.txt", "is_dir": False, "file_size": 1}]
    assert locations.file(run, "f.txt").read_text() == "x"
    assert locations.find((tmp_path / "elsewhere").as_uri()) is None
    assert locations.find(f"{(tmp_path / 'root').as_uri()}-sibling/x") is None
    assert locations.listing((tmp_path / "elsewhere").as_uri(), None) == []
    with pytest.raises(p.DoesNotExist, match="does not read"):
        locations.file((tmp_path / "elsewhere").as_uri(), "secret.txt")
    with pytest.raises(p.MlflowError, match="Invalid path"):
        locations.file(run, "../../../elsewhere/secret.txt")
    assert Locations(proxied, None).find(run) is None  # without a configured root nothing local is read
