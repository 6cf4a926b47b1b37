"""Rebuild and verify of two checkouts, alternated on one log (issue 15).

    python benchmarks/replay_ab.py --base /path/to/other/checkout [--rounds 3 --runs 500 --steps 2000]

Publishes the sweep of benchmarks/replay.py once into a local broker (kept up for the whole run) and projects it
live into embedded ClickHouse once per checkout, with that checkout's code and migrations (so a checkout that
changes a table's types replays into its own shape). Then, `--rounds` times, for the base checkout and for this one
in turn, its data directory (its metrics merged into one part first, untimed) gets a `rebuild` and then a `verify`,
as in `make bench-replay`, in a process of its own importing that checkout's code (chdb opens a data directory in
one process only). Reported per job: wall time, points/s, the replay loop's points/s, CPU time of the job process
(Python and the embedded ClickHouse; the broker apart), of worker processes it started and reaped, and per thread
name (ClickHouse names its pools: ThreadPool runs insert pipelines, MergeMutate merges; Python's threads show as
Unknown), seconds per phase, peak RSS, the CPU of the job's own (main) thread, and the load average before it.
Optionally one process of each is sampled by py-spy (`--py-spy`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The table the metric points are stored in: metric_chunks behind the metrics view (migration 0027), or metrics.
PHYSICAL_SQL = ("SELECT if(count() > 0, 'metric_chunks', 'metrics') FROM system.tables "
                "WHERE database = currentDatabase() AND name = 'metric_chunks'")


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads, summed by thread name (Python's threads and ClickHouse's pools)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")].rstrip("0123456789-_")
        fields = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def job(args: argparse.Namespace) -> None:
    """Child: run rebuild then verify on the data directory with the checkout at `args.root` (first on sys.path)."""
    sys.path.insert(0, str(args.root))
    import logging

    from consumers.clickhouse import connect
    from consumers.maintenance import MaintenanceJob
    from consumers.settings import ProjectorSettings

    settings = ProjectorSettings(kafka_bootstrap_servers=args.bootstrap, topic="bench.events", dlq_topic="bench.dlq",
                                 consumer_group="bench-projector", clickhouse_dsn=f"chdb://{args.data}",
                                 topic_partitions=args.partitions)
    client = connect(settings.clickhouse_url, settings.clickhouse_database)
    points_table = str(client.query(PHYSICAL_SQL).result_rows[0][0])
    client.command(f"OPTIMIZE TABLE {points_table} FINAL")  # every job starts from one merged part, whatever ran before
    phases: list[tuple[str, float]] = []

    class Phases(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if ": " in text and record.name == "runstream.maintenance":
                phases.append((text.split(": ", 1)[1].split(" (")[0], time.perf_counter()))

    logger = logging.getLogger("runstream.maintenance")
    logger.setLevel(logging.INFO)
    logger.addHandler(Phases())
    out = []
    for kind in args.kinds.split(","):
        phases.clear()
        load = os.getloadavg()[0]
        threads = thread_cpu()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        began, cpu, main_cpu = time.perf_counter(), time.process_time(), time.thread_time()
        status = MaintenanceJob(kind, settings, client).run()  # type: ignore[arg-type]
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        main_cpu = time.thread_time() - main_cpu  # the job's own thread: decoding, summary, the replay loop
        ended = resource.getrusage(resource.RUSAGE_CHILDREN)  # worker processes the job started and reaped
        workers_cpu = ended.ru_utime + ended.ru_stime - children.ru_utime - children.ru_stime
        after = thread_cpu()
        by_thread = {k: round(v - threads.get(k, 0.0), 2) for k, v in after.items() if v - threads.get(k, 0.0) >= 0.05}
        if status.state != "done" or status.differences:
            raise SystemExit(f"{kind} failed or found differences: {status.error} {status.differences[:3]}")
        steps: dict[str, float] = {}
        marks = [("start", began), *phases]
        for (name, at), (_, end) in zip(marks, marks[1:], strict=False):
            steps[name] = steps.get(name, 0.0) + end - at
        out.append({"kind": kind, "load": load, "seconds": wall, "cpu_s": cpu, "main_thread_cpu_s": round(main_cpu, 3),
                    "points": status.points,
                    "points_per_s": status.points / wall, "replay_points_per_s": status.points_per_s,
                    "phases": {k: round(v, 3) for k, v in steps.items()},
                    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                    "workers_cpu_s": round(workers_cpu, 2),  # (their RSS: not from RUSAGE_CHILDREN, which
                    # counts a spawned child's pages before its exec, i.e. the job's own)
                    "thread_cpu": dict(sorted(by_thread.items(), key=lambda kv: -kv[1]))})
    # What the jobs left to merge: the parts of the table now live, merged by whatever runs next (ClickHouse's
    # background merges, or in this script the next job's OPTIMIZE). Timed here so that a job that leaves its
    # merging to later is not counted as cheaper than it is.
    parts = int(client.query("SELECT count() FROM system.parts WHERE database = currentDatabase() "
                             "AND table = {t:String} AND active", parameters={"t": points_table}).result_rows[0][0])
    threads, began, cpu = thread_cpu(), time.perf_counter(), time.process_time()
    client.command(f"OPTIMIZE TABLE {points_table} FINAL")
    after = thread_cpu()
    out.append({"kind": "leftover merge", "load": os.getloadavg()[0], "seconds": time.perf_counter() - began,
                "cpu_s": time.process_time() - cpu, "parts": parts,
                "thread_cpu": {k: round(v - threads.get(k, 0.0), 2) for k, v in after.items()
                               if v - threads.get(k, 0.0) >= 0.05}})
    client.close()
    print("RESULT " + json.dumps(out), flush=True)


def one(variant: str, root: Path, snapshot: Path, bootstrap: str, args: argparse.Namespace,
        profile: Path | None) -> list[dict[str, Any]]:
    data = snapshot  # a copied chdb directory does not open (its tables are linked by absolute paths)
    command = [sys.executable, str(Path(__file__).resolve()), "job", "--root", str(root), "--data", str(data),
               "--bootstrap", bootstrap, "--partitions", str(args.partitions), "--kinds", args.kinds]
    if profile is not None:
        command = [args.py_spy, "record", "--threads", "--idle", "--rate", "200", "--format", "raw",
                   "-o", str(profile), "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{variant} job failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return [r | {"variant": variant} for r in json.loads(lines[-1][len("RESULT "):])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("job")
    child.add_argument("--root", type=Path, required=True)
    child.add_argument("--data", type=Path, required=True)
    child.add_argument("--bootstrap", required=True)
    child.add_argument("--partitions", type=int, default=6)
    child.add_argument("--kinds", default="rebuild,verify")
    parser.add_argument("--base", type=Path, help="the other checkout (omit: this checkout alone)")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default="rebuild,verify")
    parser.add_argument("--py-spy", default="", help="path of py-spy: profile the first job of each variant")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "replay-ab")
    args = parser.parse_args()
    if args.command == "job":
        job(args)
        return

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient
    from replay import free_port, publish

    from consumers.settings import ProjectorSettings
    from consumers.topics import ensure_topics
    from runstream.local.kafka import BrokerConfig, LocalKafka

    home = Path(tempfile.mkdtemp(prefix="runstream-replay-ab-"))
    args.out.mkdir(parents=True, exist_ok=True)
    broker = LocalKafka(BrokerConfig(home=home / "kafka", port=free_port(), controller_port=free_port(), heap="1g"))
    broker.start(timeout=180)
    results: list[dict[str, Any]] = []
    try:
        settings = ProjectorSettings(kafka_bootstrap_servers=broker.cfg.bootstrap, topic="bench.events",
                                     dlq_topic="bench.dlq", consumer_group="bench-projector",
                                     topic_partitions=args.partitions)
        ensure_topics(AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers}),
                      [settings.topic, settings.dlq_topic], partitions=settings.topic_partitions)
        points, _ = publish(settings, args.runs, args.metrics, args.steps, args.seed)
        probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": "probe"})
        messages = sum(probe.get_watermark_offsets(TopicPartition(settings.topic, p), timeout=30)[1]
                       for p in range(settings.topic_partitions))
        probe.close()
        variants = [("after", ROOT)] if args.base is None else [("before", args.base.resolve()), ("after", ROOT)]
        # The live projection runs in a child too (chdb: one data directory per process), once per checkout with
        # that checkout's code and migrations, so that each job replays into tables shaped as its own code makes.
        code = ("import sys, json; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/benchmarks'];"
                "from replay import project_live; from consumers.clickhouse import connect;"
                "from consumers.migrate import migrate; from consumers.settings import ProjectorSettings;"
                "s = ProjectorSettings.model_validate_json(sys.argv[2]);"
                "c = connect(s.clickhouse_url, s.clickhouse_database); migrate(c);"
                "r = project_live(s, c, int(sys.argv[3]));"
                f"c.command('OPTIMIZE TABLE ' + c.query({PHYSICAL_SQL!r}).result_rows[0][0] + ' FINAL'); c.close();"
                "print('RESULT ' + json.dumps(r))")
        snapshots = {}
        for variant, root in variants:
            snapshots[variant] = home / f"snapshot-{variant}"
            live_settings = settings.model_copy(update={"clickhouse_dsn": f"chdb://{snapshots[variant]}",
                                                        "consumer_group": f"bench-projector-{variant}"})
            done = subprocess.run([sys.executable, "-c", code, str(root), live_settings.model_dump_json(),
                                   str(messages)], capture_output=True, text=True, check=True, cwd=root,
                                  env={**os.environ, "PYTHONPATH": str(root)})
            live = json.loads(done.stdout.split("RESULT ", 1)[1])
            print(f"{points:,} points in {messages:,} events; live projection ({variant}) "
                  f"{live['points_per_s']:,.0f} points/s", flush=True)
        for round_ in range(args.rounds):
            for variant, root in variants if round_ % 2 == 0 else variants[::-1]:  # the order flipped each round
                profile = args.out / f"{variant}.txt" if args.py_spy and round_ == 0 else None
                for r in one(variant, root, snapshots[variant], broker.cfg.bootstrap, args, profile):
                    results.append(r | {"profiled": profile is not None})
                    if r["kind"] == "leftover merge":
                        print(f"{variant:6} leftover merge of {r['parts']} metrics part(s): {r['seconds']:5.2f} s, "
                              f"CPU {r['cpu_s']:5.2f} s; threads {r['thread_cpu']}", flush=True)
                        continue
                    print(f"{variant:6} {r['kind']:7} load {r['load']:5.2f}: {r['seconds']:5.2f} s = "
                          f"{r['points_per_s']:>9,.0f} points/s (replay loop {r['replay_points_per_s']:>9,.0f}), "
                          f"CPU {r['cpu_s']:5.2f} s (main thread {r['main_thread_cpu_s']:5.2f} s) "
                          f"+ workers {r.get('workers_cpu_s', 0):5.2f} s, "
                          f"peak RSS {r['max_rss_mb']:,} MB"
                          f"{' [py-spy]' if profile else ''}; {r['phases']}; threads {r['thread_cpu']}", flush=True)
    finally:
        broker.stop()
        shutil.rmtree(home, ignore_errors=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    for kind in [*args.kinds.split(","), "leftover merge"]:
        for variant, _ in variants:
            mine = [r for r in results if r["variant"] == variant and r["kind"] == kind and not r["profiled"]]
            if mine and kind == "leftover merge":
                print(f"median {variant:6} leftover merge: CPU {statistics.median(r['cpu_s'] for r in mine):.2f} s, "
                      f"{statistics.median(r['parts'] for r in mine):.0f} parts, n={len(mine)}")
            elif mine:
                print(f"median {variant:6} {kind:7}: {statistics.median(r['points_per_s'] for r in mine):>9,.0f} "
                      f"points/s, replay loop {statistics.median(r['replay_points_per_s'] for r in mine):>9,.0f}, "
                      f"CPU {statistics.median(r['cpu_s'] for r in mine):.2f} s "
                      f"(main thread {statistics.median(r['main_thread_cpu_s'] for r in mine):.2f} s) "
                      f"+ workers {statistics.median(r.get('workers_cpu_s', 0) for r in mine):.2f} s, "
                      f"peak RSS {statistics.median(r['max_rss_mb'] for r in mine):,.0f} MB, "
                      f"load {statistics.median(r['load'] for r in mine):.1f}, n={len(mine)}")


if __name__ == "__main__":
    main()
