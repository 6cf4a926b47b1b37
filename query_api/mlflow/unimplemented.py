"""What the MLflow client may call that runstream does not serve: an MLflow-shaped JSON error, never HTML.

Families of MLflow's REST API that runstream leaves out (traces, prompts, webhooks, scorers, GenAI datasets,
the AI gateway, ...) answer 501 NOT_IMPLEMENTED naming the family, so a client fails with a clear message;
any other unknown path under the MLflow prefixes answers 404 ENDPOINT_NOT_FOUND, as MLflow's server does.
Included after every real route, so it only sees what nothing else matched.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

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


@router.api_route("/{rest:path}", methods=METHODS)
def not_served(rest: str, request: Request) -> JSONResponse:
    return answer(request.method, request.url.path)
