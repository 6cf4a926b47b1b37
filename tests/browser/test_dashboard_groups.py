"""Grouped runs in the dashboard: group rows in the table, mean lines with bands, the grouping in the URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.conftest import SWEEP, Dashboard, shot

pytestmark = pytest.mark.integration
BY_OPTIMIZER = "params.`optimizer`"
# Pixels of a band: the group's colour at 20% opacity over the transparent canvas (lines are opaque).
BAND_PIXELS = """(canvas) => {
  const {data} = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 20 && data[i] < 110) n++;
  return n;
}"""


def same(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-9 (ClickHouse sums in thread order, so a repeated mean may differ in its last bit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return bool(a == b)


def url(dash: Dashboard, **state: str) -> str:
    query = "&".join(f"{k}={quote(v)}" for k, v in {"e": dash.experiments[SWEEP], **state}.items())
    return f"{dash.url}/#/runs?{query}"


def group_labels(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".vt-row.group-row .group-label").all_inner_texts()]


def test_grouping_from_the_url_draws_bands_the_api_computed(page: Any, dashboard: Dashboard) -> None:
    with page.expect_response(lambda r: r.url.endswith("/api/v1/groups/curves")) as answered:
        page.goto(url(dashboard, g=BY_OPTIMIZER, m="loss"))
    page.wait_for_function("() => document.querySelector('.chart[data-metric=\"loss\"]')?.dataset.groups === '3'")
    request, fetched = answered.value.request.post_data_json, answered.value.json()
    assert request["group_by"] == [BY_OPTIMIZER] and request["metric_keys"] == ["loss"]
    assert same(fetched, dashboard.api("/api/v1/groups/curves", "POST", request))  # drawn = what the API serves
    runs = dashboard.search(SWEEP)
    by_optimizer: dict[str | None, int] = {}
    for r in runs:
        by_optimizer[r["params"].get("optimizer")] = by_optimizer.get(r["params"].get("optimizer"), 0) + 1
    assert group_labels(page) == [f"optimizer=adam ({by_optimizer['adam']})", f"optimizer=sgd ({by_optimizer['sgd']})",
                                  f"optimizer=∅ ({by_optimizer[None]})"]
    assert page.locator(".vt-row:not(.group-row)").count() == 0, "groups start collapsed"
    assert page.locator(f"input[data-group-key='{BY_OPTIMIZER}']").is_checked()
    chart = page.locator(".chart[data-metric='loss']")
    assert float(chart.get_attribute("data-band-width") or 0) > 0
    page.wait_for_function(f"() => ({BAND_PIXELS})(document.querySelector('.chart canvas')) > 2000")
    legend = chart.locator(".u-legend").inner_text()
    assert "optimizer=adam" in legend and "upper" not in legend.replace("\n", " ").split("optimizer=adam")[0]
    shot(page, "groups-curves")


def test_grouping_chosen_in_the_page_is_kept_in_the_url(page: Any, dashboard: Dashboard) -> None:
    page.goto(url(dashboard, m="loss"))
    page.wait_for_function("() => document.querySelector('.count')?.dataset.rows === '9'")
    page.locator(".group-picker summary").click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/groups/curves")):
        page.locator("input[data-group-key='params.`batch_size`']").check()
    page.wait_for_function("() => location.hash.includes('g=params')")
    assert group_labels(page) == ["batch_size=32 (4)", "batch_size=64 (4)", "batch_size=∅ (1)"]
    # a group opens to show its runs, and its row aggregates the columns over them
    page.locator(".vt-row.group-row .group-toggle").first.click()
    assert page.locator(".vt-row:not(.group-row)").count() == 4
    page.locator(".group-picker summary").click()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/groups/curves")):
        page.select_option(".band-mode", "minmax")
    page.wait_for_function("() => location.hash.includes('band=minmax')")
    minmax = float(page.locator(".chart[data-metric='loss']").get_attribute("data-band-width") or 0)
    assert minmax > 0
    shot(page, "groups-table")
    # a reload (or a shared link) restores the grouping and the band
    page.reload()
    page.wait_for_function("() => document.querySelector('.chart[data-metric=\"loss\"]')?.dataset.groups === '3'")
    assert group_labels(page) == ["batch_size=32 (4)", "batch_size=64 (4)", "batch_size=∅ (1)"]
    assert page.locator(".band-mode").input_value() == "minmax"


def test_zoom_on_grouped_curves_refetches_the_range(page: Any, dashboard: Dashboard) -> None:
    page.goto(url(dashboard, g=BY_OPTIMIZER, m="loss"))
    page.wait_for_function("() => document.querySelector('.chart[data-metric=\"loss\"]')?.dataset.groups === '3'")
    box = page.locator(".chart[data-metric='loss'] .u-over").bounding_box()
    assert box
    y = box["y"] + box["height"] / 2
    with page.expect_response(lambda r: r.url.endswith("/api/v1/groups/curves")
                              and "step_min" in (r.request.post_data_json or {})) as zoomed:
        page.mouse.move(box["x"] + box["width"] * 0.2, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.3, y, steps=5)
        page.mouse.up()
    request = zoomed.value.request.post_data_json
    steps = [s for g in zoomed.value.json()["groups"] for s in g["metrics"]["loss"]["step"]]
    assert steps and all(request["step_min"] <= s <= request["step_max"] for s in steps)
    page.wait_for_function("() => location.hash.includes('z=')")
