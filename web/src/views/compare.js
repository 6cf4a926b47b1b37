// 2-100 runs side by side: params (differences highlighted), metric summaries, overlaid curves.
import { num, post } from "../api.js";
import { chartBox, drawCurves } from "../charts.js";
import { href, list } from "../route.js";
import { errorBox, fmtNum, h, runColor } from "../util.js";

export function renderCompare(root, route) {
  const runIds = list(route.params, "runs");
  let onlyDiffers = route.params.get("diff") === "1";
  const body = h("div", {}, "loading…");
  root.replaceChildren(h("section", { class: "compare-page" }, h("h1", {}, `Compare ${runIds.length} runs`), body));
  document.getElementById("crumbs").replaceChildren(h("a", { href: "#/" }, "experiments"), " / compare");
  if (runIds.length < 2 || runIds.length > 100) {
    body.replaceChildren(h("p", { class: "error" }, "Choose between 2 and 100 runs in the runs table, then Compare selected."));
    return {};
  }

  async function load() {
    const width = Math.max(300, Math.floor(root.clientWidth / 2 || 600));
    let data;
    try {
      data = await post("/api/v1/compare", { run_ids: runIds, max_points: Math.min(10000, width) });
    } catch (err) {
      body.replaceChildren(errorBox(err));
      return;
    }
    const runs = data.runs;
    const head = () => h("tr", {}, h("th", {}, ""), ...runs.map((r) => h("th", { dataset: { runId: r.run_id } },
      h("a", { href: href(`/run/${r.run_id}`) }, h("span", { class: "swatch", style: `background:${runColor(r.run_id)}` }), r.name || r.run_id.slice(0, 8)))));
    const paramRows = data.params.filter((p) => !onlyDiffers || p.differs).map((p) => h("tr", { class: p.differs ? "differs" : "", dataset: { key: p.key } },
      h("th", {}, p.key), ...runs.map((r) => h("td", {}, p.values[r.run_id] ?? "—"))));
    const keys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics || {})))].sort();
    const metricRows = keys.flatMap((k) => ["last", "min", "max"].map((agg) => h("tr", { dataset: { key: k, agg } }, h("th", {}, `${k} (${agg})`),
      ...runs.map((r) => h("td", { class: "num" }, fmtNum(num(r.metrics?.[k]?.[agg])))))));
    const differing = data.params.filter((p) => p.differs).length;
    // curves come as run_id -> key -> points; each chart is one key with every run
    const curveKeys = [...new Set(Object.values(data.curves).flatMap((byKey) => Object.keys(byKey)))].sort();
    const charts = h("div", { class: "charts" }, ...curveKeys.map((k) => chartBox(k)));
    body.replaceChildren(
      h("label", {}, h("input", { type: "checkbox", class: "only-differs", checked: onlyDiffers, onchange: (e) => { onlyDiffers = e.target.checked; load(); } }),
        ` only the ${differing} params that differ`),
      h("h2", {}, "Params"), h("div", { class: "hscroll" }, h("table", { class: "grid compare-params" }, h("thead", {}, head()), h("tbody", {}, ...paramRows))),
      h("h2", {}, "Metrics"), h("div", { class: "hscroll" }, h("table", { class: "grid compare-metrics" }, h("thead", {}, head()), h("tbody", {}, ...metricRows))),
      h("h2", {}, "Curves"), charts);
    const names = new Map(runs.map((r) => [r.run_id, r.name || r.run_id.slice(0, 8)]));
    [...charts.children].forEach((box) => {
      const key = box.dataset.metric;
      const series = runs.filter((r) => data.curves[r.run_id]?.[key]).map(({ run_id: runId }) => [runId, data.curves[runId][key]]).map(([runId, points]) => ({
        runId, label: names.get(runId), xs: points.map((p) => p.step), ys: points.map((p) => num(p.value)),
      }));
      drawCurves(box, series, { title: key });
    });
  }
  load();
  return { refresh: load };
}
