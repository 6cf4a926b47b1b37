"""What `runstream rebuild` and `runstream verify` print, and their exit codes."""

from __future__ import annotations

import re
from typing import Any

from runstream.maintenance_cli import EXIT_DIFFERENT, EXIT_FAILED, EXIT_OK, format_outcome, format_progress


def _status(**overrides: Any) -> dict[str, Any]:
    status = {"kind": "rebuild", "tables": ["metrics", "run_metric_summary"], "state": "done", "phase": "done",
              "events": 1200, "points": 1_000_000, "events_per_s": 600.0, "points_per_s": 500_000.0, "lag": 0,
              "paused_s": 0.25, "counts_before": {"metrics": 10, "run_metric_summary": 2},
              "counts_after": {"metrics": 10, "run_metric_summary": 2}, "differences": [], "error": None}
    return status | overrides


def test_progress_line() -> None:
    line = format_progress(_status(phase="replaying", lag=5000))
    assert line == ("rebuild: replaying | 1,200 events (600/s) | 1,000,000 points (500,000/s) | lag 5,000")
    assert "lag" not in format_progress(_status(lag=None))


def test_rebuild_prints_counts_before_and_after() -> None:
    text, code = format_outcome(_status())
    assert code == EXIT_OK
    assert re.search(r"^metrics +10 +10$", text, re.M) and re.search(r"^run_metric_summary +2 +2$", text, re.M)
    assert "rebuilt 2 table(s); projection paused 0.25 s" in text


def test_verify_lists_differences_and_exits_1() -> None:
    diffs = [{"table": "params", "run_id": "abc", "what": "same row count, different contents"},
             {"table": "event_offsets", "run_id": "", "what": "1 live row(s), 0 replayed"}]
    text, code = format_outcome(_status(kind="verify", differences=diffs))
    assert code == EXIT_DIFFERENT
    assert "2 difference(s)" in text and "params  run abc: same row count" in text
    assert "event_offsets  run (table-wide): 1 live row(s)" in text
    text, code = format_outcome(_status(kind="verify"))
    assert code == EXIT_OK and "every run equals its replay" in text


def test_a_failed_job_exits_2_with_its_error() -> None:
    text, code = format_outcome(_status(state="failed", error="partition 0 starts at offset 5"))
    assert code == EXIT_FAILED and "rebuild FAILED: partition 0 starts at offset 5" in text
