"""The dashboard's models view: registered models, a model's versions, alias timeline, history and lineage."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SWEEP, Dashboard, shot

pytestmark = pytest.mark.integration
MLFLOW = "/api/2.0/mlflow"


def _register(dash: Dashboard) -> dict[str, str]:
    """A logged model from one of the sweep's runs, registered as two versions; @champion moved v1 -> v2."""
    run_id = dash.search(SWEEP)[0]["run_id"]
    experiment_id = dash.experiments[SWEEP]
    model = dash.api(f"{MLFLOW}/logged-models", "POST", {"experiment_id": experiment_id, "name": "net",
                                                         "source_run_id": run_id,
                                                         "params": [{"key": "width", "value": "64"}]})
    model_id = model["model"]["info"]["model_id"]
    dash.api(f"{MLFLOW}/runs/log-batch", "POST", {"run_id": run_id, "metrics": [
        {"key": "val_acc", "value": 0.91, "timestamp": 1_700_000_000_000, "step": 3, "model_id": model_id,
         "dataset_name": "holdout", "dataset_digest": "d1"}]})
    dash.api(f"{MLFLOW}/registered-models/create", "POST", {"name": "browser-net", "description": "a net"})
    for _ in range(2):
        dash.api(f"{MLFLOW}/model-versions/create", "POST", {"name": "browser-net", "source": f"models:/{model_id}",
                                                             "model_id": model_id})
    for version in ("1", "2"):
        dash.api(f"{MLFLOW}/registered-models/alias", "POST", {"name": "browser-net", "alias": "champion",
                                                               "version": version})
    return {"run_id": run_id, "model_id": model_id}


def test_models_view_and_a_versions_lineage(page: Any, dashboard: Dashboard) -> None:
    made = _register(dashboard)
    page.goto(dashboard.url + "/#/models")
    row = page.locator("tr[data-model='browser-net']")
    row.wait_for()
    assert row.locator("td").nth(1).inner_text() == "2"
    assert "@champion → v2" in row.locator("td").nth(2).inner_text()
    shot(page, "models")
    row.locator("a").click()
    page.locator(".versions-table tr[data-version='2']").wait_for()
    timeline = page.locator(".alias-timeline[data-alias='champion'] li")
    assert [t.split("→ ")[1] for t in timeline.all_inner_texts()] == ["v1", "v2"]
    assert page.locator(".history li").count() == 5  # created, two versions, two alias moves
    page.locator(".versions-table tr[data-version='2'] a").first.click()
    step = page.locator(".logged-model-step")
    step.wait_for()
    text = step.inner_text()
    assert made["model_id"] in text and "width = 64" in text and "val_acc = 0.91" in text and "holdout" in text
    run_step = page.locator(".run-step")
    assert run_step.locator("a").get_attribute("href") == f"#/run/{made['run_id']}"
    shot(page, "model-lineage")
    run_step.locator("a").click()  # the run page lists the run's logged models and their registrations
    model_row = page.locator(f".logged-models-table tr[data-model-id='{made['model_id']}']")
    model_row.wait_for()
    assert "val_acc=0.91" in model_row.inner_text() and "browser-net v1" in model_row.inner_text()


def test_the_links_mlflows_client_prints_open_the_run_and_the_experiment(page: Any, dashboard: Dashboard) -> None:
    run = dashboard.search(SWEEP)[0]
    experiment_id = dashboard.experiments[SWEEP]
    page.goto(f"{dashboard.url}/#/experiments/{experiment_id}/runs/{run['run_id']}")
    page.wait_for_function("id => document.body.innerText.includes(id.slice(0, 8))", arg=run["run_id"])
    assert run["name"] in page.locator("#view").inner_text()
    page.goto(f"{dashboard.url}/#/experiments/{experiment_id}")
    page.wait_for_function("() => document.querySelector('.count')?.dataset.rows === '9'")
