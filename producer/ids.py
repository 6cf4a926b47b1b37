"""Identifiers the SDK makes without asking anyone."""

import uuid

_EXPERIMENTS = uuid.UUID("6f1d3c1e-52b4-4e4f-9a39-0c5b0e8b7a11")


def new_run_id() -> str:
    """A fresh run id: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def new_event_id() -> str:
    return str(uuid.uuid4())


def experiment_id_for(name: str) -> str:
    """The experiment id every machine derives from the same name, so no coordination is needed."""
    return uuid.uuid5(_EXPERIMENTS, name).hex
