"""The model registry's side of MLflow's protocol, pure: name, version and alias checks, and the JSON shapes of
registered models and model versions."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from query_api.mlflow import protocol as p
from query_api.mlflow.registry_fold import RegisteredModel, Version

STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}
_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
MODEL_VERSIONS_TAG = "mlflow.modelVersions"


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def version_shape(model: RegisteredModel, v: Version) -> dict[str, Any]:
    return p.drop_none({
        "name": model.name, "version": str(v.version), "creation_timestamp": epoch_ms(v.created),
        "last_updated_timestamp": epoch_ms(v.updated), "user_id": v.user or None, "current_stage": v.stage,
        "description": v.description, "source": v.source, "run_id": v.run_id, "status": "READY",
        "run_link": v.run_link, "model_id": v.model_id,
        "tags": [{"key": k, "value": t} for k, t in sorted(v.tags.items())] or None,
        "aliases": sorted(a for a, n in model.aliases.items() if n == v.version) or None,
    })


def model_shape(model: RegisteredModel) -> dict[str, Any]:
    latest: dict[str, Version] = {}
    for v in model.live_versions():
        latest[v.stage] = v
    return p.drop_none({
        "name": model.name, "creation_timestamp": epoch_ms(model.created),
        "last_updated_timestamp": epoch_ms(model.updated),
        "user_id": model.user or None, "description": model.description,
        "latest_versions": [version_shape(model, v) for v in sorted(latest.values(), key=lambda v: v.version)]
        or None,
        "tags": [{"key": k, "value": t} for k, t in sorted(model.tags.items())] or None,
        "aliases": [{"alias": a, "version": str(n)} for a, n in sorted(model.aliases.items())] or None,
    })


def check_name(name: Any) -> str:
    if name is None or name == "":
        raise p.MlflowError("Registered model name cannot be empty.")
    if not isinstance(name, str):
        raise p.MlflowError(p.invalid_value("name", name))
    return name


def check_version(version: Any) -> int:
    try:
        number = int(str(version))
    except ValueError:
        raise p.MlflowError(f"Parameter 'version' must be an integer, got '{version}'.") from None
    if number < 1:
        raise p.MlflowError(f"Parameter 'version' must be an integer, got '{version}'.")
    return number


def check_alias(alias: Any) -> str:
    if alias is None or alias == "":
        raise p.MlflowError("Registered model alias name cannot be empty.")
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise p.MlflowError(f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores "
                            "(_), and dashes (-).")
    if alias.lower() == "latest":
        raise p.MlflowError("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS.match(alias):
        raise p.MlflowError(f"Version alias name '{alias}' is reserved.")
    return alias


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
