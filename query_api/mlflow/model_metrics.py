"""Metric points of a log-batch that carry a model_id (and maybe a dataset): linked to the logged model.

MLflow's client re-logs a run's metrics with the new model's id after log_model; MLflow's stores keep one row
per identical point, so a re-logged point links the model without being added to the run a second time.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from query_api.mlflow.validation import Point
from schemas.model_events import LoggedModelMetricsLogged

_IDS = uuid.UUID("5f0f6a43-2c1e-4b8e-9a57-0d3c2b7e8f11")


def _event_id(run_id: str, link: tuple[str, str | None, str | None], points: Sequence[Point]) -> str:
    """Derived from the content, so a retried request publishes the same event (counted once)."""
    canonical = json.dumps([run_id, *link, [[k, repr(v), ts, s] for k, v, ts, s in points]], separators=(",", ":"))
    return str(uuid.uuid5(_IDS, hashlib.sha256(canonical.encode()).hexdigest()))


def linked_metrics(run_id: str, metrics: Sequence[Any], points: Sequence[Point]
                   ) -> list[tuple[str, LoggedModelMetricsLogged]]:
    """(event id, payload) per (model, dataset) of the points whose request metric carries a model_id (pure)."""
    groups: dict[tuple[str, str | None, str | None], list[Point]] = {}
    for metric, point in zip(metrics, points, strict=True):
        model_id = metric.get("model_id") if isinstance(metric, dict) else None
        if model_id:
            link = (str(model_id), metric.get("dataset_name") or None, metric.get("dataset_digest") or None)
            groups.setdefault(link, []).append(point)
    return [(_event_id(run_id, link, group),
             LoggedModelMetricsLogged(link[0], link[1], link[2], [k for k, *_ in group], [v for _, v, *_ in group],
                                      [ts for *_, ts, _ in group], [s for *_, s in group]))
            for link, group in groups.items()]


def split_points(metrics: Sequence[Any], points: Sequence[Point],
                 existing: Callable[[list[str]], set[tuple[str, int, int, float]]]
                 ) -> Sequence[Point]:
    """The points to add to the run: all, less the model-linked ones the run already holds (`existing(keys)`
    answers those, asked only when some point carries a model_id)."""
    linked = [isinstance(m, dict) and bool(m.get("model_id")) for m in metrics]
    if not any(linked):
        return points
    held = existing(sorted({pt[0] for pt, is_linked in zip(points, linked, strict=True) if is_linked}))
    return [pt for pt, is_linked in zip(points, linked, strict=True)
            if not (is_linked and (pt[0], pt[2], pt[3], pt[1]) in held)]
