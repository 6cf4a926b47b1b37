"""The MLflow model registry over the event log. Each write folds the registry from ClickHouse (after this
instance's writes are projected), checks, and publishes events; writes go one at a time, so a check and the
write it guards see the same registry."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from query_api.mlflow import protocol as p
from query_api.mlflow import sources
from query_api.mlflow.logged_models import LoggedModels
from query_api.mlflow.registry_fold import RegisteredModel, Version, by_name, fold
from query_api.mlflow.registry_protocol import (
    MODEL_VERSIONS_TAG,
    STAGES,
    check_alias,
    check_name,
    check_version,
    model_shape,
    text_or_none,
    version_shape,
)
from query_api.mlflow.service import MlflowService
from query_api.queries import registry as q
from schemas import Payload
from schemas.model_events import (
    LoggedModelTagsSet,
    ModelAliasDeleted,
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionDescribed,
    ModelVersionStageChanged,
    ModelVersionTagDeleted,
    ModelVersionTagsSet,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelDescribed,
    RegisteredModelRenamed,
    RegisteredModelTagDeleted,
    RegisteredModelTagsSet,
)


class Registry:
    """Registered models, model versions and aliases."""

    def __init__(self, tracking: MlflowService, models: LoggedModels) -> None:
        self.tracking = tracking
        self.models = models
        self._lock = threading.Lock()

    # -- reads ------------------------------------------------------------------------------------------
    def state(self, as_of: datetime | None = None) -> dict[str, RegisteredModel]:
        self.tracking.reader.barrier.wait()
        return fold(q.rows(self.tracking.reader.clickhouse), as_of)

    def model(self, name: Any, state: dict[str, RegisteredModel] | None = None) -> RegisteredModel:
        name = check_name(name)
        found = by_name(self.state() if state is None else state, name)
        if found is None:
            raise p.DoesNotExist(f"Registered Model with name={name} not found")
        return found

    def version(self, name: Any, version: Any, state: dict[str, RegisteredModel] | None = None
                ) -> tuple[RegisteredModel, Version]:
        model = self.model(name, state)
        number = check_version(version)
        found = model.versions.get(number)
        if found is None or found.deleted:
            raise p.DoesNotExist(f"Model Version (name={model.name}, version={number}) not found")
        return model, found

    def by_alias(self, name: Any, alias: Any) -> dict[str, Any]:
        model = self.model(name)
        if alias not in model.aliases:
            raise p.MlflowError(f"Registered model alias {alias} not found.")
        return version_shape(model, model.versions[model.aliases[alias]])

    # -- writes -----------------------------------------------------------------------------------------
    def _publish(self, payloads: Sequence[Payload], user: str = "") -> None:
        writer = self.tracking.writer
        writer.publisher.publish([writer.event("", "", 1, payload, user=user) for payload in payloads])

    def create_model(self, name: Any, description: Any, tags: list[tuple[Any, Any]]) -> dict[str, Any]:
        name = check_name(name)
        checked = p.check_tags(tags)
        with self._lock:
            if by_name(self.state(), name) is not None:
                raise p.AlreadyExists(f"Registered Model (name={name}) already exists.")
            self._publish([RegisteredModelCreated(uuid.uuid4().hex, name, text_or_none(description), checked)])
            return model_shape(self.model(name))

    def rename_model(self, name: Any, new_name: Any) -> dict[str, Any]:
        new_name = check_name(new_name)
        with self._lock:
            state = self.state()
            model = self.model(name, state)
            if by_name(state, new_name) is not None:
                raise p.AlreadyExists(f"Registered Model (name={new_name}) already exists.")
            self._publish([RegisteredModelRenamed(model.registered_model_id, model.name, new_name)])
            return model_shape(self.model(new_name))

    def update_model(self, name: Any, description: Any) -> dict[str, Any]:
        with self._lock:
            model = self.model(name)
            self._publish([RegisteredModelDescribed(model.registered_model_id, model.name, text_or_none(description))])
            return model_shape(self.model(model.name))

    def delete_model(self, name: Any) -> None:
        with self._lock:
            model = self.model(name)
            self._publish([RegisteredModelDeleted(model.registered_model_id, model.name)])

    def set_model_tag(self, name: Any, key: Any, value: Any) -> None:
        tags = p.check_tags([(key, value)])
        with self._lock:
            model = self.model(name)
            self._publish([RegisteredModelTagsSet(model.registered_model_id, model.name, tags)])

    def delete_model_tag(self, name: Any, key: Any) -> None:
        with self._lock:
            model = self.model(name)
            if key in model.tags:  # MLflow's server answers success for an absent tag too
                self._publish([RegisteredModelTagDeleted(model.registered_model_id, model.name, str(key))])

    def create_version(self, name: Any, source: Any, run_id: Any, model_id: Any, run_link: Any, description: Any,
                       tags: list[tuple[Any, Any]]) -> dict[str, Any]:
        name = check_name(name)
        if not isinstance(source, str) or not source:
            raise p.MlflowError("Missing value for required parameter 'source'.")
        checked = p.check_tags(tags)
        storage, run_id, model_id = self._resolve_source(source, run_id or None, model_id or None)
        with self._lock:
            model = self.model(name)
            number = model.next_version()
            self._publish([ModelVersionCreated(model.registered_model_id, model.name, number, source, run_id,
                                               model_id, text_or_none(run_link), text_or_none(description), checked,
                                               storage)])
            if model_id:  # as MLflow's server does: the logged model lists its registrations
                self._tag_logged_model(model.name, number, model_id)
            found, version = self.version(model.name, number)
            return version_shape(found, version)

    def _resolve_source(self, source: str, run_id: str | None, model_id: str | None
                        ) -> tuple[str | None, str | None, str | None]:
        """(storage location, run id, model id) of a version's source, checked as MLflow's server checks it."""
        if source.startswith("models:/m-"):
            source_model = source.removeprefix("models:/").split("/", 1)[0]
            if model_id and model_id != source_model:
                raise p.MlflowError(f"Invalid model version source: '{source}'. The model_id parameter must "
                                    "match the model in the source.")
            logged = self.models.get(source_model)["info"]
            return logged["artifact_uri"], run_id or logged.get("source_run_id"), source_model
        if source.startswith("models:/"):
            parts = source.removeprefix("models:/").split("/")
            if len(parts) < 2:
                raise p.MlflowError(f"Invalid model version source: '{source}'.")
            found, version = self.version(parts[0], parts[1])
            return version.storage_location or version.source, version.run_id, version.model_id
        if source.startswith("runs:/"):
            source_run = source.removeprefix("runs:/").split("/", 1)[0]
            if run_id and run_id != source_run:
                raise p.MlflowError(f"Invalid model version source: '{source}'. The run_id request parameter has "
                                    "to be specified and must match the run_id in the source.")
            run = self.tracking.reader.get_run(source_run)
            rest = source.removeprefix(f"runs:/{source_run}").strip("/")
            return f"{run['info']['artifact_uri']}/{rest}".rstrip("/"), source_run, model_id
        if sources.local_path(source) is not None:  # only inside the named run's (or model's) own directory
            if run_id:
                sources.check_local(source, self.tracking.reader.get_run(run_id)["info"]["artifact_uri"], "run_id")
            elif model_id:
                sources.check_local(source, self.models.get(model_id)["info"]["artifact_uri"], "model_id")
            else:
                sources.check_local(source, None, "run_id")
            return None, run_id, model_id
        sources.check_remote(source)
        return None, run_id, model_id

    def _tag_logged_model(self, name: str, version: int, model_id: str) -> None:
        info = self.models.get(model_id)["info"]
        tags = {t["key"]: t["value"] for t in info.get("tags", [])}
        listed = json.loads(tags.get(MODEL_VERSIONS_TAG, "[]"))
        entry = {"name": name, "version": version}
        if entry not in listed:
            listed.append(entry)
            self.models._publish(info, [LoggedModelTagsSet(model_id, {MODEL_VERSIONS_TAG: json.dumps(listed)})])

    def update_version(self, name: Any, version: Any, description: Any) -> dict[str, Any]:
        with self._lock:
            model, v = self.version(name, version)
            self._publish([ModelVersionDescribed(model.registered_model_id, model.name, v.version,
                                                 text_or_none(description))])
            return version_shape(*self.version(model.name, v.version))

    def transition_stage(self, name: Any, version: Any, stage: Any, archive_existing: Any) -> dict[str, Any]:
        wanted = STAGES.get(str(stage).lower())
        if wanted is None:
            raise p.MlflowError(f"Invalid Model Version stage: {stage}. Value must be one of "
                                f"{', '.join(STAGES.values())}.")
        with self._lock:
            model, v = self.version(name, version)
            payloads: list[Payload] = [ModelVersionStageChanged(model.registered_model_id, model.name, v.version,
                                                                wanted)]
            if archive_existing in (True, "true", "True") and wanted in ("Staging", "Production"):
                payloads += [ModelVersionStageChanged(model.registered_model_id, model.name, other.version,
                                                      "Archived")
                             for other in model.live_versions() if other.version != v.version and other.stage == wanted]
            self._publish(payloads)
            return version_shape(*self.version(model.name, v.version))

    def delete_version(self, name: Any, version: Any) -> None:
        with self._lock:
            model, v = self.version(name, version)
            self._publish([ModelVersionDeleted(model.registered_model_id, model.name, v.version)])

    def set_version_tag(self, name: Any, version: Any, key: Any, value: Any) -> None:
        tags = p.check_tags([(key, value)])
        with self._lock:
            model, v = self.version(name, version)
            self._publish([ModelVersionTagsSet(model.registered_model_id, model.name, v.version, tags)])

    def delete_version_tag(self, name: Any, version: Any, key: Any) -> None:
        with self._lock:
            model, v = self.version(name, version)
            if key in v.tags:
                self._publish([ModelVersionTagDeleted(model.registered_model_id, model.name, v.version, str(key))])

    def set_alias(self, name: Any, alias: Any, version: Any) -> None:
        alias = check_alias(alias)
        with self._lock:
            model, v = self.version(name, version)
            self._publish([ModelAliasSet(model.registered_model_id, model.name, alias, v.version)])

    def delete_alias(self, name: Any, alias: Any) -> None:
        alias = check_alias(alias)
        with self._lock:
            model = self.model(name)
            if alias in model.aliases:
                self._publish([ModelAliasDeleted(model.registered_model_id, model.name, alias)])
