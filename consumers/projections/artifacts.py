"""Artifacts and inputs (datasets, logged models) of runs."""

from consumers.projections.base import COORDINATES, Block, LoggedEvent, Projection, coordinates
from schemas import ArtifactLogged, InputsLogged

ARTIFACT_COLUMNS = (
    "experiment_id", "run_id", "path", "uri", "size", "digest", "media_type", "event_time", "seq", *COORDINATES,
)
INPUT_COLUMNS = (
    "experiment_id", "run_id", "name", "digest", "source_type", "source", "context", "schema", "profile",
    "tag_keys", "tag_values", "event_time", "seq", *COORDINATES,
)

MODEL_INPUT_COLUMNS = ("experiment_id", "run_id", "model_id", "event_time", *COORDINATES)


def project_artifacts(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, ArtifactLogged):
        block.append(e.experiment_id, e.run_id, p.path, p.uri, p.size, p.digest, p.media_type, e.event_time, e.seq,
                     *coordinates(logged))


def project_inputs(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, InputsLogged):
        for d in p.datasets:
            block.append(e.experiment_id, e.run_id, d.name, d.digest, d.source_type, d.source, d.context, d.schema,
                         d.profile, [k for k, _ in d.tags], [v for _, v in d.tags], e.event_time, e.seq,
                         *coordinates(logged))


def project_model_inputs(logged: LoggedEvent, block: Block) -> None:
    e, p = logged.event, logged.event.payload
    if isinstance(p, InputsLogged):
        for model_id in p.model_ids:
            block.append(e.experiment_id, e.run_id, model_id, e.event_time, *coordinates(logged))


ARTIFACTS = Projection("artifacts", ARTIFACT_COLUMNS, project_artifacts, payloads=(ArtifactLogged,))
INPUTS = Projection("inputs", INPUT_COLUMNS, project_inputs, payloads=(InputsLogged,))
MODEL_INPUTS = Projection("run_model_inputs", MODEL_INPUT_COLUMNS, project_model_inputs, payloads=(InputsLogged,))
