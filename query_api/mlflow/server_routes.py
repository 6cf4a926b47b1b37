"""What MLflow's client asks a tracking server on the way: health, version, server-info, logged models."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from query_api.jsonresponse import JSONResponse

MLFLOW_API_VERSION = "3.17.2"  # the MLflow release whose client the compatibility tests drive

plain = APIRouter(tags=["mlflow"])
v3 = APIRouter(prefix="/mlflow", tags=["mlflow"])


@plain.get("/health", response_class=PlainTextResponse)
def health() -> str:
    """Liveness, as MLflow's server answers it (readiness with reasons: /healthz)."""
    return "OK"


@plain.get("/version", response_class=PlainTextResponse)
def version() -> str:
    return MLFLOW_API_VERSION


@v3.get("/server-info")
def server_info() -> JSONResponse:
    """Capabilities the client checks before logging: no workspaces, no multipart artifact transfers."""
    return JSONResponse({
        "store_type": "runstream", "workspaces_enabled": False, "trace_archival_enabled": False,
        "multipart_uploads_enabled": False, "multipart_downloads_enabled": False,
        "presigned_upload_run_id_supported": False, "presigned_upload_model_id_supported": False,
        "features_enabled": {"gateway": False},
    })
