"""What the MLflow client may call that runstream does not serve: an MLflow-shaped JSON error, never HTML.

Families of MLflow's REST API that runstream leaves out (traces, prompts, webhooks, scorers, GenAI datasets,
the AI gateway, ...) answer 501 NOT_IMPLEMENTED naming the family, so a client fails with a clear message;
any other unknown path under the MLflow prefixes answers 404 ENDPOINT_NOT_FOUND, as MLflow's server does.
Included after every real route, so it only sees what nothing else matched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.routing import compile_path

from query_api.errors import error_body
from query_api.jsonresponse import JSONResponse

UNSUPPORTED = {
    "traces": "traces", "spans": "traces", "assessments": "traces", "prompts": "prompts",
    "prompt-optimization": "prompts", "webhooks": "webhooks", "scorers": "scorers", "datasets": "GenAI datasets",
    "gateway": "the AI gateway", "issues": "issues", "label-schemas": "label schemas",
    "review-queues": "review queues", "evaluation-runs": "evaluations", "graphql": "GraphQL",
    "secrets": "the AI gateway", "gateway-proxy": "the AI gateway", "create-promptlab-run": "prompt lab",
    "workspaces": "workspaces", "users": "users", "permissions": "permissions",
}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

router = APIRouter(include_in_schema=False)


def answer(method: str, path: str) -> JSONResponse:
    """The error for an MLflow path nothing serves (pure apart from building the response)."""
    parts = [s for s in path.split("/") if s]
    family = next((UNSUPPORTED[s] for s in parts if s in UNSUPPORTED), None)
    if family is not None:
        return JSONResponse(error_body("NOT_IMPLEMENTED", f"runstream does not implement MLflow's {family} API "
                                       f"({method} {path}); see docs/mlflow.md"), status_code=501)
    return JSONResponse(error_body("ENDPOINT_NOT_FOUND", f"No such MLflow endpoint: {method} {path}"),
                        status_code=404)


def include_served(app: FastAPI, router: APIRouter, *, prefix: str, dependencies: Sequence[Any] = ()) -> None:
    """Include an MLflow router and remember its paths and methods: a served path asked with another method is
    answered 405 by the catch-all (which matches every method, so it wins over Starlette's own 405)."""
    app.include_router(router, prefix=prefix, dependencies=list(dependencies))
    served: list[tuple[re.Pattern[str], set[str]]] = getattr(app.state, "mlflow_served", [])
    served += [(compile_path(prefix + route.path)[0], set(route.methods or ())) for route in router.routes
               if isinstance(route, APIRoute)]
    app.state.mlflow_served = served


def allowed_methods(request: Request) -> set[str]:
    """The methods the served routes answer for this path."""
    served: list[tuple[re.Pattern[str], set[str]]] = getattr(request.app.state, "mlflow_served", [])
    return {m for pattern, methods in served if pattern.match(request.url.path) for m in methods}


@router.api_route("/{rest:path}", methods=METHODS)
def not_served(rest: str, request: Request) -> JSONResponse:
    if allowed := allowed_methods(request):
        return JSONResponse(error_body("METHOD_NOT_ALLOWED", f"{request.method} is not served for "
                                       f"{request.url.path}; it answers {', '.join(sorted(allowed))}"),
                            status_code=405, headers={"Allow": ", ".join(sorted(allowed))})
    return answer(request.method, request.url.path)
