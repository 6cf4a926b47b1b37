// Curves of the selected runs, one chart per chosen metric; dragging over a chart re-fetches that step range.
import { get, pool, post } from "../api.js";
import { chartBox, drawCurves, toXY } from "../charts.js";
import { errorBox, h, timings } from "../util.js";

const MAX_CURVE_RUNS = 50;

export class CurvesPanel {
  constructor({ state, save, selectedRuns }) {
    this.state = state; // shared URL state: m (keys), x (step|time), log ("1"), z ("lo:hi")
    this.save = save;
    this.selectedRuns = selectedRuns;
    this.controls = h("div", { class: "curve-controls" });
    this.charts = h("div", { class: "charts" });
    this.el = h("div", { class: "curves" }, this.controls, this.charts);
    this.generation = 0;
    this.drawnRuns = 0;
  }

  keys(runs) {
    const all = new Set();
    runs.forEach((r) => Object.keys(r.metrics || {}).forEach((k) => all.add(k)));
    return [...all].sort();
  }

  chosenKeys(available) {
    const chosen = this.state.m ? this.state.m.split(",").filter((k) => available.includes(k)) : [];
    return chosen.length ? chosen : available.slice(0, 1);
  }

  zoom() {
    if (!this.state.z || this.state.x === "time") return null;
    const [lo, hi] = this.state.z.split(":").map(Number);
    return Number.isFinite(lo) && Number.isFinite(hi) ? { lo, hi } : null;
  }

  renderControls(available, chosen) {
    const set = (k, v) => {
      this.state[k] = v;
      this.save();
      this.show();
    };
    const zoom = this.zoom();
    this.controls.replaceChildren(...[
      h("span", { class: "label" }, "metrics:"),
      ...available.map((k) => h("label", {}, h("input", { type: "checkbox", dataset: { metric: k }, checked: chosen.includes(k), onchange: (e) => {
        const next = e.target.checked ? [...chosen, k] : chosen.filter((x) => x !== k);
        set("m", next.join(","));
      } }), k)),
      h("label", {}, "x ", h("select", { class: "x-mode", onchange: (e) => set("x", e.target.value === "time" ? "time" : "") },
        h("option", { value: "step", selected: this.state.x !== "time" }, "step"),
        h("option", { value: "time", selected: this.state.x === "time" }, "time"))),
      h("label", {}, h("input", { type: "checkbox", class: "log-scale", checked: this.state.log === "1", onchange: (e) => set("log", e.target.checked ? "1" : "") }), "log scale"),
      zoom ? h("span", { class: "zoom" }, `steps ${zoom.lo}–${zoom.hi} `, h("button", { class: "reset-zoom", onclick: () => set("z", "") }, "reset zoom")) : null,
      h("span", { class: "hint" }, "drag across a chart to zoom"),
    ].filter(Boolean));
  }

  async show() {
    const runs = this.selectedRuns().slice(0, MAX_CURVE_RUNS);
    this.drawnRuns = runs.length;
    const available = this.keys(runs);
    if (!runs.length) {
      this.controls.replaceChildren();
      this.charts.replaceChildren(h("p", { class: "empty" }, "Select runs in the table to see their curves."));
      return;
    }
    const chosen = this.chosenKeys(available);
    this.renderControls(available, chosen);
    await this.draw(runs, chosen);
  }

  async refresh() {
    if (!this.zoom()) await this.show();
  }

  /** Every curve of the view in one call (POST /compare), each downsampled to the chart's width. */
  async overview(runs, keys, width) {
    const wanted = keys.filter((k) => runs.some((r) => r.metrics?.[k]));
    if (!wanted.length) return [];
    const body = await post("/api/v1/compare", { run_ids: runs.map((r) => r.run_id), metric_keys: wanted, max_points: Math.min(10000, width) });
    return keys.flatMap((key) => runs.map((run) => {
      const points = body.curves[run.run_id]?.[key];
      return points?.length ? { key, run, points } : null;
    }));
  }

  async draw(runs, keys) {
    const gen = ++this.generation;
    const boxes = keys.map((k) => chartBox(k));
    if (this.charts.children.length !== boxes.length || [...this.charts.children].some((c, i) => c.dataset.metric !== keys[i])) {
      this.charts.replaceChildren(...boxes);
    }
    const width = Math.max(300, Math.floor(this.charts.clientWidth || 800));
    const zoom = this.zoom();
    const xMode = this.state.x === "time" ? "time" : "step";
    const jobs = keys.flatMap((key) => runs.map((run) => ({ key, run })));
    const started = performance.now();
    let results;
    try {
      if (!zoom && xMode === "step") results = await this.overview(runs, keys, width);
      else results = await pool(jobs, 6, async ({ key, run }) => {
        if (!run.metrics?.[key]) return null;
        const q = new URLSearchParams({ max_points: String(width) });
        if (zoom) {
          q.set("step_min", String(zoom.lo));
          q.set("step_max", String(zoom.hi));
        }
        const body = await get(`/api/v1/runs/${run.run_id}/metrics/${encodeURIComponent(key)}?${q}`);
        return { key, run, points: body.points };
      });
    } catch (err) {
      if (gen === this.generation) this.charts.replaceChildren(errorBox(err));
      return;
    }
    if (gen !== this.generation) return;
    const fetched = performance.now();
    const boxesNow = [...this.charts.children];
    keys.forEach((key, i) => {
      const series = results.filter((r) => r && r.key === key).map((r) => ({
        runId: r.run.run_id, label: r.run.name || r.run.run_id.slice(0, 8), ...toXY(r.points, xMode),
      }));
      drawCurves(boxesNow[i], series, {
        title: key, log: this.state.log === "1", xMode,
        onZoom: xMode === "step" ? (lo, hi) => { this.state.z = `${lo}:${hi}`; this.save(); this.show(); } : null,
      });
      boxesNow[i].dataset.points = String(series.reduce((n, s) => n + s.xs.length, 0));
      boxesNow[i].dataset.series = String(series.length);
    });
    await null; // uPlot draws in a microtask queued by its constructor: let it run before the clock stops
    timings.overlay = { fetchMs: fetched - started, renderMs: performance.now() - fetched, runs: runs.length, keys: keys.length,
      points: results.reduce((n, r) => n + (r ? r.points.length : 0), 0) };
    this.charts.dataset.generation = String(gen);
  }
}
