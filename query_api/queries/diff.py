"""What changed in a run between two instants: the difference of two as-of states (one fold, applied twice)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EMPTY: dict[str, Any] = {"name": None, "status": None, "deleted": False, "params": {}, "tags": {}, "metrics": {}}


def diff_states(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """Tags set or removed, params added, attribute changes, metric keys added and points logged."""
    old, new = before or EMPTY, after or EMPTY
    changes = {
        field: {"from": old[field], "to": new[field]}
        for field in ("name", "status", "deleted") if old[field] != new[field]
    }
    points = {
        key: summary["count"] - old["metrics"].get(key, {}).get("count", 0)
        for key, summary in new["metrics"].items()
        if summary["count"] != old["metrics"].get(key, {}).get("count", 0)
    }
    return {
        "existed_before": before is not None,
        "attributes": changes,
        "tags_set": {k: v for k, v in new["tags"].items() if old["tags"].get(k) != v},
        "tags_removed": sorted(k for k in old["tags"] if k not in new["tags"]),
        "params_added": {k: v for k, v in new["params"].items() if k not in old["params"]},
        "metric_keys_added": sorted(k for k in new["metrics"] if k not in old["metrics"]),
        "points_logged": dict(sorted(points.items())),
    }
