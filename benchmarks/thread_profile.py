"""Where the server's threads spend a 1M-point sweep: CPU seconds per thread name, sampled from
/proc/<server>/task/*/stat every 0.1 s, split at the producers' first log call, everything published and the last
point visible (`sweep.py --probe-trace`), and how much of the time after publish the server kept both cores busy.

    python benchmarks/thread_profile.py [--checkout .] [--process server|broker|producers] [-- extra sweep.py args]

Python's threads all carry the process's name in /proc; they are told apart by one `py-spy dump` taken right after
the last point is visible (their native ids). `--process broker` samples the Kafka broker's JVM threads instead (their
names are in /proc: `C1 CompilerThre`, `data-plane-kafk`, `kafka-request-h`, `G1 ...`), `--process producers` the
sweep's producer processes together (`rdk:...` are librdkafka's threads). An idle phase (the freshness probe alone,
before the producers start) is reported too: what the process costs per second with no ingest."""

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
from datetime import datetime
from pathlib import Path

import psutil

TICK = os.sysconf("SC_CLK_TCK")


def tasks(pid: int) -> dict[int, tuple[str, float, float]]:
    """Each thread's name, CPU seconds so far and the system (kernel) part of them."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / TICK, int(fields[12]) / TICK)
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


def find_server(sweep: int) -> int | None:
    """The pid of `runstream up` among the sweep's children."""
    for child in psutil.Process(sweep).children(recursive=True):
        try:
            if child.cmdline()[1:4] == ["-m", "runstream", "up"]:
                return child.pid
        except psutil.Error:
            pass
    return None


def targets(sweep: int, server: int, process: str) -> list[int]:
    """The broker (the server's java child) or the producers (the sweep's other Python children, alive now)."""
    found = []
    server_tree = {p.pid for p in psutil.Process(server).children(recursive=True)} | {server}
    for child in psutil.Process(sweep).children(recursive=True):
        try:
            cmd = child.cmdline()
        except psutil.Error:
            continue
        is_java = bool(cmd) and Path(cmd[0]).name == "java" and "kafka.Kafka" in cmd
        producer = not is_java and child.pid not in server_tree and "spawn_main" in " ".join(cmd)
        if (process == "broker" and is_java) or (process == "producers" and producer):
            found.append(child.pid)
    return found


def children(server: int) -> list[int]:
    """The server's child processes but the Kafka broker (the alert worker, multiprocessing's resource tracker)."""
    out = []
    for child in psutil.Process(server).children(recursive=True):
        try:
            cmd = child.cmdline()
        except psutil.Error:
            continue
        if not (cmd and Path(cmd[0]).name == "java"):
            out.append(child.pid)
    return out


