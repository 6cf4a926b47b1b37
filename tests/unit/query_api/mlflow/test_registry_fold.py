"""The registry folded from its change rows: current state, as of an instant, version numbering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from query_api.mlflow.registry_fold import by_name, fold

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RMID = "a" * 32


def row(kind: str, seconds: int, version: int = 0, **values: Any) -> dict[str, Any]:
    base = {"registered_model_id": RMID, "event_type": kind, "event_time": T0 + timedelta(seconds=seconds),
            "user": "ana", "name": "clf", "version": version, "description": None, "new_name": None, "source": None,
            "run_id": None, "model_id": None, "run_link": None, "storage_location": None, "stage": None,
            "alias": None, "tag_key": None, "tags": {}}
    return base | values


ROWS = [
    row("RegisteredModelCreated", 0, tags={"team": "v"}),
    row("ModelVersionCreated", 1, 1, source="s3://a"),
    row("ModelVersionCreated", 2, 2, source="s3://b"),
    row("ModelAliasSet", 3, 1, alias="champion"),
    row("ModelAliasSet", 4, 2, alias="champion"),
    row("ModelVersionTagsSet", 5, 2, tags={"ok": "yes"}),
    row("RegisteredModelRenamed", 6, new_name="clf2"),
    row("ModelVersionDeleted", 7, 2),
]


def test_the_fold_now() -> None:
    model = by_name(fold(ROWS), "clf2")
    assert model is not None and by_name(fold(ROWS), "clf") is None
    assert [v.version for v in model.live_versions()] == [1]
    assert model.aliases == {}, "deleting a version drops the aliases pointing to it"
    assert model.tags == {"team": "v"} and model.next_version() == 3, "numbers are never reused"


def test_the_fold_as_of_an_instant() -> None:
    def champion(seconds: float) -> int | None:
        return fold(ROWS, T0 + timedelta(seconds=seconds))[RMID].aliases.get("champion")

    assert [champion(s) for s in (2.5, 3.5, 4.5, 7.5)] == [None, 1, 2, None]
    then = fold(ROWS, T0 + timedelta(seconds=5.5))[RMID]
    assert then.name == "clf" and then.versions[2].tags == {"ok": "yes"}


def test_a_deleted_and_recreated_name_is_a_new_model() -> None:
    other = "b" * 32
    rows = [row("RegisteredModelCreated", 0), row("RegisteredModelDeleted", 1),
            row("RegisteredModelCreated", 2, registered_model_id=other)]
    models = fold(rows)
    assert models[RMID].deleted and by_name(models, "clf") is models[other]
