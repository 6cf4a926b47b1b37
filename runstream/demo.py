"""A seeded demo sweep, published with the SDK, and a leaderboard read back through the API."""

from __future__ import annotations

import json
import math
import random
import time
import urllib.request
from typing import Any

from producer import Tracker

DEMO_EXPERIMENT = "demo-sweep"


def publish_demo_sweep(bootstrap: str, topic: str, *, runs: int = 50, steps: int = 500, seed: int = 7) -> int:
    """Log `runs` runs x 3 metrics x `steps` steps; return the number of points."""
    rng = random.Random(seed)
    points = 0
    with Tracker(bootstrap_servers=bootstrap, topic=topic) as tracker:
        for i in range(runs):
            lr = 10 ** rng.uniform(-4, -1)
            batch = rng.choice([32, 64, 128, 256])
            params = {"lr": round(lr, 6), "batch_size": batch, "optimizer": rng.choice(["adam", "sgd"])}
            with tracker.start_run(DEMO_EXPERIMENT, f"trial-{i:03d}", params=params, tags={"demo": "true"}) as run:
                floor = 0.05 + abs(math.log10(lr) + 2.5) * 0.08 + rng.uniform(0, 0.05)
                for step in range(steps):
                    decay = math.exp(-step / (60 + batch / 4))
                    loss = floor + (2.0 - floor) * decay + rng.gauss(0, 0.01)
                    run.log_metrics({"train_loss": loss, "val_loss": loss * 1.08 + rng.gauss(0, 0.01),
                                     "accuracy": 1 - loss / 2.2}, step=step)
                    points += 3
        tracker.flush()
    return points


def _post(url: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(url, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(req, timeout=30) as resp:
        result: dict[str, Any] = json.load(resp)
        return result


def wait_and_print_leaderboard(
    api: str, runs: int, steps: int, timeout: float = 300.0, token: str | None = None
) -> None:
    """Wait until every demo point is visible through the API, then print the top 10 by final val_loss."""
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            body = {"experiment_names": [DEMO_EXPERIMENT], "max_results": 1000}
            found = _post(f"{api}/api/v1/runs/search", body, token)["runs"]
        except OSError:
            found = []
        done = [r for r in found
                if r["status"] == "FINISHED" and r["metrics"].get("val_loss", {}).get("count") == steps]
        if len(done) >= runs:
            break
        time.sleep(1)
    ranked = sorted(found, key=lambda r: r["metrics"].get("val_loss", {}).get("last", math.inf))[:10]
    print(f"\nLeaderboard of {DEMO_EXPERIMENT!r} ({len(found)} runs), top 10 by final val_loss:")
    print(f"{'rank':>4}  {'run':<10} {'val_loss':>9}  {'lr':>9} {'batch':>6} optimizer")
    for rank, r in enumerate(ranked, 1):
        p = r["params"]
        print(f"{rank:>4}  {r['name']:<10} {r['metrics']['val_loss']['last']:>9.4f}  {p['lr']:>9} {p['batch_size']:>6} "
              f"{p['optimizer']}")
    print(f"\nAPI: {api}/api/v1/experiments  (docs at {api}/docs)\n")
