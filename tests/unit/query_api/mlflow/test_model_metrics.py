"""Log-batch points that carry a model_id: linked to the model, not added to the run twice."""

from __future__ import annotations

from query_api.mlflow.model_metrics import linked_metrics, split_points

MID = "m-" + "1" * 32


def test_points_are_grouped_by_model_and_dataset_with_stable_ids() -> None:
    metrics = [{"key": "acc", "model_id": MID, "dataset_name": "val", "dataset_digest": "d"},
               {"key": "loss"}, {"key": "acc", "model_id": MID}]
    points = [("acc", 0.9, 10, 1), ("loss", 0.1, 10, 1), ("acc", 0.8, 11, 2)]
    linked = linked_metrics("r" * 32, metrics, points)
    assert [(p.model_id, p.dataset_name, p.keys, p.values) for _, p in linked] == [
        (MID, "val", ["acc"], [0.9]), (MID, None, ["acc"], [0.8])]
    assert [i for i, _ in linked] == [i for i, _ in linked_metrics("r" * 32, metrics, points)], "a retry: same ids"
    assert linked_metrics("r" * 32, [{"key": "loss"}], [("loss", 0.1, 10, 1)]) == []


def test_only_linked_points_the_run_already_holds_are_left_out() -> None:
    metrics = [{"key": "acc", "model_id": MID}, {"key": "acc", "model_id": MID}, {"key": "loss"}]
    points = [("acc", 0.9, 10, 1), ("acc", 0.95, 12, 2), ("loss", 0.1, 10, 1)]
    asked: list[list[str]] = []

    def existing(keys: list[str]) -> set[tuple[str, int, int, float]]:
        asked.append(keys)
        return {("acc", 10, 1, 0.9), ("loss", 10, 1, 0.1)}

    assert split_points(metrics, points, existing) == [("acc", 0.95, 12, 2), ("loss", 0.1, 10, 1)]
    assert asked == [["acc"]]
    assert split_points([{"key": "loss"}], [("loss", 0.1, 10, 1)], existing) == [("loss", 0.1, 10, 1)]
    assert len(asked) == 1, "no query when nothing is linked"
