"""Where one producer process of the sweep spends its CPU: per thread, per phase, and (optionally) per function.

    python benchmarks/sdk_profile.py [--checkout .] [--runs 100] [--repeat 3] [--cprofile] [--spy]

Starts a local broker of its own (`sdk_ab.fresh_broker`), then runs, `--repeat` times, a child process with the
checkout first on PYTHONPATH doing exactly `sweep.runstream_series_producer`'s work (100 runs of 5 keys x 1,000
steps, `start_run(..., params=...)` then `log_metric_series` per key) and reports:
- CPU seconds per thread (from /proc/self/task, user + kernel) from the first log call to every event
  acknowledged (`flush()`), the Python threads named by `threading` (`MainThread` is the caller,
  `runstream-sender` hands events to librdkafka and runs its delivery reports, `rdk:*` are librdkafka's own);
- the caller's CPU (`time.thread_time`) in the logging loop and in the final `flush()` apart (the values are made
  before the loop: they are the benchmark's work, not the SDK's), and the garbage collections in the loop
  (count and CPU per generation, from `gc.callbacks`: any thread's, mostly the caller's);
- with `--cprofile`, the caller thread's top functions by total time (cProfile's overhead inflates them: read the
  shares); with `--spy`, a `py-spy record --native --rate 1000` of the child (collapsed stacks, `--format raw`, in
  the temp dir).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sdk_ab import fresh_broker  # noqa: E402

CHILD = r"""
import cProfile, gc, io, json, os, pstats, sys, tempfile, threading, time
from pathlib import Path
import numpy as np
from sweep import EXPERIMENT, metric_names, metric_values, run_params
from thread_profile import tasks as process_tasks
from producer import Tracker, TrackerSettings


def tasks():
    return process_tasks(os.getpid())


bootstrap, runs, do_profile = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
keys = metric_names(5)
step_array = np.arange(1000, dtype=np.int64)
values = {(run, i): metric_values(1, run, i, step_array) for run in range(runs) for i in range(len(keys))}
params = {run: run_params(1, run) for run in range(runs)}
tracker = Tracker(settings=TrackerSettings(kafka_bootstrap_servers=bootstrap,
                                           spool_dir=Path(tempfile.mkdtemp(prefix="sdk-profile-spool-"))))
time.sleep(0.5)  # librdkafka connected, the flusher and sender idle
names = {t.native_id: t.name for t in threading.enumerate()}
before = tasks()
profiler = cProfile.Profile(time.thread_time) if do_profile else None  # CPU, not wall: the machine is shared
collections = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
began = [0.0]


def on_gc(phase, info):
    if phase == "start":
        began[0] = time.thread_time()
    else:
        entry = collections[info["generation"]]
        entry[0] += 1
        entry[1] += time.thread_time() - began[0]


gc.callbacks.append(on_gc)
wall0, cpu0 = time.perf_counter(), time.thread_time()
if profiler:
    profiler.enable()
for run in range(runs):
    with tracker.start_run(EXPERIMENT, f"trial-{run}", params=params[run]) as active:
        for i, k in enumerate(keys):
            active.log_metric_series(k, step_array, values[run, i])
if profiler:
    profiler.disable()
gc.callbacks.remove(on_gc)
wall1, cpu1 = time.perf_counter(), time.thread_time()
tracker.flush(600)  # every event acknowledged; the threads still alive to be counted (close() ends them)
wall2, cpu2 = time.perf_counter(), time.thread_time()
after = tasks()
names.update({t.native_id: t.name for t in threading.enumerate()})
remaining = tracker.close(600)
threads = {}
for tid, (name, cpu, sys_cpu) in after.items():
    label = names.get(tid, name)
    if label.startswith("rdk:"):
        label = "rdk:" + label[4:].split("/")[0].split(":")[0]
    b = before.get(tid, (name, 0.0, 0.0))
    u, s = threads.get(label, (0.0, 0.0))
    threads[label] = (round(u + cpu - b[1], 3), round(s + sys_cpu - b[2], 3))
report = {"undelivered": remaining, "loop_wall_s": round(wall1 - wall0, 4), "loop_cpu_s": round(cpu1 - cpu0, 4),
          "flush_wall_s": round(wall2 - wall1, 4), "flush_cpu_s": round(cpu2 - cpu1, 4), "threads": threads,
          "gc": {g: [n, round(t, 4)] for g, (n, t) in collections.items()}}
if profiler:
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
    report["profile"] = text.getvalue()
print(json.dumps(report))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--spy", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": f"{args.checkout}:{args.checkout / 'benchmarks'}"}
    with fresh_broker("sdk-profile-") as (bootstrap, _pid):
        for i in range(args.repeat):
            command = [sys.executable, "-c", CHILD, bootstrap, str(args.runs), "1" if args.cprofile else "0"]
            if args.spy:
                stacks = Path(tempfile.gettempdir()) / f"sdk-profile-{os.getpid()}-{i}.txt"
                spy = Path(sys.executable).parent / "py-spy"
                command = [str(spy), "record", "--native", "--rate", "1000", "--format", "raw", "-o", str(stacks), "--",
                           *command]
            load = os.getloadavg()[0]
            out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
            lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
            if not lines:
                print(out.stderr[-2000:], file=sys.stderr)
                continue
            report = json.loads(lines[-1])
            profile = report.pop("profile", None)
            threads = report.pop("threads")
            print(f"-- repeat {i} load {load:.2f}: {json.dumps(report)}")
            for name, (cpu, kernel) in sorted(threads.items(), key=lambda kv: -kv[1][0]):
                if cpu > 0.0005:
                    print(f"   {name:24s} {cpu:7.3f} s (kernel {kernel:.3f})")
            if profile:
                print(profile)
            if args.spy:
                print(f"   py-spy: {stacks}")


if __name__ == "__main__":
    main()
