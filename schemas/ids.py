"""Identifiers every side makes or checks without asking anyone: run, event and experiment ids."""

import re
import uuid

RUN_ID_PATTERN = "^[0-9a-f]{32}$"  # a run id: 32 lowercase hex characters (what new_run_id makes)
RUN_ID = re.compile(RUN_ID_PATTERN)

_EXPERIMENTS = uuid.UUID("6f1d3c1e-52b4-4e4f-9a39-0c5b0e8b7a11")
DEFAULT_EXPERIMENT = "Default"
DEFAULT_EXPERIMENT_ID = "0"


def new_run_id() -> str:
    """A fresh run id: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def new_event_id() -> str:
    return str(uuid.uuid4())


def experiment_id_for(name: str, attempt: int = 0) -> str:
    """The experiment id every machine derives from the same name, so no coordination is needed.

    An integer string, as MLflow's clients expect: "0" for the Default experiment, else 63 bits of a
    UUIDv5 of the name. `attempt` > 0 derives the alternatives the server uses when a renamed experiment
    already holds the name's id."""
    if name == DEFAULT_EXPERIMENT and attempt == 0:
        return DEFAULT_EXPERIMENT_ID
    seed = name if attempt == 0 else f"{name}\x00{attempt}"
    return str(uuid.uuid5(_EXPERIMENTS, seed).int >> 65)


def is_run_id(value: object) -> bool:
    """True for a string of 32 lowercase hex characters."""
    return isinstance(value, str) and RUN_ID.match(value) is not None
