"""The same questions at the scale users leave MLflow: a 10,000-run sweep in both systems, timed over HTTP.

    python benchmarks/scale10k.py [--runs 10000 --metrics 5 --steps 50]   # also run by `make bench`

MLflow's REST API would take hours to take 10,000 runs, so the sweep goes into MLflow's store directly: its own
SQLAlchemy models (`mlflow.store.tracking.dbmodels.models`) inserted in bulk into a sqlite database whose schema
MLflow created (SqlAlchemyStore), latest_metrics included, then `mlflow server` is started on it. runstream gets
the same sweep the ordinary way: SDK producers (`log_metric_series`, one columnar batch per key and run)
through Kafka into `runstream up`. Then the questions of sweep.py are asked of both HTTP APIs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import sweep  # noqa: E402  (the sweep, its questions, the servers)


def mlflow_bulk_load(home: Path, args: argparse.Namespace) -> tuple[str, float]:
    """The sweep into a fresh MLflow sqlite store through MLflow's own models: (experiment id, seconds)."""
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    began = time.perf_counter()
    store = SqlAlchemyStore(f"sqlite:///{home / 'mlflow.db'}", str(home / "artifacts"))
    experiment_id = store.create_experiment(sweep.EXPERIMENT)
    keys = sweep.metric_names(args.metrics)
    now = int(time.time() * 1000)
    with store.ManagedSessionMaker() as session:
        for chunk in range(0, args.runs, 500):
            runs, params, tags, metrics, latest = [], [], [], [], []
            for run in range(chunk, min(chunk + 500, args.runs)):
                run_id = uuid.uuid4().hex
                runs.append({"run_uuid": run_id, "name": f"trial-{run}", "source_type": "LOCAL", "source_name": "",
                             "entry_point_name": "", "user_id": "bench", "status": "FINISHED", "start_time": now,
                             "end_time": now + 1, "source_version": "", "lifecycle_stage": "active",
                             "artifact_uri": f"{home / 'artifacts' / run_id}", "experiment_id": int(experiment_id)})
                params += [{"key": k, "value": v, "run_uuid": run_id}
                           for k, v in sweep.run_params(args.seed, run).items()]
                tags.append({"key": "mlflow.runName", "value": f"trial-{run}", "run_uuid": run_id})
                for i, key in enumerate(keys):
                    values = [sweep.metric_value(args.seed, run, i, step) for step in range(args.steps)]
                    metrics += [{"key": key, "value": v, "timestamp": now, "step": step, "is_nan": False,
                                 "run_uuid": run_id} for step, v in enumerate(values)]
                    latest.append({"key": key, "value": values[-1], "timestamp": now, "step": args.steps - 1,
                                   "is_nan": False, "run_uuid": run_id})
            for model, rows in ((SqlRun, runs), (SqlParam, params), (SqlTag, tags), (SqlMetric, metrics),
                                (SqlLatestMetric, latest)):
                session.execute(sa.insert(model.__table__), rows)
            session.commit()
    store.engine.dispose()
    return experiment_id, time.perf_counter() - began


def runstream_producer(bootstrap: str, runs: list[int], metrics: int, steps: int, seed: int, out: Any,
                       start: Any = None) -> None:
    """One producer process: each run's params, then each key's whole series in one call."""
    from producer import Tracker, TrackerSettings

    keys = sweep.metric_names(metrics)
    tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=bootstrap,
                                               spool_dir=Path(tempfile.mkdtemp(prefix="bench-spool-"))))
    sweep.together(start)
    first = time.time()
    for run in runs:
        with tracker.start_run(sweep.EXPERIMENT, f"trial-{run}", params=sweep.run_params(seed, run)) as active:
            for i, key in enumerate(keys):
                active.log_metric_series(key, range(steps), [sweep.metric_value(seed, run, i, s) for s in range(steps)])
    remaining = tracker.close(600)
    out.put({"first": first, "last": time.time(), "undelivered": remaining})


def runstream_side(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    from schemas.ids import experiment_id_for

    sampler = sweep.Sampler()
    stack = sweep.Runstream(home)
    stack.start()
    try:
        api = sweep.Http(stack.api_port)
        experiment_id = experiment_id_for(sweep.EXPERIMENT)
        expected = args.runs * args.metrics * args.steps
        procs, out = sweep.start_producers(runstream_producer, (stack.bootstrap,), args.runs, args, sampler,
                                           "runstream producers")
        reports = [out.get(timeout=3600) for _ in range(args.producers)]
        sweep.wait(lambda: sweep.visible_points(api, experiment_id) >= expected, 3600, "every point visible", 0.2)
        seconds = time.time() - min(r["first"] for r in reports)
        for proc in procs:
            proc.join(30)
        detail: dict[str, dict[str, Any]] = {}
        return {"load_s": seconds, "points_per_s": expected / seconds,
                "queries": sweep.runstream_queries(api, experiment_id, args, detail=detail), "calls": detail,
                "queries_cold": sweep.runstream_queries(api, experiment_id, args, cold=True)}
    finally:
        stack.stop()
        sampler.stop()


def mlflow_side(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    experiment_id, seconds = mlflow_bulk_load(home, args)
    sampler = sweep.Sampler()
    try:
        with sweep.mlflow_server(home, sampler) as api:
            return {"load_s": seconds, "queries": sweep.mlflow_queries(api, experiment_id, args)}
    finally:
        sampler.stop()


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """Both sides on the same sweep; `queries_10k` (and `queries_10k_cold`) in the shape of latest.json's
    `queries`."""
    load_before = os.getloadavg()
    home = Path(tempfile.mkdtemp(prefix="runstream-bench-10k-"))
    (home / "runstream").mkdir()
    (home / "mlflow").mkdir()
    try:
        ours = runstream_side(args, home / "runstream")
        theirs = mlflow_side(args, home / "mlflow")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    # cold: every runstream call asks for an answer read now (sweep.NO_CACHE), none from its memory
    queries, cold = ({name: {"runstream_ms": round(ours[key][name], 2), "mlflow_ms": round(theirs["queries"][name], 2),
                             "ratio": round(theirs["queries"][name] / ours[key][name], 2)} for name in ours[key]}
                     for key in ("queries", "queries_cold"))
    return {"runs": args.runs, "metrics": args.metrics, "steps": args.steps,
            "points": args.runs * args.metrics * args.steps, "queries_10k": queries, "queries_10k_cold": cold,
            # the remembered questions' timed calls: each one's ms, and how many the server answered from memory
            "queries_10k_calls": ours["calls"],
            "runstream_load_s": round(ours["load_s"], 1), "runstream_points_per_s": round(ours["points_per_s"]),
            "mlflow_bulk_load_s": round(theirs["load_s"], 1),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-10k", type=int, default=10_000)
    parser.add_argument("--steps-10k", type=int, default=50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = compare(argparse.Namespace(**{**vars(args), "runs": args.runs_10k, "steps": args.steps_10k}))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
