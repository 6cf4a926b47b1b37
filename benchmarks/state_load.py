"""The CPU of loading a 10,000-run experiment's state (query_api/statecache: run_state FINAL and the metric
summaries, shaped into run rows) with the collector paused and the map dicts kept, against the code before
(0829a5f's parent: no pause, every map copied), alternated in one process on one store.

    python benchmarks/state_load.py STORE_DIR [ROUNDS]

STORE_DIR is a data directory of `runstream up` (its `clickhouse/` holds the sweep's experiment), e.g. one made by
scale10k's runstream side. Prints the median thread CPU ms of each and in how many rounds the new one was lower.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sweep  # noqa: E402

from consumers.clickhouse import connect  # noqa: E402
from query_api.queries import experiment_state  # noqa: E402
from query_api.statecache.cache import _read  # noqa: E402
from query_api.statecache.state import RunRow, summaries_by_run, unheld  # noqa: E402
from schemas.ids import experiment_id_for  # noqa: E402


def copied_rows(states: Iterable[Sequence[Any]], summaries: Iterable[Sequence[Any]]) -> list[RunRow]:
    """run_rows as it was: every map copied."""
    metrics = summaries_by_run(summaries)
    return [RunRow._make((*row[:15], dict(row[15]), dict(row[16]), dict(row[17]), dict(row[18]),
                          metrics.get(row[0], {}))) for row in states]


def main() -> None:
    store, rounds = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 16
    import query_api.app  # noqa: F401 - the server's import heap, which the collector walks too

    client = connect(f"chdb://{store / 'clickhouse'}", "runstream")
    eid = experiment_id_for(sweep.EXPERIMENT)

    def old() -> object:
        states = experiment_state.states(client, [eid])
        summaries = experiment_state.summaries(client, [eid])
        rows = copied_rows(states, summaries)
        return rows, unheld(rows, summaries)

    def new() -> object:
        return _read(client, eid)

    kept: list[object] = []  # the last states stay alive, as a server holds them
    times: dict[str, list[float]] = {"old": [], "new": []}
    lower = 0
    for r in range(rounds):
        pair = {}
        for name, load in ([("old", old), ("new", new)] if r % 2 else [("new", new), ("old", old)]):
            began = time.thread_time()
            kept.append(load())
            pair[name] = (time.thread_time() - began) * 1e3
            times[name].append(pair[name])
            kept[:] = kept[-3:]
        lower += pair["new"] < pair["old"]
    print(f"load {os.getloadavg()[0]:.1f}: old {statistics.median(times['old']):.0f} ms, new "
          f"{statistics.median(times['new']):.0f} ms (thread CPU, medians); new lower in {lower} of {rounds}")


if __name__ == "__main__":
    main()
