"""Verify's checksum phase, before and after, alternated on one log (issue 15).

    python benchmarks/replay_verify_ab.py [--runs 500 --metrics 5 --steps 2000 --rounds 3]

Publishes the log once (as benchmarks/replay.py does), projects it live, then runs `verify` `--rounds` times with
the checksums as they were (every scratch table stored, then `legacy_differences` below: two per-run
`sum(cityHash64(tuple(...)))` queries per table, the live and the replayed side) and as they are now
(`MaintenanceJob.streamed` tables summed while inserted, `MaintenanceJob._differences`; the row counts before
and after in one statement, where they were a query per table), alternating the two,
and reports each run's wall time, CPU time (this process's threads: Python and the embedded ClickHouse; the
broker apart), its checksum phase and points/s, with the load average before each run. Both
variants must find no difference on this log. As in benchmarks/replay.py, each verify follows a rebuild (unless
--no-rebuild), whose swapped-in tables merge in the background while verify runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from replay import add_log_arguments, project_live, published_log, timed_job  # noqa: E402

from consumers.maintenance import Difference, MaintenanceJob, checksum_sql, compare  # noqa: E402
from consumers.settings import ProjectorSettings  # noqa: E402


def legacy_differences(job: MaintenanceJob) -> list[Difference]:
    """MaintenanceJob._differences before this change. A table summed with numpy while it was replayed
    (metric_chunks since stop 33) has no stored shadow to read this way: left out (the before side of stop 26 had
    none)."""
    found: list[Difference] = []
    derived = {d.table for d in job.tables.derived} | {p.table for p in job.tables.projections if p.merged}
    for table in job.tables.names:
        if table in job.summed:
            continue
        columns = [(str(n), str(t)) for n, t in job.client.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
            "ORDER BY position", parameters={"t": table}).result_rows]
        sums = {}
        for physical in (table, job.tables.physical(table)):
            sql = checksum_sql(physical, columns, final=table in derived)
            sums[physical] = {str(r): (int(n), int(h), float(t)) for r, n, h, t in job.client.query(sql).result_rows}
        found.extend(compare(table, sums[table], sums[job.tables.physical(table)]))
    return found


def legacy_counts(job: MaintenanceJob, tables: list[str]) -> dict[str, int]:
    """MaintenanceJob._counts before this change: a query per table."""
    derived = {d.table for d in job.tables.derived} | {p.table for p in job.tables.projections if p.merged}
    return {t: int(job.client.query(f"SELECT count() FROM `{t}`{' FINAL' if t in derived else ''}"
                                    ).result_rows[0][0]) for t in tables}


def timed_verify(variant: str, settings: ProjectorSettings, client: Any) -> dict[str, Any]:
    job = MaintenanceJob("verify", settings, client)
    if variant == "before":
        job.stream_rows = 2**63  # every scratch table stored and read back
        job._counts = lambda tables, client=None: legacy_counts(job, tables)  # type: ignore[method-assign]
    checksum_s = 0.0
    new = job._differences

    def differences() -> list[Difference]:
        nonlocal checksum_s
        began = time.perf_counter()
        try:
            return legacy_differences(job) if variant == "before" else new()
        finally:
            checksum_s = time.perf_counter() - began

    job._differences = differences  # type: ignore[method-assign]
    load = os.getloadavg()[0]
    began, cpu = time.perf_counter(), time.process_time()
    status = job.run()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    if status.state != "done" or status.differences:
        raise RuntimeError(f"verify ({variant}) failed or found differences: {status.error} "
                           f"{len(status.differences)}: {status.differences[:3]}")
    return {"variant": variant, "load": load, "seconds": wall, "cpu_s": cpu, "checksum_s": checksum_s,
            "points_per_s": status.points / wall, "replay_points_per_s": status.points_per_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_log_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-rebuild", action="store_true", help="verify alone, without a rebuild before each")
    args = parser.parse_args()
    results = []
    with published_log(args, "runstream-verify-ab-") as log_:
        settings, client, points, messages = log_.settings, log_.client, log_.points, log_.events
        live = project_live(settings, client, messages)
        print(f"{points:,} points in {messages:,} events; live projection {live['points_per_s']:,.0f} points/s",
              flush=True)
        for _ in range(args.rounds):
            for variant in ("before", "after"):
                if not args.no_rebuild:
                    rebuilt = timed_job("rebuild", settings, client)
                    print(f"rebuild: {rebuilt['points_per_s']:,.0f} points/s", flush=True)
                r = timed_verify(variant, settings, client)
                results.append(r)
                print(f"{variant:6} load {r['load']:.2f}: verify {r['seconds']:.2f} s = {r['points_per_s']:,.0f} "
                      f"points/s, CPU {r['cpu_s']:.2f} s, checksums {r['checksum_s']:.2f} s, "
                      f"replay loop {r['replay_points_per_s']:,.0f}",
                      flush=True)
    for variant in ("before", "after"):
        mine = [r for r in results if r["variant"] == variant]
        print(f"median {variant}: verify {statistics.median(r['points_per_s'] for r in mine):,.0f} points/s, "
              f"CPU {statistics.median(r['cpu_s'] for r in mine):.2f} s (this process: Python and ClickHouse), "
              f"checksums {statistics.median(r['checksum_s'] for r in mine):.2f} s")


if __name__ == "__main__":
    main()
