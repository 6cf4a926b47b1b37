"""The web dashboard's static files at / (built from web/ by `make web`; they hold no run data, so they are open)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

BUILT_DIR = Path(__file__).resolve().parent.parent / "static" / "dashboard"
NOT_BUILT = """<!doctype html><title>runstream</title>
<h1>The dashboard is not built</h1>
<p>Run <code>make web</code> (it needs Node.js 20 and npm), then reload this page.
The API itself is up: <a href="/docs">/docs</a>.</p>
"""


class _Assets(StaticFiles):
    """Static files that answer 404, not a server error, while the build directory does not exist."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.directory is None or not Path(self.directory).is_dir():
            await Response("dashboard assets are not built: run make web", status_code=404)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def install_dashboard(app: FastAPI, directory: Path | None = None) -> None:
    """Serve index.html at / and the hashed bundles under /assets/."""
    root = directory or BUILT_DIR
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def index() -> Response:
        page = root / "index.html"
        if not page.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503)
        return FileResponse(page, headers={"Cache-Control": "no-cache"})

    app.include_router(router)
    app.mount("/assets", _Assets(directory=root / "assets", check_dir=False), name="dashboard-assets")
