"""The counts table of docs/mlflow.md from the harness's reports: passed / run per group for MLflow's own server
and for runstream before and after, and the tests MLflow passes that runstream still fails.

    python conformance/compare.py conformance/counts-mlflow.json conformance/counts-before.json \
        conformance/counts-after.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlflow_rest_plugin import group_of


def passed(report: dict[str, object]) -> dict[str, set[str]]:
    """Test name -> outcome sets per group: the tests that passed (xfail-marked tests that passed count too)."""
    tests: dict[str, str] = report["tests"]  # type: ignore[assignment]
    by_group: dict[str, set[str]] = {}
    for name, outcome in tests.items():
        by_group.setdefault(group_of(name), set())
        if outcome == "passed":
            by_group[group_of(name)].add(name)
    return by_group


def main(mlflow_path: str, before_path: str, after_path: str) -> None:
    reports = [json.loads(Path(p).read_text()) for p in (mlflow_path, before_path, after_path)]
    totals: dict[str, int] = {}
    for name in reports[0]["tests"]:
        totals[group_of(name)] = totals.get(group_of(name), 0) + 1
    counts = [passed(r) for r in reports]
    print("| group | tests | MLflow 3.17.2 | runstream before | runstream after |")
    print("| --- | --- | --- | --- | --- |")
    for group in sorted(totals):
        cells = [str(len(c.get(group, set()))) for c in counts]
        print(f"| {group} | {totals[group]} | " + " | ".join(cells) + " |")
    print(f"| all | {sum(totals.values())} | " + " | ".join(str(sum(len(v) for v in c.values())) for c in counts)
          + " |")
    print()
    theirs = set().union(*counts[0].values())
    ours = set().union(*counts[2].values())
    reasons = reports[2].get("failure_reasons", {})
    for name in sorted(theirs - ours, key=lambda n: (group_of(n), n)):
        print(f"- {group_of(name)}: `{name.split('::')[-1]}`: {str(reasons.get(name, 'not passed'))[:160]}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