def group(name: str) -> str:
    """A thread name without its number (ThreadPool 1..n are one pool)."""
    return re.sub(r"[-_ :]?\d+$", "", name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=Path("."))
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--each", action="store_true", help="every thread apart (not grouped by name)")
    parser.add_argument("--process", choices=("server", "broker", "producers"), default="server")
    parser.add_argument("--jfr", type=Path, help="record the broker with Java Flight Recorder into this file (its "
                        "JVM options then are this plus -XX:TieredStopAtLevel=1) and print the hottest methods of "
                        "its execution samples between the first log call and the last point visible")
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    trace = Path(tempfile.mkdtemp()) / "probe.json"
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    extra = list(args.extra)
    if args.jfr:
        extra.append("--server-env=RUNSTREAM_KAFKA_JVM_OPTIONS=-XX:TieredStopAtLevel=1 -XX:StartFlightRecording="
                     f"filename={args.jfr.resolve()},settings=profile,dumponexit=true,jdk.ExecutionSample#period=2ms,"
                     "jdk.SocketRead#threshold=0ms,jdk.SocketWrite#threshold=0ms")
    sweep = subprocess.Popen([sys.executable, "benchmarks/sweep.py", "--skip-mlflow", "--skip-10k", "--repeat", "1",
                              "--no-save", "--probe-trace", str(trace), *extra], cwd=checkout, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server = None
    samples: list[tuple[float, dict[int, tuple[str, float, float]], float]] = []  # time, tasks, machine busy s
    names: dict[int, str] = {}
    while sweep.poll() is None:
        if server is None:
            server = find_server(sweep.pid)
        if server is not None:
            try:
                cpu = psutil.cpu_times()
                watched = [server] if args.process == "server" else targets(sweep.pid, server, args.process)
                seen: dict[int, tuple[str, float, float]] = {}
                for pid in watched:
                    seen.update(tasks(pid))
                if args.process == "server":  # its children but the broker (the alert worker), named apart
                    for pid in children(server):
                        seen.update({t: (f"child:{n}", c, k) for t, (n, c, k) in tasks(pid).items()})
                samples.append((time.time(), seen, cpu.user + cpu.system + cpu.nice + cpu.irq + cpu.softirq))
            except (OSError, psutil.Error):
                server = None if not psutil.pid_exists(server) else server
            if server is not None and args.process == "server" and trace.exists() and not names:
                names = spy_names(server)
        time.sleep(args.interval)
    out = sweep.stdout.read() if sweep.stdout else ""
    probe = json.loads(trace.read_text())
    first, published, visible = probe["first"], probe["published"], probe["visible"]
    idle_from = max(probe["loaded_from"], samples[0][0])
    ingest = next(json.loads(line) for line in out.splitlines() if line.startswith('{"points"'))
    print(f"points/s {ingest['points_per_s']:,.0f}; published {published - first:.2f} s, visible "
          f"{visible - first:.2f} s; load {os.getloadavg()[0]:.2f}")

    def label(tid: int, name: str) -> str:
        if args.each:
            return f"py:{names[tid]}" if tid in names else name
        return f"py:{group(names[tid])}" if tid in names else group(name)

    def last_seen(k: int) -> dict[int, tuple[str, float, float]]:
        seen: dict[int, tuple[str, float, float]] = {}
        for sample in samples[:k + 1]:
            seen.update(sample[1])
        return seen

    def at(t: float) -> int:
        return min(range(len(samples)), key=lambda i: abs(samples[i][0] - t))

    phases = {"idle (probe alone, before first)": (idle_from, first), "first..published": (first, published),
              "published..visible": (published, visible), "first..visible": (first, visible),
              "visible..visible+3s": (visible, min(visible + 3.0, samples[-1][0]))}
    for phase, (a, b) in phases.items():
        i, j = at(a), at(b)
        wall = samples[j][0] - samples[i][0]
        per: dict[str, float] = defaultdict(float)
        kernel: dict[str, float] = defaultdict(float)
        before = last_seen(i)
        for tid, (name, cpu, sys_s) in last_seen(j).items():  # a thread that ended (a producer's) keeps its figure
            per[label(tid, name)] += cpu - before.get(tid, (name, 0.0, 0.0))[1]
            kernel[label(tid, name)] += sys_s - before.get(tid, (name, 0.0, 0.0))[2]
        total = sum(per.values())
        both = one = 0.0
        for k in range(i, j):
            dt = samples[k + 1][0] - samples[k][0]
            used = sum(c - samples[k][1].get(t, (n, 0.0, 0.0))[1] for t, (n, c, _) in samples[k + 1][1].items())
            rate = used / dt if dt else 0.0
            both += dt if rate >= 1.5 else 0.0
            one += dt if 0.5 <= rate < 1.5 else 0.0
        machine = (samples[j][2] - samples[i][2]) / wall if wall else 0.0
        print(f"\n{phase}: {wall:.2f} s wall, {args.process} {total:.2f} CPU-s ({total / wall:.2f} cores); "
              f"{args.process} >= 1.5 cores {both / wall:.0%} of it, 0.5-1.5 cores {one / wall:.0%}; "
              f"machine {machine:.2f} cores busy; in the kernel {sum(kernel.values()):.2f} CPU-s")
        for name, cpu in sorted(per.items(), key=lambda kv: -kv[1]):
            if cpu >= 0.01:
                print(f"  {name:40s} {cpu:6.2f} s  {cpu / wall:5.2f} cores  (kernel {kernel[name]:.2f} s)")

    if args.jfr:
        jfr_hot(args.jfr, first, visible)


def jfr_hot(recording: Path, since: float, until: float, top: int = 20) -> None:
    """The broker's execution samples between two wall-clock times: by thread, by the request handler they serve
    (`KafkaApis.handle...`), by innermost Kafka method and by leaf method; and its socket reads and writes."""
    proc = subprocess.run(["jfr", "print", "--json", "--stack-depth", "96", "--events",
                           "jdk.ExecutionSample,jdk.SocketRead,jdk.SocketWrite", str(recording)],
                          capture_output=True, text=True, timeout=600)
    events = json.loads(proc.stdout)["recording"]["events"]
    tables: dict[str, dict[str, int]] = {k: defaultdict(int) for k in (
        "by thread", "by request handler", "by innermost Kafka method", "by leaf method", "socket reads and writes")}
    n = 0
    for event in events:
        values = event["values"]
        t = datetime.fromisoformat(values["startTime"].replace("Z", "+00:00")).timestamp()
        if not since <= t <= until:
            continue
        thread = values.get("sampledThread") or values.get("eventThread") or {}
        thread_name = group(str(thread.get("javaName") or thread.get("osName") or "?"))
        if event["type"] != "jdk.ExecutionSample":
            tables["socket reads and writes"][f"{event['type'][4:]} {thread_name}"] += 1
            continue
        n += 1
        tables["by thread"][thread_name] += 1
        frames = [(f["method"]["type"]["name"].replace("/", ".") + "." + f["method"]["name"])
                  for f in (values.get("stackTrace") or {}).get("frames", [])]
        if not frames:
            continue
        tables["by leaf method"][frames[0]] += 1
        handler = next((f for f in reversed(frames) if re.search(r"\.KafkaApis\.handle[A-Z]", f)), None)
        tables["by request handler"][handler or f"(none: {thread_name})"] += 1
        tables["by innermost Kafka method"][next(
            (f for f in frames if f.startswith(("kafka.", "org.apache.kafka.")) and "$$Lambda" not in f),
            frames[-1])] += 1
    print(f"\nJFR first..visible: {n} execution samples (of {len(events)} events in the recording)")
    for title, table in tables.items():
        print(f"  {title}:")
        total = sum(table.values()) if title.startswith("socket") else max(n, 1)
        for name, count in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {count:5d} {count / max(total, 1):6.1%}  {name}")

if __name__ == "__main__":
    main()
