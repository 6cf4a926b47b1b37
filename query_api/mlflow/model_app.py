"""Wiring of the MLflow 3 model routes into the app: services built in the lifespan, routers at start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from query_api.mlflow import gateway_routes, model_routes, registry_routes, unimplemented
from query_api.mlflow.gateway import GatewayStore
from query_api.mlflow.gateway_crypto import Keyring
from query_api.mlflow.logged_models import LoggedModels
from query_api.mlflow.registry import Registry
from query_api.mlflow.service import MlflowService


def build_model_services(app: FastAPI, tracking: MlflowService, *, gateway_passphrase: str | None = None) -> None:
    app.state.models = LoggedModels(tracking)
    app.state.registry = Registry(tracking, app.state.models)
    app.state.gateway = GatewayStore(tracking, Keyring(gateway_passphrase))


def install_model_routes(app: FastAPI, dependencies: Sequence[Any]) -> None:
    """Logged-model, registry and AI-gateway routes under MLflow's prefixes, then the catch-all for what is not
    served."""
    for prefix in ("/api/2.0", "/ajax-api/2.0"):
        unimplemented.include_served(app, model_routes.router, prefix=prefix, dependencies=dependencies)
        unimplemented.include_served(app, registry_routes.router, prefix=prefix, dependencies=dependencies)
    for prefix in ("/api/3.0", "/ajax-api/3.0"):  # the gateway's secrets and model definitions are MLflow 3 APIs
        unimplemented.include_served(app, gateway_routes.router, prefix=prefix, dependencies=dependencies)
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/3.0/mlflow",
                   "/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"):
        app.include_router(unimplemented.router, prefix=prefix, dependencies=list(dependencies))
