"""The projector's own cost, without Kafka: 1,000-point metric batches through prepare_chunk + BatchWriter.apply.

    python benchmarks/chunk_projection.py [--events 1000] [--baseline COMMIT]

Encodes N MetricsLogged events with this checkout's current schema, then projects them in chunks of 250 into a
fresh embedded ClickHouse, in this process, and reports points/s with the time split between preparing (decode,
validate, build blocks: pure Python) and applying (inserts and derived tables: ClickHouse). `--baseline COMMIT`
runs the same code of another commit (`git archive` into a temporary directory) in a child process, alternating
with this checkout, so the ratio comes from one run on a machine that may be busy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(events: int) -> dict[str, float]:
    """Project `events` batches with the code on sys.path; figures of one pass. (prepare_chunk is imported through
    consumers.writer, where older commits, the baselines, define it.)"""
    from consumers.clickhouse import connect
    from consumers.migrate import migrate
    from consumers.projections import PROJECTIONS
    from consumers.sink import ClickHouseSink
    from consumers.writer import BatchWriter, prepare_chunk
    from schemas import MetricsLogged, Producer, RunEvent, encode

    points = 1000
    raws = []
    for e in range(events):
        run = f"{e % 50:032x}"
        batch = MetricsLogged([f"m{i}" for i in range(5)], [i % 5 for i in range(points)],  # type: ignore[arg-type]
                              [e + i // 5 for i in range(points)], [1_700_000_000_000 + i for i in range(points)],
                              [((e * 7919 + i) % 1000) / 1000 for i in range(points)])
        event = RunEvent(str(uuid.uuid4()), run, "exp", e + 1, datetime.now(UTC), Producer("h", 1, "u", "v"), batch)
        raws.append((encode(event), run.encode(), e, 1_700_000_000_000))
    client = connect(f"chdb://{tempfile.mkdtemp(prefix='chunk-projection-')}", "bench")
    migrate(client)
    writer = BatchWriter(ClickHouseSink(client))
    writer.load_positions([0])
    prepare_s = apply_s = 0.0
    for start in range(0, events, 250):
        began = time.perf_counter()
        prepared = prepare_chunk(0, raws[start:start + 250], PROJECTIONS)
        middle = time.perf_counter()
        writer.apply(prepared)
        prepare_s += middle - began
        apply_s += time.perf_counter() - middle
    total = prepare_s + apply_s
    return {"points": events * points, "points_per_s": events * points / total, "prepare_s": prepare_s,
            "apply_s": apply_s, "bytes_per_event": len(raws[0][0]), "load_average": os.getloadavg()[0]}


def child(root: Path, events: int) -> dict[str, float]:
    code = (f"import sys, json; sys.path.insert(0, {str(root)!r}); sys.path.insert(1, {str(ROOT / 'benchmarks')!r});"
            f"import chunk_projection as c; print(json.dumps(c.measure({events})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--baseline", help="a commit to compare with, in the same run")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    base = None
    if args.baseline:
        base = Path(tempfile.mkdtemp(prefix="chunk-projection-base-"))
        archive = subprocess.run(["git", "archive", args.baseline], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
    for _ in range(args.rounds):
        if base is not None:
            print(json.dumps({"code": args.baseline, **child(base, args.events)}), flush=True)
        print(json.dumps({"code": "this checkout", **child(ROOT, args.events)}), flush=True)


if __name__ == "__main__":
    main()
