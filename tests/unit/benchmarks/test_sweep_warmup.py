"""The sweep's untimed warm-up: how many runs it logs, and how the cold-start figures are reported."""

import pytest

pytest.importorskip("psutil")  # the [bench] extra, which benchmarks/sweep.py imports

from benchmarks.sweep import cold_start_summary, warmup_runs  # noqa: E402


def test_the_warmup_is_a_share_of_the_runs_at_least_one_per_producer_and_at_most_all() -> None:
    assert warmup_runs(200, 0.1, 2) == 20
    assert warmup_runs(200, 0.15, 2) == 30
    assert warmup_runs(10, 0.1, 2) == 2  # each producer process logs a run
    assert warmup_runs(3, 2.0, 2) == 3
    assert warmup_runs(200, 0.0, 2) == 0  # no warm-up: the cold-start method
    assert warmup_runs(0, 0.1, 2) == 0


def _cold() -> dict:
    return {"ingest": {"points_per_s": 300_000.4, "logged_s": 1.0, "published_s": 1.1, "visible_s": 3.3,
                       "cpu_s": {"producers": 0.4, "broker to visible": 0.8}},
            "freshness": {"p50_s": 0.86123, "p99_s": 1.84449}}


def test_the_cold_start_ratio_is_against_mlflows_warmup_rate() -> None:
    mlflow = {"ingest": {"points_per_s": 8_000.0}, "warmup": {"runs": 20, "points_per_s": 7_500.2}}
    summary = cold_start_summary(_cold(), mlflow)
    assert summary["runstream_points_per_s"] == 300_000
    assert summary["mlflow_points_per_s"] == 7_500 and summary["mlflow_runs"] == 20
    assert summary["ratio"] == 40.0
    assert summary["freshness_p99_s"] == 1.844 and summary["visible_s"] == 3.3
    assert summary["ingest_cpu_s"] == {"producers": 0.4, "broker to visible": 0.8}


def test_without_mlflow_the_cold_start_has_no_ratio() -> None:
    summary = cold_start_summary(_cold(), None)
    assert summary["mlflow_points_per_s"] is None and summary["ratio"] is None
    assert summary["runstream_points_per_s"] == 300_000
