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


def test_the_cold_start_ratio_is_against_mlflows_timed_sweep_not_its_slower_warmup() -> None:
    mlflow = {"ingest": {"points_per_s": 7_500.2}, "warmup": {"runs": 20, "points_per_s": 4_000.4}}
    summary = cold_start_summary(_cold(), mlflow)
    assert summary["runstream_points_per_s"] == 300_000
    assert summary["mlflow_points_per_s"] == 7_500 and summary["mlflow_warmup_points_per_s"] == 4_000
    assert summary["ratio"] == 40.0
    assert summary["freshness_p99_s"] == 1.844 and summary["visible_s"] == 3.3
    assert summary["ingest_cpu_s"] == {"producers": 0.4, "broker to visible": 0.8}


def test_without_mlflow_the_cold_start_has_no_ratio() -> None:
    summary = cold_start_summary(_cold(), None)
    assert summary["mlflow_points_per_s"] is None and summary["ratio"] is None
    assert summary["runstream_points_per_s"] == 300_000


def test_the_report_names_the_warm_figure_and_the_cold_start_beside_it() -> None:
    import argparse

    from benchmarks.sweep import report, summarize

    ingest = {**_cold()["ingest"], "points_per_s": 400_000.0, "cpu_s": {"producers": 0.3},
              "per_point_log_metrics_points_per_s": 250_000.0}
    fresh = {"samples": 10, "p50_s": 0.5, "p99_s": 1.2, "idle_samples": 15, "idle_p50_s": 0.1, "idle_p99_s": 0.2,
             "projector": {}}
    questions = {"one_curve": 1.0}
    result = {"when": "now", "machine": "m", "load_before": 1.0, "load_after": 2.0, "warmup_runs": 20,
              "runstream_cold_start": {**_cold(), "freshness": {**fresh, "p99_s": 1.84449}},
              "runstream": {"ingest": ingest, "warmup": {"runs": 20, "points_per_s": 80_000}, "freshness": fresh,
                            "queries": questions, "queries_cold": questions},
              "mlflow": {"ingest": {"points_per_s": 8_000.0}, "warmup": {"runs": 20, "points_per_s": 5_000.0},
                         "queries": questions},
              "processes": {}}
    args = argparse.Namespace(runs=200, metrics=5, steps=1000, seed=42, producers=2, repeat=10, per_point=False,
                              idle_probe_s=3.0)
    latest = summarize(args, result)
    assert latest["ingest"]["runstream_points_per_s"] == 400_000 and latest["ingest"]["ratio"] == 50.0
    assert latest["ingest"]["warmup"] == {"runs": 20, "runstream_points_per_s": 80_000, "mlflow_points_per_s": 5_000}
    assert latest["ingest_cold_start"]["ratio"] == 37.5 and latest["ingest_cold_start"]["freshness_p99_s"] == 1.844
    text = report(args, result, latest)
    assert "after an untimed warm-up of 20 runs) | 400,000 | 8,000 | 50.0x |" in text
    assert "cold start (runstream" in text and "| 300,000 | 8,000 | 37.5x |" in text
    assert "Freshness while ingesting" in text.split("Cold start (")[0]  # the warm sweep's comes first (ingest_ab)
