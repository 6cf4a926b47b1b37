"""MLflow's AI-gateway REST API, secrets and model definitions (`/api/3.0/mlflow/gateway/…`, and the UI's
`/ajax-api/3.0/…`). Endpoints, bindings, budgets, guardrails and the proxy stay unimplemented (501)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from query_api.jsonresponse import JSONResponse
from query_api.mlflow.gateway import GatewayStore
from query_api.mlflow.routes import Args, Body, _ok

router = APIRouter(prefix="/mlflow/gateway", tags=["mlflow"])


async def get_gateway(request: Request) -> GatewayStore:
    gateway: GatewayStore = request.app.state.gateway
    return gateway


GatewayDep = Annotated[GatewayStore, Depends(get_gateway)]


def _params(args: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """MLflow's client sends GET and DELETE parameters in the query string or a body; take both."""
    return {**args, **body}


@router.get("/secrets/config")
def secrets_config(gateway: GatewayDep) -> JSONResponse:
    return JSONResponse({"secrets_available": True,
                         "using_default_passphrase": gateway.keyring.using_default_passphrase})


@router.post("/secrets/create")
def create_secret(body: Body, gateway: GatewayDep) -> JSONResponse:
    return _ok({"secret": gateway.create_secret(body.get("secret_name"), body.get("secret_value"),
                                                body.get("provider"), body.get("auth_config"),
                                                body.get("created_by"))})


@router.get("/secrets/get")
def get_secret(args: Args, gateway: GatewayDep) -> JSONResponse:
    return _ok({"secret": gateway.secret_answer(args.get("secret_id"))})


@router.post("/secrets/update")
def update_secret(body: Body, gateway: GatewayDep) -> JSONResponse:
    return _ok({"secret": gateway.update_secret(body.get("secret_id"), body.get("secret_value"),
                                                body.get("auth_config"), body.get("updated_by"))})


@router.delete("/secrets/delete")
def delete_secret(args: Args, body: Body, gateway: GatewayDep) -> JSONResponse:
    gateway.delete_secret(_params(args, body).get("secret_id"))
    return _ok()


@router.get("/secrets/list")
def list_secrets(args: Args, gateway: GatewayDep) -> JSONResponse:
    return _ok({"secrets": gateway.secrets(args.get("provider"))})


@router.post("/model-definitions/create")
def create_definition(body: Body, gateway: GatewayDep) -> JSONResponse:
    return _ok({"model_definition": gateway.create_definition(body.get("name"), body.get("secret_id"),
                                                              body.get("provider"), body.get("model_name"),
                                                              body.get("created_by"))})


@router.get("/model-definitions/get")
def get_definition(args: Args, gateway: GatewayDep) -> JSONResponse:
    return _ok({"model_definition": gateway.definition_answer(args.get("model_definition_id"))})


@router.get("/model-definitions/list")
def list_definitions(args: Args, gateway: GatewayDep) -> JSONResponse:
    return _ok({"model_definitions": gateway.definitions(args.get("provider"), args.get("secret_id"))})


@router.post("/model-definitions/update")
def update_definition(body: Body, gateway: GatewayDep) -> JSONResponse:
    return _ok({"model_definition": gateway.update_definition(
        body.get("model_definition_id"), body.get("name"), body.get("secret_id"), body.get("provider"),
        body.get("model_name"), body.get("updated_by"))})


@router.delete("/model-definitions/delete")
def delete_definition(args: Args, body: Body, gateway: GatewayDep) -> JSONResponse:
    gateway.delete_definition(_params(args, body).get("model_definition_id"))
    return _ok()
