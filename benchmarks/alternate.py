"""Two checkouts' runs alternated in one session (the order flipped every pair, so a drifting load favours
neither) and their markdown table: every run, the medians, and in how many pairs the new one was better.
Used by benchmarks/ingest_ab.py and benchmarks/backlog_ab.py."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# (header, key in a run's result, format, higher is better)
Column = tuple[str, str, str, bool]
Row = tuple[int, str, dict[str, Any]]


def alternate(pairs: int, base: Path, new: Path, run: Callable[[Path], dict[str, Any]],
              out: Path | None = None) -> list[Row]:
    """`run` of each checkout `pairs` times, base first in odd pairs; each result printed as a JSON line (and
    appended to `out`)."""
    rows: list[Row] = []
    for pair in range(1, pairs + 1):
        order = [("base", base), ("new", new)]
        for name, checkout in order if pair % 2 else order[::-1]:
            result = run(checkout.resolve())
            rows.append((pair, name, result))
            print(json.dumps({"pair": pair, "variant": name, "at": time.strftime("%H:%M:%S"), **result}), flush=True)
            if out:
                with out.open("a") as file:
                    file.write(json.dumps({"pair": pair, "variant": name, **result}) + "\n")
    return rows


def table(rows: list[Row], columns: list[Column]) -> str:
    """Every run, then the medians of each variant, then per column in how many pairs the new one was better."""
    head = ["pair", "variant", "load"] + [c[0] for c in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for pair, name, r in rows:
        cells = [str(pair), name, r["load"]] + [f.format(r[k]) for _, k, f, _ in columns]
        lines.append("| " + " | ".join(cells) + " |")
    for name in ("base", "new"):
        mine = [r for _, n, r in rows if n == name]
        lines.append("| **median** | " + name + " | | " + " | ".join(
            f.format(statistics.median(r[k] for r in mine)) for _, k, f, _ in columns) + " |")
    pairs = sorted({p for p, _, _ in rows})
    wins = []
    for label, key, _, higher in columns:
        both = [(next(r[key] for p, n, r in rows if p == q and n == "base"),
                 next(r[key] for p, n, r in rows if p == q and n == "new")) for q in pairs]
        better = sum(1 for b, n in both if (n > b if higher else n < b))
        wins.append(f"{label}: new better in {better} of {len(both)}")
    return "\n".join(lines) + "\n\n" + "; ".join(wins)
