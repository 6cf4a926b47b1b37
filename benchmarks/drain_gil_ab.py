"""The live in-process drain of two checkouts alternated: CPU seconds and GIL-held seconds per 1M points.

    python benchmarks/drain_gil_ab.py BASE NEW [--pairs 6] [--rounds 3] [--rate 100] [--out results.jsonl]

Each side of a pair is two processes of this checkout's `benchmarks/projector_drain.py --series --variants side`
(the live defaults, each run's metrics as one event as the SDK sends them) projecting with that checkout's code
(`RUNSTREAM_CHECKOUT`): one plain, whose passes give the drain's CPU (every thread of the process, ClickHouse's
included; median of `--rounds` passes) and wall time, and one under `py-spy record --gil`, whose samples in the
drain (`gil_breakdown.in_drain`) give the seconds the drain held the GIL per pass.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from alternate import alternate, table  # noqa: E402
from gil_breakdown import frames, in_drain  # noqa: E402

PY_SPY = Path(sys.executable).with_name("py-spy")


def passes(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"variant"')]


def one(checkout: Path, rounds: int, rate: int) -> dict[str, Any]:
    env = {**os.environ, "RUNSTREAM_CHECKOUT": str(checkout)}
    command = [sys.executable, str(HERE / "projector_drain.py"), "--series", "--variants", "side",
               "--rounds", str(rounds)]
    load = os.getloadavg()[0]
    plain = passes(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)
    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp) / "gil.txt"
        subprocess.run([str(PY_SPY), "record", "--gil", "--rate", str(rate), "--format", "raw", "-o", str(profile),
                        "--", *command], env=env, capture_output=True, text=True, check=True)
        samples = 0
        for line in profile.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if in_drain(frames(stack)):
                samples += int(count)
    points = plain[0]["points"] / 1_000_000
    return {"load": f"{load:.1f}",
            "cpu_s": round(statistics.median(p["cpu_s"] for p in plain) / points, 3),
            "seconds": round(statistics.median(p["seconds"] for p in plain) / points, 3),
            "gil_s": round(samples / rate / rounds / points, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = alternate(args.pairs, args.base, args.new, lambda c: one(c, args.rounds, args.rate), args.out)
    print(table(rows, [("drain CPU s per 1M points", "cpu_s", "{:.3f}", False),
                       ("GIL-held s per 1M points", "gil_s", "{:.3f}", False),
                       ("drain wall s per 1M points", "seconds", "{:.3f}", False)]))


if __name__ == "__main__":
    main()
