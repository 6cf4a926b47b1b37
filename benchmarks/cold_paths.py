"""`sweep.py`'s runstream side with every question's calls timed one by one and the in-memory run state's answers
counted by path (`runstream_run_state_answers` on /metrics, read once after the cold questions: a read between
questions delays the next one by ~0.1-0.4 s, time a background refresh may use). One JSON line per sweep.

    python benchmarks/cold_paths.py [--log-out up.log] [--debug-states] -- --skip-mlflow --skip-10k --no-save

`--debug-states` runs the server with the statecache's debug lines (why a state was not current, each load and
refresh) and `--log-out` keeps the server's log. Run from the checkout under test with PYTHONPATH set to it (as
`benchmarks/cold_paths_ab.py` does); a checkout without the counter reports its calls' times only."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sweep

ANSWERS = re.compile(r'^runstream_run_state_answers_total\{path="(\w+)",question="(\w+)"\} (\S+)$', re.M)
DEBUG = "import logging\nlogging.getLogger('runstream.api').setLevel(logging.DEBUG)\n"


def counts(api: sweep.Http) -> dict[str, float]:
    """The run state's answers so far, as "question path" -> count (empty without the counter)."""
    api.conn.request("GET", "/metrics")
    text = api.conn.getresponse().read().decode()
    return {f"{q} {p}": float(n) for p, q, n in ANSWERS.findall(text)}


LOGGED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) DEBUG runstream.api: (\w+) answered by the (\w+) path",
                    re.M)


def logged_paths(log: Path, since: float, until: float) -> dict[str, int]:
    """From the server's debug lines: answers by "question path" between two epoch times (the cold questions)."""
    found: dict[str, int] = {}
    for stamp, question, path in LOGGED.findall(log.read_text(errors="replace")):
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC).timestamp()
        if since <= at <= until + 0.001:
            found[f"{question} {path}"] = found.get(f"{question} {path}", 0) + 1
    return dict(sorted(found.items()))


def timed_queries(calls: dict[str, list[dict[str, Any]]], marks: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A `sweep.runstream_queries` that keeps every call's time (ms) and the path counts around the questions."""
    def runstream_queries(api: sweep.Http, experiment_id: str, args: argparse.Namespace, *, cold: bool = False,
                          detail: dict[str, dict[str, Any]] | None = None) -> dict[str, float]:
        h = sweep.NO_CACHE if cold else None
        questions = sweep.runstream_questions(api, experiment_id, args)
        side = "cold" if cold else "warm"
        marks[f"{side} from"] = time.time()
        medians = {}
        for name, (method, path, body) in questions.items():
            times, remembered = [], 0
            for i in range(args.repeat + 1):  # as median_ms_of: one to warm up, then `repeat` timed
                began = time.perf_counter()
                api.call(method, path, body, h)
                times.append(round((time.perf_counter() - began) * 1000, 2))
                remembered += bool(i) and api.last_answer == "remembered"
            calls[f"{side} {name}"] = [{"at": round(time.time(), 3), "ms": times}]
            medians[name] = sweep.statistics.median(times[1:])
            if detail is not None:
                detail[name] = {"calls_ms": times[1:], "remembered": remembered}
        marks[f"{side} to"] = time.time()
        if cold:  # read once at the end: a read of /metrics between the questions delays the next one
            marks["after"] = counts(api)
        return medians

    return runstream_queries


def hold_during_ingest(marks: dict[str, Any]) -> None:
    """Once the freshness probe starts (just before the producers), ask a cold leaderboard of the sweep's experiment
    every 0.1 s until one is answered: the API then holds that experiment's run state through the drain."""
    from schemas.ids import experiment_id_for

    start = sweep.FreshnessProbe.start

    def ask(port: int) -> None:
        api, path = sweep.Http(port), (f"/api/v1/experiments/{experiment_id_for(sweep.EXPERIMENT)}/leaderboard"
                                       f"?metric={sweep.metric_names(5)[0]}&k=10")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                api.call("GET", path, headers=sweep.NO_CACHE)
                marks["held from"] = time.time()
                return
            except RuntimeError:  # 404 until the experiment is projected
                time.sleep(0.1)

    def start_and_hold(self: sweep.FreshnessProbe) -> None:
        start(self)
        threading.Thread(target=ask, args=(self.api.port,), daemon=True).start()

    sweep.FreshnessProbe.start = start_and_hold  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-out", type=Path, help="keep the server's log (up.log) here")
    parser.add_argument("--debug-states", action="store_true", help="the statecache's debug lines in that log")
    parser.add_argument("--hold-during-ingest", action="store_true",
                        help="ask one cold leaderboard as soon as the sweep's experiment exists, so its run state is "
                             "held (and kept current, or not) while the points drain")
    parser.add_argument("sweep_args", nargs="*", help="sweep.py's arguments (after --)")
    args = parser.parse_args()
    calls: dict[str, list[dict[str, Any]]] = {}
    marks: dict[str, Any] = {}
    sweep.runstream_queries = timed_queries(calls, marks)
    hooks = None
    if args.debug_states:  # the server is a child process: a sitecustomize on its PYTHONPATH raises the level
        hooks = Path(tempfile.mkdtemp(prefix="cold-paths-"))
        (hooks / "sitecustomize.py").write_text(DEBUG)
        os.environ["PYTHONPATH"] = f"{hooks}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    if args.log_out:
        stop = sweep.Runstream.stop

        def stop_and_keep(self: sweep.Runstream) -> None:
            stop(self)
            shutil.copyfile(self.home / "up.log", args.log_out)

        sweep.Runstream.stop = stop_and_keep  # type: ignore[method-assign]
    if args.hold_during_ingest:
        hold_during_ingest(marks)
    sys.argv = [sys.argv[0], *args.sweep_args]
    load = os.getloadavg()[0]
    try:
        sweep.main()
    finally:
        if hooks is not None:
            shutil.rmtree(hooks, ignore_errors=True)
    paths = {k: int(v) for k, v in marks.get("after", {}).items()}  # warm and cold together
    cold = logged_paths(args.log_out, marks["cold from"], marks["cold to"]) if args.log_out and args.debug_states \
        else {}
    print("COLD_PATHS " + json.dumps({"load": f"{load:.2f}-{os.getloadavg()[0]:.2f}", "paths": paths,
                                      "held_from": marks.get("held from"),
                                      "cold_paths": cold, "calls": {k: v[0]["ms"] for k, v in calls.items()}}),
          flush=True)


if __name__ == "__main__":
    main()
