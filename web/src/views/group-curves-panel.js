// Curves of run groups: per chosen metric one chart, per group its mean line and a ± std or min–max band,
// from one POST /api/v1/groups/curves (statistics over every point, in ClickHouse); a drag re-fetches the range.
import { post } from "../api.js";
import { bandEdges, drawBands } from "../bands.js";
import { chartBox } from "../charts.js";
import { errorBox, h, timings } from "../util.js";
import { label } from "../grouping.js";

const MAX_GROUPS = 50;

export class GroupCurvesPanel {
  constructor({ state, save, scope, runs }) {
    this.state = state; // shared URL state: m (keys), log, z ("lo:hi"), band ("std"|"minmax")
    this.save = save;
    this.scope = scope; // () => {experiment_ids, filter, group_by}
    this.runs = runs;
    this.controls = h("div", { class: "curve-controls" });
    this.charts = h("div", { class: "charts" });
    this.el = h("div", { class: "curves grouped" }, this.controls, this.charts);
    this.generation = 0;
  }

  zoom() {
    if (!this.state.z) return null;
    const [lo, hi] = this.state.z.split(":").map(Number);
    return Number.isFinite(lo) && Number.isFinite(hi) ? { lo, hi } : null;
  }

  keys() {
    const all = new Set();
    this.runs().slice(0, 2000).forEach((r) => Object.keys(r.metrics || {}).forEach((k) => all.add(k)));
    const available = [...all].sort();
    const chosen = this.state.m ? this.state.m.split(",").filter((k) => available.includes(k)) : [];
    return { available, chosen: chosen.length ? chosen : available.slice(0, 1) };
  }

  renderControls(available, chosen) {
    const set = (k, v) => {
      this.state[k] = v;
      this.save();
      this.show();
    };
    const zoom = this.zoom();
    const band = this.state.band === "minmax" ? "minmax" : "std";
    this.controls.replaceChildren(...[
      h("span", { class: "label" }, "metrics:"),
      ...available.map((k) => h("label", {}, h("input", { type: "checkbox", dataset: { metric: k }, checked: chosen.includes(k), onchange: (e) => {
        set("m", (e.target.checked ? [...chosen, k] : chosen.filter((x) => x !== k)).join(","));
      } }), k)),
      h("label", {}, "band ", h("select", { class: "band-mode", onchange: (e) => set("band", e.target.value === "minmax" ? "minmax" : "") },
        h("option", { value: "std", selected: band === "std" }, "mean ± std"),
        h("option", { value: "minmax", selected: band === "minmax" }, "min – max"))),
      h("label", {}, h("input", { type: "checkbox", class: "log-scale", checked: this.state.log === "1", onchange: (e) => set("log", e.target.checked ? "1" : "") }), "log scale"),
      zoom ? h("span", { class: "zoom" }, `steps ${zoom.lo}–${zoom.hi} `, h("button", { class: "reset-zoom", onclick: () => set("z", "") }, "reset zoom")) : null,
      h("span", { class: "hint" }, "groups: mean line, shaded band; drag across a chart to zoom"),
    ].filter(Boolean));
  }

  async show() {
    const { available, chosen } = this.keys();
    if (!available.length) {
      this.controls.replaceChildren();
      this.charts.replaceChildren(h("p", { class: "empty" }, "No metrics in these runs."));
      return;
    }
    this.renderControls(available, chosen);
    await this.draw(chosen);
  }

  async refresh() {
    if (!this.zoom()) await this.show();
  }

  async draw(keys) {
    const gen = ++this.generation;
    if (this.charts.children.length !== keys.length || [...this.charts.children].some((c, i) => c.dataset.metric !== keys[i])) {
      this.charts.replaceChildren(...keys.map((k) => chartBox(k)));
    }
    const width = Math.max(300, Math.floor(this.charts.clientWidth || 800));
    const zoom = this.zoom();
    const scope = this.scope();
    const started = performance.now();
    let body;
    try {
      body = await post("/api/v1/groups/curves", { ...scope, metric_keys: keys, max_points: Math.min(10000, width),
        ...(zoom ? { step_min: zoom.lo, step_max: zoom.hi } : {}) });
    } catch (err) {
      if (gen === this.generation) this.charts.replaceChildren(errorBox(err));
      return;
    }
    if (gen !== this.generation) return;
    const fetched = performance.now();
    const groups = body.groups.slice(0, MAX_GROUPS).map((g) => {
      const values = scope.group_by.map((k) => g.key[k]);
      return { id: JSON.stringify(values), label: `${label(scope.group_by, values)} (${g.run_ids.length})`, metrics: g.metrics };
    });
    const boxes = [...this.charts.children];
    keys.forEach((key, i) => {
      const drawn = groups.filter((g) => g.metrics[key]?.step.length).map((g) => ({ id: g.id, label: g.label, series: g.metrics[key] }));
      drawBands(boxes[i], drawn, {
        title: key, band: this.state.band === "minmax" ? "minmax" : "std", log: this.state.log === "1",
        onZoom: (lo, hi) => { this.state.z = `${lo}:${hi}`; this.save(); this.show(); },
      });
      boxes[i].dataset.groups = String(drawn.length);
      boxes[i].dataset.points = String(drawn.reduce((n, g) => n + g.series.step.length, 0));
      // the band's total height, for tests: zero only when every group is a single run
      boxes[i].dataset.bandWidth = String(drawn.reduce((n, g) => {
        const { lo, hi } = bandEdges(g.series, this.state.band);
        return n + hi.reduce((m, v, j) => m + (v === null || lo[j] === null ? 0 : v - lo[j]), 0);
      }, 0));
    });
    timings.groupCurves = { fetchMs: fetched - started, renderMs: performance.now() - fetched, groups: body.groups.length };
    this.charts.dataset.generation = String(gen);
    this.charts.dataset.groups = String(body.groups.length);
  }
}
