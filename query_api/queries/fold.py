"""The fold of a run's attribute changes, as SQL the API's queries inline.

It is the body of the `runs_as_of` parameterized view (migration 0004; `runs_current` is that view at the end of
time), which stays for analysts; `tests/unit/query_api/test_fold.py` keeps the two texts equal, so there is
still one fold. The API inlines it because chdb analyses a parameterized view anew for every query: the same
fold costs ~9 ms through the view and ~3 ms inlined (200 runs), and it is in every search, leaderboard,
parallel-coordinates and run request.
"""

from __future__ import annotations

from collections.abc import Collection

FOLD = """SELECT
    experiment_id,
    run_id,
    argMax(name, (event_time, seq)) AS name,
    argMax(user, (event_time, seq)) AS user,
    argMax(parent_run_id, (event_time, seq)) AS parent_run_id,
    argMax(source, (event_time, seq)) AS source,
    argMax(description, (event_time, seq)) AS description,
    argMax(status, (event_time, seq)) AS status,
    min(start_time) AS start_time,
    argMax(end_time, (event_time, seq)) AS end_time,
    ifNull(argMax(deleted, (event_time, seq)), 0) AS deleted,
    max(event_time) AS updated_time,
    any(kafka_partition) AS kafka_partition,
    min(kafka_offset) AS first_offset
FROM runs
WHERE event_time <= {as_of:DateTime64(6, 'UTC')}
GROUP BY experiment_id, run_id"""

AS_OF_PARAMETER = "{as_of:DateTime64(6, 'UTC')}"
END_OF_TIME = "toDateTime64('2262-01-01 00:00:00', 6, 'UTC')"


KEYS = ("experiment_id", "run_id")


def _column(line: str) -> str | None:
    """The name a line of the fold's SELECT list gives its column (None for the other lines)."""
    text = line.strip().rstrip(",")
    if not line.startswith("    ") or not text:
        return None
    return text.rsplit(" AS ", 1)[-1]


def runs_as_of(as_of: str = AS_OF_PARAMETER, where: str | None = None,
               columns: Collection[str] | None = None) -> str:
    """The fold as a parenthesized subquery: as of `as_of` (the bound parameter, or a constant from code), with
    `where` (a condition on whole runs, such as `run_id IN …`) applied before grouping; with `columns`, only those
    (and the run's keys) are folded, since ClickHouse computes every aggregate of a subquery an ORDER BY reads."""
    condition = f"event_time <= {as_of}" + (f" AND {where}" if where else "")
    fold = FOLD.replace(f"event_time <= {AS_OF_PARAMETER}", condition)
    if columns is not None:
        wanted = set(columns) | set(KEYS)
        lines = [line for line in fold.splitlines() if _column(line) in (None, *wanted)]
        select_end = next(i for i, line in enumerate(lines) if line.startswith("FROM "))
        lines[select_end - 1] = lines[select_end - 1].rstrip(",")
        fold = "\n".join(lines)
    return "(" + fold + ")"


CURRENT = runs_as_of(END_OF_TIME)
"""Every run as it stands now."""
