"""Where a drain's GIL time goes, from py-spy's raw output (`py-spy record --gil --format raw` over
`benchmarks/projector_drain.py`): the samples of the drain's stacks (those with a frame of `consumers/` other than
migrations), grouped by our innermost function and by the library the sample was in.

    python benchmarks/gil_breakdown.py profile.txt [--rate 100] [--passes 6] [--points 1000000] [--top 25]

Prints the share of samples per group and, with the sampling rate, the seconds per pass and per 1M points.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")
OURS = ("consumers/", "schemas/")
LIBRARIES = {"fastavro/": "fastavro", "clickhouse_connect/": "clickhouse-connect", "pyarrow/": "pyarrow",
             "numpy/": "numpy", "json/": "json", "tenacity/": "tenacity", "threading.py": "threading",
             "concurrent/": "concurrent", "dataclasses.py": "dataclasses", "uuid.py": "uuid",
             "datetime.py": "datetime"}


def frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for part in stack.split(";"):
        m = FRAME.match(part)
        out.append((m["func"], m["file"]) if m else (part, ""))
    return out


def in_drain(stack: list[tuple[str, str]]) -> bool:
    """A sample of the drain: under `Projector.process`/`drain` on the main thread, or on another thread (the side
    inserts) in our code; imports, connecting and migrations are not the drain."""
    funcs = [f for f, _ in stack]
    if "Projector.process" in funcs or "Projector.drain" in funcs:
        return True
    main_thread = bool(stack) and stack[0][1].endswith("projector_drain.py")
    return not main_thread and any(f.startswith(OURS) for _, f in stack)


def ours(stack: list[tuple[str, str]]) -> str:
    for func, file in reversed(stack):
        if file.startswith(OURS):
            return f"{func} ({file})"
    return "?"


def library(stack: list[tuple[str, str]]) -> str:
    func, file = stack[-1]
    for prefix, name in LIBRARIES.items():
        if prefix in file:
            return name
    if file.startswith(OURS):
        return "ours"
    return file or func


def kind(stack: list[tuple[str, str]]) -> str:
    """What the sample was doing, in the brief's terms."""
    funcs = " ".join(f for f, _ in stack)
    files = " ".join(f for _, f in stack)
    if "fastavro/" in files:
        return "decode: fastavro"
    if "insert_arrow" in funcs:
        return "insert: Arrow (metric chunks, summary)"
    if "Client.insert" in funcs or "InsertContext" in funcs:
        return "insert: native serialization (small tables)"
    if "clickhouse_connect/" in files:
        return "ClickHouse: queries and other client calls"
    if "classify" in funcs or "validate_event" in funcs or "decode" in funcs:
        return "decode: fastavro (compiled: sampled as its caller), classify, validation, event objects"
    if "metrics.py" in files:
        return "metric block (order, chunk rows)"
    if "summary.py" in files:
        return "summary rows"
    if "payload_json" in funcs:
        return "events: payload JSON"
    if "projections/" in files:
        return "projections: other rows"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--passes", type=int, default=6)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    by_ours: Counter[str] = Counter()
    by_library: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    total = drain = 0
    for line in args.profile.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        count = int(count_text)
        total += count
        stack = frames(stack_text)
        if not in_drain(stack):
            continue
        drain += count
        by_ours[ours(stack)] += count
        by_library[library(stack)] += count
        by_kind[kind(stack)] += count
    per_million = args.points / 1_000_000
    seconds = drain / args.rate / args.passes / per_million
    print(f"samples {total}, in the drain {drain}: {seconds:.3f} s per pass per 1M points at {args.rate:g} Hz")
    for title, counter in (("by kind", by_kind), ("by library", by_library), ("by our innermost function", by_ours)):
        print(f"\n{title}:")
        for name, count in counter.most_common(args.top):
            print(f"  {100 * count / drain:5.1f}%  {count / args.rate / args.passes / per_million:6.3f} s  {name}")


if __name__ == "__main__":
    main()
