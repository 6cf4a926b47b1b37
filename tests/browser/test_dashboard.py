"""The dashboard in headless Chromium against a real stack with a logged sweep."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import pytest

from tests.browser.conftest import ARTIFACT_FILES, AUDIT, SWEEP, TOKEN, Dashboard, call, shot

pytestmark = pytest.mark.integration

COLORED_PIXELS = """(canvas) => {
  const ctx = canvas.getContext('2d');
  const {data} = ctx.getImageData(0, 0, canvas.width, canvas.height);
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
  }
  return n;
}"""


def runs_url(dash: Dashboard, **state: str) -> str:
    query = "&".join(f"{k}={quote(v)}" for k, v in {"e": dash.experiments[SWEEP], **state}.items())
    return f"{dash.url}/#/runs?{query}"


def table_run_ids(page: Any) -> list[str]:
    rows = page.eval_on_selector_all(".vt-row", "rows => rows.map(r => [Number(r.dataset.index), r.dataset.runId])")
    return [run_id for _, run_id in sorted(rows)]


def wait_rows(page: Any, n: int) -> None:
    page.wait_for_function("n => document.querySelector('.count')?.dataset.rows === String(n)", arg=n)


def test_experiments_list(page: Any, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    row = page.locator(f"tr[data-experiment-id='{dashboard.experiments[SWEEP]}']")
    row.wait_for()
    assert row.locator("td").nth(2).inner_text() == "9"
    shot(page, "experiments")
    row.locator("a").click()
    wait_rows(page, 9)


def test_runs_table_shows_the_rows_and_sorts(page: Any, dashboard: Dashboard) -> None:
    page.goto(runs_url(dashboard))
    wait_rows(page, 9)
    assert set(table_run_ids(page)) == {r["run_id"] for r in dashboard.search(SWEEP)}
    page.locator(".vt-th[data-col='p::lr']").click()
    expected = [r["run_id"] for r in dashboard.search(SWEEP, order_by=["params.`lr` ASC"])]
    page.wait_for_function("() => location.hash.includes('s=p')")
    page.wait_for_function("first => document.querySelector('.vt-row[data-index=\"0\"]')?.dataset.runId === first",
                           arg=expected[0])
    assert table_run_ids(page) == expected
    page.locator(".vt-th[data-col='p::lr']").click()  # again: descending
    expected_desc = [r["run_id"] for r in dashboard.search(SWEEP, order_by=["params.`lr` DESC"])]
    page.wait_for_function("first => document.querySelector('.vt-row[data-index=\"0\"]')?.dataset.runId === first",
                           arg=expected_desc[0])
    assert table_run_ids(page) == expected_desc
    assert "d=desc" in page.url
    shot(page, "runs-table")


def test_filter_narrows_and_a_bad_filter_shows_the_server_error(page: Any, dashboard: Dashboard) -> None:
    page.goto(runs_url(dashboard))
    wait_rows(page, 9)
    page.fill(".filter-input", "params.optimizer = 'adam'")
    page.press(".filter-input", "Enter")
    adam = {r["run_id"] for r in dashboard.search(SWEEP, filter="params.optimizer = 'adam'")}
    wait_rows(page, len(adam))
    assert set(table_run_ids(page)) == adam and 0 < len(adam) < 9
    assert "f=params.optimizer" in page.url.replace("%20", " ").replace("+", " ") or "f=params" in page.url
    bad = "metrics.loss < 0.5 and and"
    status, body = call(dashboard.url + "/api/v1/runs/search", "POST",
                        {"experiment_ids": [dashboard.experiments[SWEEP]], "filter": bad})
    assert status == 400
    page.fill(".filter-input", bad)
    page.press(".filter-input", "Enter")
    error = page.locator(".filter-error")
    error.wait_for(state="visible")
    assert body["message"] in error.inner_text()
    assert set(table_run_ids(page)) == adam  # the last good result stays
    shot(page, "runs-filter-error")


def test_selected_runs_draw_curves_with_the_points_the_api_gives(page: Any, dashboard: Dashboard) -> None:
    chosen = [dashboard.runs[f"trial-{i}"] for i in (0, 3, 5)]
    page.goto(runs_url(dashboard))
    wait_rows(page, 9)
    for run_id in chosen[:-1]:
        page.locator(f".vt-row[data-run-id='{run_id}'] input.row-select").check()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/compare")
                              and len(r.request.post_data_json["run_ids"]) == 3) as last:
        page.locator(f".vt-row[data-run-id='{chosen[-1]}'] input.row-select").check()
    page.wait_for_function("() => document.querySelector('.chart')?.dataset.series === '3'")
    assert parse_qs(urlparse(page.url.replace("#/runs?", "?")).query)["sel"][0].split(",") == chosen
    page.wait_for_function(f"() => ({COLORED_PIXELS})(document.querySelector('.chart canvas')) > 500")
    request = last.value.request.post_data_json
    fetched = last.value.json()
    assert sorted(request["run_ids"]) == sorted(chosen)
    assert fetched == dashboard.api("/api/v1/compare", "POST", request)  # what the page drew is what the API serves
    width = request["max_points"]
    for run_id in chosen:
        points = fetched["curves"][run_id][request["metric_keys"][0]]
        assert 2 < len(points) <= width < 1500  # downsampled to the chart's width (1,500 steps were logged)
    drawn = int(page.locator(".chart").first.get_attribute("data-points") or 0)
    assert drawn == sum(len(fetched["curves"][r][request["metric_keys"][0]]) for r in chosen)
    legend = page.locator(".u-legend").first.inner_text()
    assert "trial-0" in legend and "trial-3" in legend
    shot(page, "curves")


def test_zoom_refetches_a_finer_step_range(page: Any, dashboard: Dashboard) -> None:
    run_id = dashboard.runs["trial-2"]
    page.goto(runs_url(dashboard, sel=run_id, m="loss"))
    page.wait_for_function("() => document.querySelector('.chart[data-metric=\"loss\"]')?.dataset.points")
    before = int(page.locator(".chart[data-metric='loss']").get_attribute("data-points") or 0)
    over = page.locator(".chart[data-metric='loss'] .u-over")
    box = over.bounding_box()
    assert box
    y = box["y"] + box["height"] / 2
    with page.expect_response(lambda r: "step_min=" in r.url and f"/runs/{run_id}/metrics/loss" in r.url) as zoomed:
        page.mouse.move(box["x"] + box["width"] * 0.40, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=5)
        page.mouse.up()
    query = parse_qs(urlparse(zoomed.value.url).query)
    lo, hi = int(query["step_min"][0]), int(query["step_max"][0])
    points = zoomed.value.json()["points"]
    assert points and all(lo <= p["step"] <= hi for p in points)
    assert len(points) == hi - lo + 1  # every step of the range: full detail
    full = dashboard.api(f"/api/v1/runs/{run_id}/metrics/loss?max_points={query['max_points'][0]}")["points"]
    assert len(points) > sum(lo <= p["step"] <= hi for p in full)  # finer than the overview had there
    page.wait_for_function("() => location.hash.includes('z=')")
    page.locator(".reset-zoom").wait_for()
    assert before > 0
    shot(page, "curves-zoomed")


def test_parallel_coordinates_brush_filters_the_table(page: Any, dashboard: Dashboard) -> None:
    page.goto(runs_url(dashboard, tab="parallel", pp="lr,optimizer", pm="loss"))
    wait_rows(page, 9)
    page.wait_for_function("() => document.querySelector('.pc-canvas')?.dataset.kept")
    canvas = page.locator(".pc-canvas")
    assert canvas.evaluate(COLORED_PIXELS) > 200
    box = canvas.bounding_box()
    assert box
    x = box["x"] + 50  # the first axis (lr)
    page.mouse.move(x, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(x, box["y"] + 180, steps=5)
    page.mouse.up()
    kept = int(canvas.get_attribute("data-kept") or 0)
    assert 0 < kept < 8
    wait_rows(page, kept)
    shot(page, "parallel-coordinates")
    page.locator(".pc-controls button", has_text="clear brushes").click()
    wait_rows(page, 9)


def test_run_page_shows_the_audit_timeline_and_as_of(page: Any, dashboard: Dashboard) -> None:
    run_id = dashboard.runs["slow-run"]
    history = dashboard.api(f"/api/v1/runs/{run_id}/history")["events"]
    page.goto(f"{dashboard.url}/#/run/{run_id}")
    page.locator(".status[data-status='FINISHED']").wait_for()
    rows = page.locator(".history-table tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(history)
    first = history[0]
    assert rows.first.get_attribute("data-type") == first["type"] == "RunStarted"
    text = rows.first.inner_text()
    assert f"partition {first['partition']} · offset {first['offset']}" in text
    assert first["producer"]["user"] in text
    assert page.locator(".tags-table tr[data-key='stage']").count() == 1
    page.locator(".metrics-table tr[data-key='loss']").wait_for()
    page.locator(".run-charts .chart canvas").first.wait_for()
    page.wait_for_function("() => !document.querySelector('.artifacts').textContent.includes('loading')")
    listed = dashboard.api(f"/api/v1/runs/{run_id}/artifacts")["artifacts"]
    assert {a["path"] for a in listed} == set(ARTIFACT_FILES)
    for a in listed:
        assert page.locator(f".artifacts-table tr[data-path='{a['path']}']").count() == 1
    image = page.locator(".artifact-preview img.preview-image")  # the first image is previewed inline
    image.wait_for()
    page.wait_for_function("() => document.querySelector('.preview-image').naturalWidth === 48")
    page.locator(".artifacts-table tr[data-path='notes.txt'] .artifact-link").click()
    assert page.locator(".artifact-preview pre").inner_text() == ARTIFACT_FILES["notes.txt"][0].decode()
    with page.expect_download() as download:
        page.locator(".artifacts-table tr[data-path='plots/loss.png'] button.download").click()
    assert download.value.suggested_filename == "loss.png"
    assert Path(download.value.path()).read_bytes() == ARTIFACT_FILES["plots/loss.png"][0]
    shot(page, "run-page")
    # as of the RunStarted event: running, and the tag set 1.5 s later is not there yet
    rows.first.locator(".as-of-event").click()
    page.locator(".status[data-status='RUNNING']").wait_for()
    assert "as_of=" in page.url
    assert page.locator(".tags-table tr[data-key='stage']").count() == 0
    page.locator(".history-table tr.after-as-of").first.wait_for()
    assert page.locator(".history-table tr.after-as-of").count() >= 2
    shot(page, "run-page-as-of")
    page.locator(".as-of-now").click()
    page.locator(".status[data-status='FINISHED']").wait_for()


def test_run_page_lists_child_runs(page: Any, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.url}/#/run/{dashboard.runs['trial-0']}")
    link = page.locator(".child-runs a")
    link.wait_for()
    assert link.inner_text().strip() == "trial-0-fold-1"


def test_a_metric_logged_once_is_drawn_as_its_point(page: Any, dashboard: Dashboard) -> None:
    run_id = dashboard.runs["trial-0-fold-1"]  # loss logged once, at step 0
    assert len(dashboard.api(f"/api/v1/runs/{run_id}/metrics/loss")["points"]) == 1
    page.goto(f"{dashboard.url}/#/run/{run_id}")
    page.wait_for_function("() => document.querySelector('.run-charts .chart')?.dataset.points === '1'")
    page.wait_for_function(f"() => ({COLORED_PIXELS})(document.querySelector('.run-charts .chart canvas')) > 20")
    shot(page, "one-point-chart")


def test_compare_page_highlights_differing_params(page: Any, dashboard: Dashboard) -> None:
    ids = [dashboard.runs[f"trial-{i}"] for i in (1, 2, 4)]
    page.goto(runs_url(dashboard, sel=",".join(ids)))
    wait_rows(page, 9)
    page.locator(".compare-btn").click()
    page.locator(".compare-params tbody tr").first.wait_for()
    assert page.locator(".compare-params tr[data-key='lr']").get_attribute("class") == "differs"
    assert page.locator(".compare-params tr[data-key='epochs']").get_attribute("class") == ""
    compared = dashboard.api("/api/v1/compare", "POST", {"run_ids": ids})
    differing = {p["key"] for p in compared["params"] if p["differs"]}
    shown = set(page.eval_on_selector_all(".compare-params tr.differs", "rows => rows.map(r => r.dataset.key)"))
    assert shown == differing
    chart = page.locator(".compare-page .chart[data-metric='loss']")
    chart.locator("canvas").wait_for()
    legend = chart.locator(".u-legend").inner_text()
    assert all(f"trial-{i}" in legend for i in (1, 2, 4))
    shot(page, "compare")


def test_auth_prompts_for_a_token_and_the_api_still_refuses_without_one(page: Any, auth_dashboard: Dashboard) -> None:
    dash = auth_dashboard
    assert call(f"{dash.url}/api/v1/experiments")[0] == 401
    page.goto(runs_url(dash))
    dialog = page.locator("#token-dialog")
    dialog.wait_for(state="visible")
    shot(page, "token-prompt")
    page.fill("#token-input", "not-the-token")
    page.press("#token-input", "Enter")
    page.locator("#token-error", has_text="refused").wait_for()
    page.fill("#token-input", TOKEN)
    page.press("#token-input", "Enter")
    wait_rows(page, 9)
    assert page.evaluate("localStorage.getItem('runstream.token')") == TOKEN
    assert call(f"{dash.url}/api/v1/experiments")[0] == 401
    assert call(f"{dash.url}/api/v1/experiments", token=TOKEN)[0] == 200


def test_live_refresh_shows_new_runs_and_freshness(page: Any, dashboard: Dashboard) -> None:
    page.add_init_script(
        "try { sessionStorage.setItem('keep-live', '1'); localStorage.setItem('runstream.live', '1'); } catch {}")
    page.goto(f"{dashboard.url}/#/runs?e={dashboard.experiments[AUDIT]}")
    wait_rows(page, 1)
    page.locator("#freshness.fresh").wait_for()
    assert re.search(r"up to date", page.locator("#freshness").inner_text())
    with dashboard.tracker() as tracker, tracker.start_run(AUDIT, "late-run", params={"lr": 0.5}) as run:
        run.log_metrics({"loss": 1.0}, step=0)
    page.wait_for_function("() => document.querySelector('.count')?.dataset.rows === '2'", timeout=30_000)



def test_chosen_columns_sort_on_the_server_and_the_url_restores_the_view(page: Any, dashboard: Dashboard) -> None:
    page.goto(runs_url(dashboard))
    wait_rows(page, 9)
    page.locator(".columns-picker summary").click()
    page.locator(".columns-picker input[data-col='m:min:loss']").check()
    header = page.locator(".vt-th[data-col='m:min:loss']")
    header.wait_for()
    header.click()
    expected = [r["run_id"] for r in dashboard.search(SWEEP, order_by=["min(metrics.`loss`) ASC"])]
    page.wait_for_function("first => document.querySelector('.vt-row[data-index=\"0\"]')?.dataset.runId === first",
                           arg=expected[0])
    assert table_run_ids(page) == expected
    chosen = expected[:2]
    for run_id in chosen:
        page.locator(f".vt-row[data-run-id='{run_id}'] input.row-select").check()
    page.fill(".filter-input", "metrics.loss < 1")
    page.press(".filter-input", "Enter")
    page.wait_for_function("() => location.hash.includes('f=')")
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)  # a shared link opens the same view
    page.locator(".vt-th[data-col='m:min:loss']").wait_for()
    assert page.locator(".filter-input").input_value() == "metrics.loss < 1"
    assert "▲" in page.locator(".vt-th[data-col='m:min:loss']").inner_text()
    page.wait_for_function("() => document.querySelector('.chart')?.dataset.series === '2'")
    selected = page.eval_on_selector_all(".vt-row.selected", "rows => rows.map(r => r.dataset.runId)")
    assert sorted(selected) == sorted(chosen)


def test_log_scale_and_time_axis_redraw_the_curves(page: Any, dashboard: Dashboard) -> None:
    run_id = dashboard.runs["trial-4"]
    page.goto(runs_url(dashboard, sel=run_id, m="loss,acc"))
    page.wait_for_function("() => document.querySelectorAll('.chart[data-series=\"1\"]').length === 2")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/compare")):
        page.locator(".log-scale").check()
    page.wait_for_function("() => location.hash.includes('log=1')")
    loss_canvas = "document.querySelector('.chart[data-metric=\"loss\"] canvas')"
    page.wait_for_function(f"() => ({COLORED_PIXELS})({loss_canvas}) > 300")
    with page.expect_response(lambda r: f"/runs/{run_id}/metrics/loss" in r.url):  # timestamps: the per-run route
        page.select_option(".x-mode", "time")
    page.wait_for_function("() => location.hash.includes('x=time')")
    legend = "document.querySelector('.chart[data-metric=\"loss\"] .u-legend')"
    page.wait_for_function(f"() => {legend}?.innerText.includes('time')")
    shot(page, "curves-log-time")
