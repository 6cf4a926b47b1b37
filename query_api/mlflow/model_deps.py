"""Dependencies of the MLflow 3 model routes: the logged-model and registry services (built in the lifespan)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from query_api.mlflow.logged_models import LoggedModels
    from query_api.mlflow.registry import Registry


async def get_models(request: Request) -> LoggedModels:
    models: LoggedModels = request.app.state.models
    return models


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


ModelsDep = Annotated["LoggedModels", Depends(get_models)]
RegistryDep = Annotated["Registry", Depends(get_registry)]
