"""The model registry folded from its events (rows of registry_changes in log order), as of any instant.

Pure: the same rows give the same registry, so a replayed log gives the same answers, and an as-of answer is
the fold of the rows written up to that instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Version:
    version: int
    source: str
    run_id: str | None
    model_id: str | None
    run_link: str | None
    description: str | None
    created: datetime
    updated: datetime
    user: str
    stage: str = "None"
    storage_location: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    deleted: bool = False


@dataclass
class RegisteredModel:
    registered_model_id: str
    name: str
    description: str | None
    created: datetime
    updated: datetime
    user: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: dict[int, Version] = field(default_factory=dict)
    deleted: bool = False

    def live_versions(self) -> list[Version]:
        return [v for _, v in sorted(self.versions.items()) if not v.deleted]

    def next_version(self) -> int:
        """Version numbers are never reused within a registered model (deleted ones included)."""
        return max(self.versions, default=0) + 1


def _apply(models: dict[str, RegisteredModel], row: Mapping[str, Any]) -> None:
    kind, mid, at = row["event_type"], row["registered_model_id"], row["event_time"]
    if kind == "RegisteredModelCreated":
        models[mid] = RegisteredModel(mid, row["name"], row["description"], at, at, row["user"], dict(row["tags"]))
        return
    model = models.get(mid)
    if model is None:
        return
    model.updated = at
    n = row["version"]
    version = model.versions.get(n)
    if kind == "RegisteredModelRenamed":
        model.name = row["new_name"]
    elif kind == "RegisteredModelDescribed":
        model.description = row["description"]
    elif kind == "RegisteredModelDeleted":
        model.deleted = True
    elif kind == "RegisteredModelTagsSet":
        model.tags.update(row["tags"])
    elif kind == "RegisteredModelTagDeleted":
        model.tags.pop(row["tag_key"], None)
    elif kind == "ModelAliasSet":
        model.aliases[row["alias"]] = n
    elif kind == "ModelAliasDeleted":
        model.aliases.pop(row["alias"], None)
    elif kind == "ModelVersionCreated":
        model.versions[n] = Version(n, row["source"], row["run_id"], row["model_id"], row["run_link"],
                                    row["description"], at, at, row["user"], tags=dict(row["tags"]),
                                    storage_location=row["storage_location"])
    elif version is not None:
        version.updated = at
        if kind == "ModelVersionDescribed":
            version.description = row["description"]
        elif kind == "ModelVersionStageChanged":
            version.stage = row["stage"]
        elif kind == "ModelVersionTagsSet":
            version.tags.update(row["tags"])
        elif kind == "ModelVersionTagDeleted":
            version.tags.pop(row["tag_key"], None)
        elif kind == "ModelVersionDeleted":
            version.deleted = True
            model.aliases = {a: v for a, v in model.aliases.items() if v != n}


def fold(rows: Iterable[Mapping[str, Any]], as_of: datetime | None = None) -> dict[str, RegisteredModel]:
    """Every registered model ever created (deleted ones flagged), by registered_model_id; rows in log order."""
    models: dict[str, RegisteredModel] = {}
    for row in rows:
        if as_of is not None and row["event_time"] > as_of:
            continue
        _apply(models, row)
    return models


def by_name(models: Mapping[str, RegisteredModel], name: str) -> RegisteredModel | None:
    """The live registered model called `name` now."""
    return next((m for m in models.values() if not m.deleted and m.name == name), None)
