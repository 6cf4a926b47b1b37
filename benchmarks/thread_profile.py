"""Where the server's threads spend a 1M-point sweep: CPU seconds per thread name, sampled from
/proc/<server>/task/*/stat every 0.1 s, split at the producers' first log call, everything published and the last
point visible (`sweep.py --probe-trace`), and how much of the time after publish the server kept both cores busy.

    python benchmarks/thread_profile.py [--checkout .] [-- extra sweep.py args]

Python's threads all carry the process's name in /proc; they are told apart by one `py-spy dump` taken right after
the last point is visible (their native ids)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil

TICK = os.sysconf("SC_CLK_TCK")


def tasks(pid: int) -> dict[int, tuple[str, float]]:
    """Each thread's name and CPU seconds so far."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def spy_names(pid: int) -> dict[int, str]:
    """Python thread names by native id (py-spy, without pausing the process)."""
    spy = Path(sys.executable).parent / "py-spy"
    proc = subprocess.run([str(spy), "dump", "--pid", str(pid), "--nonblocking", "--json"], capture_output=True,
                          text=True, timeout=60)
    try:
        threads = json.loads(proc.stdout)
    except ValueError:
        print(f"py-spy: {proc.stderr[-500:]}", file=sys.stderr)
        return {}
    return {int(t["os_thread_id"]): str(t.get("thread_name") or "?") for t in threads if t.get("os_thread_id")}


def group(name: str) -> str:
    """A thread name without its number (ThreadPool 1..n are one pool)."""
    return re.sub(r"[-_ :]?\d+$", "", name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=Path("."))
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--each", action="store_true", help="every thread apart (not grouped by name)")
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    trace = Path(tempfile.mkdtemp()) / "probe.json"
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    sweep = subprocess.Popen([sys.executable, "benchmarks/sweep.py", "--skip-mlflow", "--skip-10k", "--repeat", "1",
                              "--no-save", "--probe-trace", str(trace), *args.extra], cwd=checkout, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server = None
    samples: list[tuple[float, dict[int, tuple[str, float]], float]] = []  # time, tasks, machine busy s
    names: dict[int, str] = {}
    while sweep.poll() is None:
        if server is None:
            for child in psutil.Process(sweep.pid).children(recursive=True):
                try:
                    if child.cmdline()[1:4] == ["-m", "runstream", "up"]:
                        server = child.pid
                except psutil.Error:
                    pass
        if server is not None:
            try:
                cpu = psutil.cpu_times()
                samples.append((time.time(), tasks(server), cpu.user + cpu.system + cpu.nice + cpu.irq + cpu.softirq))
            except OSError:
                server = None if not psutil.pid_exists(server) else server
            if trace.exists() and not names:
                names = spy_names(server)
        time.sleep(args.interval)
    out = sweep.stdout.read() if sweep.stdout else ""
    probe = json.loads(trace.read_text())
    first, published, visible = probe["first"], probe["published"], probe["visible"]
    ingest = next(json.loads(line) for line in out.splitlines() if line.startswith('{"points"'))
    print(f"points/s {ingest['points_per_s']:,.0f}; published {published - first:.2f} s, visible "
          f"{visible - first:.2f} s; load {os.getloadavg()[0]:.2f}")

    def label(tid: int, name: str) -> str:
        if args.each:
            return f"py:{names[tid]}" if tid in names else name
        return f"py:{group(names[tid])}" if tid in names else group(name)

    def at(t: float) -> int:
        return min(range(len(samples)), key=lambda i: abs(samples[i][0] - t))

    for phase, (a, b) in {"first..published": (first, published), "published..visible": (published, visible)}.items():
        i, j = at(a), at(b)
        wall = samples[j][0] - samples[i][0]
        per: dict[str, float] = defaultdict(float)
        for tid, (name, cpu) in samples[j][1].items():
            per[label(tid, name)] += cpu - samples[i][1].get(tid, (name, 0.0))[1]
        total = sum(per.values())
        both = one = 0.0
        for k in range(i, j):
            dt = samples[k + 1][0] - samples[k][0]
            used = sum(c - samples[k][1].get(t, (n, 0.0))[1] for t, (n, c) in samples[k + 1][1].items())
            rate = used / dt if dt else 0.0
            both += dt if rate >= 1.5 else 0.0
            one += dt if 0.5 <= rate < 1.5 else 0.0
        machine = (samples[j][2] - samples[i][2]) / wall if wall else 0.0
        print(f"\n{phase}: {wall:.2f} s wall, server {total:.2f} CPU-s ({total / wall:.2f} cores); server >= 1.5 "
              f"cores {both / wall:.0%} of it, 0.5-1.5 cores {one / wall:.0%}; machine {machine:.2f} cores busy")
        for name, cpu in sorted(per.items(), key=lambda kv: -kv[1]):
            if cpu >= 0.01:
                print(f"  {name:40s} {cpu:6.2f} s  {cpu / wall:5.2f} cores")


if __name__ == "__main__":
    main()
