"""The live projector's drain rate without Kafka: a sweep's messages through `Projector.process`, in consumed
batches the size a backlog gives, into a fresh embedded ClickHouse, with the insert options switched per pass.

    python benchmarks/projector_drain.py [--runs 200] [--rounds 3] [--variants base,overlap,both] [--series]

`--series`: each run's metrics as one event holding every key's whole curve, key after key (what the SDK sends
since stop 33: `log_metric_series` holds consecutive series); otherwise 1,000-point batches of interleaved keys.
`RUNSTREAM_CHECKOUT=<path>`: project with that checkout's code (alternated measurements of two checkouts with one
benchmark). Each pass also reports the process's CPU seconds during the drain (every thread: ClickHouse's too).

The messages (run start, params, 1,000-point metric batches, run end; 6 partitions) are encoded once. Each pass
builds a new store and a new Projector (its Kafka consumer is never polled; offsets commits are dropped), feeds the
batches in order and waits until every insert is done. Variants, alternated in one run so a busy machine shows
in all of them alike:
- base: decode and insert take turns, one table after another (RUNSTREAM_OVERLAP_INSERTS=false,
  RUNSTREAM_SIDE_INSERTS=false);
- overlap: the next batch is decoded while the previous one is inserted;
- side: the metrics table inserted through a second client beside the other tables (no overlap);
- both: overlap and side.
Prints one JSON line per pass and the medians per variant.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("RUNSTREAM_CHECKOUT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

from consumers.clickhouse import connect, open_client  # noqa: E402
from consumers.migrate import migrate  # noqa: E402
from consumers.projector import Projector  # noqa: E402
from consumers.settings import ProjectorSettings  # noqa: E402
from consumers.sink import ClickHouseSink  # noqa: E402
from schemas import (  # noqa: E402
    MetricsLogged,
    ParamsLogged,
    Producer,
    RunEvent,
    RunStarted,
    RunStatus,
    RunStatusChanged,
    encode,
)

VARIANTS = {"base": (False, False), "overlap": (True, False), "side": (False, True), "both": (True, True)}
PARTITIONS = 6
BATCH_BYTES = 8 * 1024 * 1024  # what a consumed batch holds with a backlog (fetch_queue_kbytes)
BATCH_MESSAGES = 5000


class Msg:
    """What the projector reads of a consumed Kafka message."""

    __slots__ = ("_key", "_offset", "_partition", "_value")

    def __init__(self, value: bytes, key: bytes, partition: int, offset: int) -> None:
        self._value, self._key, self._partition, self._offset = value, key, partition, offset

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return self._key

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return 1, 1_700_000_000_000


def sweep(runs: int, metrics: int, steps: int, *, series: bool = False) -> tuple[list[list[Msg]], int]:
    """Consumed batches of a sweep's events (per run: start, params, metric batches of 1,000 points or one
    batch of every key's series, end), and the number of points."""
    producer = Producer("bench", 1, "u", "v")
    start = datetime(2026, 12, 2, tzinfo=UTC)
    per_partition: list[list[Msg]] = [[] for _ in range(PARTITIONS)]
    points = 0
    names = [f"m{i}" for i in range(metrics)]
    for r in range(runs):
        run = uuid.UUID(int=r + 1).hex
        partition = zlib.crc32(run.encode()) % PARTITIONS
        payloads: list[Any] = [RunStarted(f"run-{r}", "u"), ParamsLogged({f"p{i}": str(r * i) for i in range(10)})]
        steps_per_batch = 1000 // metrics
        if series:  # key after key, each key's steps in order
            payloads.append(MetricsLogged(
                names, [k for k in range(metrics) for _ in range(steps)],  # type: ignore[arg-type]
                [s for _ in range(metrics) for s in range(steps)],
                [1_700_000_000_000 + s for _ in range(metrics) for s in range(steps)],
                [((r * 7919 + k * steps + s) % 1000) / 1000 for k in range(metrics) for s in range(steps)]))
            points += steps * metrics
        for first in range(0, steps, steps_per_batch) if not series else ():
            count = min(steps_per_batch, steps - first)
            payloads.append(MetricsLogged(
                names, [i % metrics for i in range(count * metrics)],  # type: ignore[arg-type]
                [first + i // metrics for i in range(count * metrics)],
                [1_700_000_000_000 + first + i // metrics for i in range(count * metrics)],
                [((r * 7919 + first + i) % 1000) / 1000 for i in range(count * metrics)]))
            points += count * metrics
        payloads.append(RunStatusChanged(RunStatus.FINISHED))
        for seq, payload in enumerate(payloads, start=1):
            event = RunEvent(str(uuid.uuid4()), run, "exp", seq, start + timedelta(seconds=seq), producer, payload)
            out = per_partition[partition]
            out.append(Msg(encode(event), run.encode(), partition, len(out)))
    batches: list[list[Msg]] = []
    cursors = [0] * PARTITIONS
    while any(c < len(m) for c, m in zip(cursors, per_partition, strict=True)):
        batch: list[Msg] = []
        size = 0
        for p in range(PARTITIONS):  # a fetch gives each partition's next messages in turn
            while cursors[p] < len(per_partition[p]) and size < BATCH_BYTES and len(batch) < BATCH_MESSAGES:
                msg = per_partition[p][cursors[p]]
                batch.append(msg)
                size += len(msg.value())
                cursors[p] += 1
                if size >= BATCH_BYTES * (p + 1) / PARTITIONS:
                    break
        batches.append(batch)
    return batches, points


def side_projector(dsn: str, client: Any) -> tuple[Projector, Any]:
    """A live projector over `client`'s store with its metrics on a second client (the side inserts) and no broker
    (its consumer is never polled, offset commits are dropped), positions loaded: and that second client."""
    settings = ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1", clickhouse_dsn=dsn,
                                 clickhouse_database="bench", overlap_inserts=False, side_inserts=True)
    projector = Projector(settings, client)
    projector._commit = lambda offsets: None  # type: ignore[method-assign]  # no broker here
    side = open_client(dsn, "bench")
    projector.writer.side = ClickHouseSink(side)
    projector.writer.load_positions(list(range(PARTITIONS)))
    return projector, side


def one_pass(variant: str, batches: list[list[Msg]], points: int) -> dict[str, Any]:
    overlap, side = VARIANTS[variant]
    path = tempfile.mkdtemp(prefix="projector-drain-")
    try:
        dsn = f"chdb://{path}"
        client = connect(dsn, "bench")
        migrate(client)
        settings = ProjectorSettings(kafka_bootstrap_servers="127.0.0.1:1", clickhouse_dsn=dsn,
                                     clickhouse_database="bench", overlap_inserts=overlap, side_inserts=side)
        projector = Projector(settings, client)
        projector._commit = lambda offsets: None  # type: ignore[method-assign]  # no broker here
        side_client = open_client(dsn, "bench") if side else None
        if side_client is not None:
            projector.writer.side = ClickHouseSink(side_client)
        projector.writer.load_positions(list(range(PARTITIONS)))
        load = os.getloadavg()[0]
        began, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            projector.process(batch)  # type: ignore[arg-type]
        projector.drain()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        counted = client.query("SELECT sum(point_count) FROM run_metric_summary").result_rows[0][0]
        assert counted == points, f"{counted} of {points} points in the summary"
        if projector.overlapped is not None:
            projector.overlapped.close()
        if side_client is not None:
            side_client.close()
        client.close()
        return {"variant": variant, "points": points, "seconds": round(seconds, 3),
                "points_per_s": round(points / seconds), "cpu_s": round(cpu, 3), "load_before": load,
                "load_after": os.getloadavg()[0]}
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--metrics", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="base,overlap,both")
    parser.add_argument("--series", action="store_true", help="each run's metrics as one event (the SDK's series)")
    args = parser.parse_args()
    variants = args.variants.split(",")
    batches, points = sweep(args.runs, args.metrics, args.steps, series=args.series)
    print(json.dumps({"batches": len(batches), "messages": sum(map(len, batches)), "points": points}), flush=True)
    results: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for variant in variants:
            result = one_pass(variant, batches, points)
            results[variant].append(result["points_per_s"])
            print(json.dumps(result), flush=True)
    print(json.dumps({"median_points_per_s": {v: statistics.median(r) for v, r in results.items()}}))


if __name__ == "__main__":
    main()
