"""A search's experiment names come from memory while the log stands still, and from ClickHouse once it moves:
a rename is seen by the next search, and so is an experiment created since."""

from __future__ import annotations

import pytest

from schemas.ids import experiment_id_for
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def experiment_names(stack: Stack, experiment_ids: list[str]) -> dict[str, str]:
    """run name -> its experiment's name, as the search answers."""
    response = stack.api.post("/api/v1/runs/search", json={"experiment_ids": experiment_ids})
    assert response.status_code == 200, response.text
    return {run["name"]: run["experiment_name"] for run in response.json()["runs"]}


def start(stack: Stack, experiment: str, run: str) -> str:
    tracker = stack.tracker()
    with tracker.start_run(experiment, run, params={"p": 1}):
        pass
    assert tracker.flush(30) == 0
    tracker.close()
    stack.wait_projected()
    return experiment_id_for(experiment)


def test_a_rename_is_seen_by_the_next_search(stack: Stack) -> None:
    first = start(stack, "names-before", "a")
    assert experiment_names(stack, [first]) == {"a": "names-before"}
    assert experiment_names(stack, [first]) == {"a": "names-before"}  # the log stood still: from memory
    response = stack.api.post("/api/2.0/mlflow/experiments/update",
                              json={"experiment_id": first, "new_name": "names-after"})
    assert response.status_code == 200, response.text
    stack.wait_projected()
    assert experiment_names(stack, [first]) == {"a": "names-after"}

    second = start(stack, "names-new", "b")
    assert experiment_names(stack, [first, second]) == {"a": "names-after", "b": "names-new"}
    assert experiment_names(stack, [second, first]) == {"a": "names-after", "b": "names-new"}
