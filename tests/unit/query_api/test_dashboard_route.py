"""The dashboard's static routes: the built page at /, and a clear answer while it is not built."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from query_api.routes.dashboard import install_dashboard


def client_for(directory: Path) -> TestClient:
    app = FastAPI()
    install_dashboard(app, directory)
    return TestClient(app)


def test_unbuilt_dashboard_says_to_run_make_web(tmp_path: Path) -> None:
    client = client_for(tmp_path / "missing")
    response = client.get("/")
    assert response.status_code == 503
    assert "make web" in response.text
    assert client.get("/assets/index.js").status_code == 404


def test_built_dashboard_is_served(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>runstream</title>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    client = client_for(tmp_path)
    assert client.get("/").text.startswith("<!doctype html>")
    script = client.get("/assets/index-abc.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert client.get("/assets/../index.html").status_code == 404
