"""The alert worker's CPU per ingested point in one process, without Kafka: a sweep's messages (as
`projector_drain.py` builds them: 200 runs, 1,000-point batches) decoded as the worker decodes them and folded in
consumed batches of `CONSUME_BATCH`, with no alert rule in the log (a sweep's case). Variants alternated in one run:
- before: `Evaluator.observe` per event with the best values folded as before 2026-12-04 (a sort per batch:
  `before_note_best` here, the code of then);
- each: `Evaluator.observe` per event (a mask per key where a batch has few);
- all: `Evaluator.observe_all` per consumed batch (the worker's live loop now).
Prints CPU seconds per 1M points per pass (all of it, and the fold alone), the medians per variant, and checks that
both fold the same state.

    python benchmarks/alerts_fold.py [--runs 200] [--rounds 6] [--trim-s 0.5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from projector_drain import Msg, sweep  # noqa: E402

from consumers.alerts.evaluate import Evaluator  # noqa: E402
from consumers.alerts.worker import CONSUME_BATCH, in_time_order  # noqa: E402
from consumers.decoding import DeadLetter, classify  # noqa: E402
from consumers.logged import LoggedEvent  # noqa: E402
from consumers.memory import MemoryRelease, libc_trim  # noqa: E402


def before_note_best(self: Evaluator, experiment_id: str, batch: Any) -> None:
    """`Evaluator._note_best` as it was before 2026-12-04."""
    finite = np.isfinite(batch.values)
    keys, values = batch.name_index[finite], batch.values[finite]
    if not len(values):
        return
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    lows, highs = np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)
    for k, low, high in zip(keys[starts].tolist(), lows.tolist(), highs.tolist(), strict=True):
        key = batch.names[k]
        for op, value in (("min", low), ("max", high)):
            slot = (experiment_id, key, op)
            best = self.best.get(slot)
            if best is None or (value < best if op == "min" else value > best):
                self.best[slot] = value


class Before(Evaluator):
    _note_best = before_note_best  # type: ignore[assignment]


def decoded(batch: list[Msg]) -> list[LoggedEvent]:
    out = []
    for m in batch:
        logged = classify(m.value(), m.key(), m.partition(), m.offset())
        if not isinstance(logged, DeadLetter):
            out.append(logged)
    return out


def one_pass(variant: str, msgs: list[Msg], release: MemoryRelease | None) -> tuple[float, float, Evaluator]:
    state = Before() if variant == "before" else Evaluator()
    fold_s = 0.0
    began = time.process_time()
    for i in range(0, len(msgs), CONSUME_BATCH):
        events = in_time_order(decoded(msgs[i:i + CONSUME_BATCH]))
        t = time.process_time()
        if variant in ("before", "each"):
            for logged in events:
                state.observe(logged)
        else:
            state.observe_all(events)
        fold_s += time.process_time() - t
        if release is not None:
            release(wrote=True)
    return time.process_time() - began, fold_s, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--trim-s", type=float, default=0.0, help="glibc's malloc_trim after a consumed batch at "
                        "most this often, in both variants (the worker's RUNSTREAM_ALERTS_MEMORY_RELEASE_S)")
    args = parser.parse_args()
    batches, points = sweep(args.runs, 5, 1000)
    msgs = [m for b in batches for m in b]  # consumed in the order a fetch hands them over
    variants = ["before", "each", "all"]
    per: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    states: dict[str, Any] = {}
    for r in range(args.rounds):
        for variant in (variants if r % 2 == 0 else variants[::-1]):
            release = MemoryRelease(args.trim_s, trim=libc_trim()) if args.trim_s else None
            cpu, fold_s, state = one_pass(variant, msgs, release)
            per[variant].append((cpu * 1e6 / points, fold_s * 1e6 / points))
            states[variant] = (state.best, {k: (v.last_seen, v.where, v.name) for k, v in state.runs.items()})
            print(json.dumps({"round": r, "variant": variant, "cpu_s_per_1m": round(cpu * 1e6 / points, 3),
                              "fold_s_per_1m": round(fold_s * 1e6 / points, 3)}), flush=True)
    assert states["before"] == states["each"] == states["all"], "the variants folded different states"
    for i, what in enumerate(("CPU", "fold CPU")):
        medians = ", ".join(f"{v} {statistics.median(p[i] for p in per[v]):.3f}" for v in variants)
        lower = {v: sum(a[i] < b[i] for a, b in zip(per[v], per["before"], strict=True)) for v in ("each", "all")}
        print(f"{what}-s per 1M points, medians: {medians}; lower than before in "
              f"{', '.join(f'{v} {n}' for v, n in lower.items())} of {args.rounds} rounds")


if __name__ == "__main__":
    main()
