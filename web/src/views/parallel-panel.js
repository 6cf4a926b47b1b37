// Parallel coordinates on a canvas: one axis per param plus the metric; drag on an axis to brush,
// which filters the runs table; double-click an axis to clear its brush.
import { get, num } from "../api.js";
import { errorBox, fmtNum, h } from "../util.js";

const PAD = { top: 30, bottom: 24, left: 50, right: 60 };

export class ParallelPanel {
  constructor({ state, save, experiments, runs, onBrush }) {
    this.state = state; // pp (params), pm (metric)
    this.save = save;
    this.experiments = experiments;
    this.runs = runs;
    this.onBrush = onBrush;
    this.controls = h("div", { class: "pc-controls" });
    this.canvas = h("canvas", { class: "pc-canvas", height: 360 });
    this.el = h("div", { class: "parallel" }, this.controls, this.canvas);
    this.brushes = new Map(); // axis index -> [v0, v1] in axis units (0..1 of its range)
    this.data = null;
    this.kept = new Set();
    this.installMouse();
  }

  available() {
    const params = new Set();
    const metrics = new Set();
    for (const r of this.runs().slice(0, 2000)) {
      Object.keys(r.params || {}).forEach((k) => params.add(k));
      Object.keys(r.metrics || {}).forEach((k) => metrics.add(k));
    }
    return { params: [...params].sort(), metrics: [...metrics].sort() };
  }

  async show() {
    const { params, metrics } = this.available();
    const chosen = this.state.pp ? this.state.pp.split(",").filter((k) => params.includes(k)) : params.slice(0, 5);
    const metric = metrics.includes(this.state.pm) ? this.state.pm : metrics[0];
    const set = (k, v) => {
      this.state[k] = v;
      this.save();
      this.show();
    };
    this.controls.replaceChildren(
      h("span", { class: "label" }, "params:"),
      ...params.map((k) => h("label", {}, h("input", { type: "checkbox", checked: chosen.includes(k), onchange: (e) =>
        set("pp", (e.target.checked ? [...chosen, k] : chosen.filter((x) => x !== k)).join(",")) }), k)),
      h("label", {}, " metric ", h("select", { class: "pc-metric", onchange: (e) => set("pm", e.target.value) },
        ...metrics.map((m) => h("option", { value: m, selected: m === metric }, m)))),
      h("button", { onclick: () => { this.brushes.clear(); this.apply(); } }, "clear brushes"),
    );
    if (!chosen.length || !metric || !this.experiments().length) {
      this.data = null;
      this.draw();
      return;
    }
    try {
      const q = new URLSearchParams({ params: chosen.join(","), metric });
      const bodies = await Promise.all(this.experiments().map((id) => get(`/api/v1/experiments/${id}/parallel-coordinates?${q}`)));
      this.prepare(bodies, chosen, metric);
    } catch (err) {
      this.controls.append(errorBox(err));
      return;
    }
    this.brushes.clear();
    this.apply();
  }

  prepare(bodies, params, metric) {
    const rows = bodies.flatMap((b) => b.runs);
    const numeric = new Map(bodies[0].dimensions.map((d) => [d.param, d.type === "numeric"]));
    const axes = params.map((p) => ({ name: p, numeric: numeric.get(p) ?? false, get: (r) => r.params[p] }));
    axes.push({ name: metric, numeric: true, get: (r) => num(r.metric), metric: true });
    for (const a of axes) {
      const values = rows.map(a.get).filter((v) => v !== null && v !== undefined && !(typeof v === "number" && !Number.isFinite(v)));
      if (a.numeric) {
        const xs = values.map(Number);
        const lo = Math.min(...xs);
        const hi = Math.max(...xs);
        a.log = lo > 0 && hi / lo >= 100; // values spanning orders of magnitude (learning rates) on a log axis
        const f = a.log ? Math.log10 : (x) => x;
        a.min = f(lo);
        a.max = f(hi);
        a.pos = (v) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? null : a.max === a.min ? 0.5 : (f(Number(v)) - a.min) / (a.max - a.min));
        a.tick = (t) => fmtNum(a.log ? 10 ** (a.min + t * (a.max - a.min)) : a.min + t * (a.max - a.min));
      } else {
        a.cats = [...new Set(values.map(String))].sort();
        a.pos = (v) => (v === null || v === undefined ? null : a.cats.length === 1 ? 0.5 : a.cats.indexOf(String(v)) / (a.cats.length - 1));
      }
    }
    this.data = { rows, axes, pos: rows.map((r) => axes.map((a) => a.pos(a.get(r)))) };
  }

  apply() {
    if (!this.data) return;
    const kept = new Set();
    this.data.rows.forEach((r, i) => {
      const ok = [...this.brushes].every(([axis, [lo, hi]]) => {
        const p = this.data.pos[i][axis];
        return p !== null && p >= lo && p <= hi;
      });
      if (ok) kept.add(r.run_id);
    });
    this.kept = kept;
    this.canvas.dataset.kept = String(kept.size);
    this.onBrush(this.brushes.size ? kept : null);
    this.draw();
  }

  geometry() {
    const width = Math.max(400, this.el.clientWidth || 800);
    const height = 360;
    const n = this.data ? this.data.axes.length : 1;
    const x = (i) => PAD.left + (n === 1 ? 0 : (i * (width - PAD.left - PAD.right)) / (n - 1));
    const y = (p) => PAD.top + (1 - p) * (height - PAD.top - PAD.bottom);
    return { width, height, x, y };
  }

  draw() {
    const { width, height, x, y } = this.geometry();
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = width * ratio;
    this.canvas.height = height * ratio;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (!this.data) {
      ctx.fillStyle = "#666";
      ctx.fillText("Choose params and a metric.", PAD.left, PAD.top);
      return;
    }
    const { rows, axes, pos } = this.data;
    const metricAxis = axes.length - 1;
    const line = (i) => {
      ctx.beginPath();
      let pen = false;
      for (let a = 0; a < axes.length; a++) {
        const p = pos[i][a];
        if (p === null) {
          pen = false;
          continue;
        }
        if (pen) ctx.lineTo(x(a), y(p));
        else ctx.moveTo(x(a), y(p));
        pen = true;
      }
      ctx.stroke();
    };
    ctx.lineWidth = 1;
    ctx.globalAlpha = rows.length > 2000 ? 0.15 : 0.5;
    ctx.strokeStyle = "#bbb";
    rows.forEach((r, i) => { if (this.brushes.size && !this.kept.has(r.run_id)) line(i); });
    ctx.globalAlpha = rows.length > 2000 ? 0.3 : 0.8;
    rows.forEach((r, i) => {
      if (this.brushes.size && !this.kept.has(r.run_id)) return;
      const m = pos[i][metricAxis];
      ctx.strokeStyle = m === null ? "#888" : `hsl(${Math.round(240 - 240 * m)}, 75%, 45%)`;
      line(i);
    });
    ctx.globalAlpha = 1;
    axes.forEach((a, i) => {
      ctx.strokeStyle = "#333";
      ctx.beginPath();
      ctx.moveTo(x(i), y(0));
      ctx.lineTo(x(i), y(1));
      ctx.stroke();
      ctx.fillStyle = "#111";
      ctx.textAlign = "center";
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText(a.log ? `${a.name} (log)` : a.name, x(i), 16);
      ctx.font = "10px system-ui, sans-serif";
      ctx.textAlign = "right";
      const ticks = a.numeric ? [0, 0.5, 1].map((t) => [t, a.tick(t)]) : a.cats.slice(0, 12).map((c) => [a.pos(c), c]);
      for (const [t, label] of ticks) ctx.fillText(label, x(i) - 4, y(t) + 3);
      const brush = this.brushes.get(i);
      if (brush) {
        ctx.fillStyle = "rgba(30, 90, 200, 0.25)";
        ctx.fillRect(x(i) - 7, y(brush[1]), 14, y(brush[0]) - y(brush[1]));
      }
    });
  }

  installMouse() {
    let drag = null;
    const where = (e) => {
      const rect = this.canvas.getBoundingClientRect();
      return { px: e.clientX - rect.left, py: e.clientY - rect.top };
    };
    const toP = (py) => {
      const { height } = this.geometry();
      return Math.min(1, Math.max(0, 1 - (py - PAD.top) / (height - PAD.top - PAD.bottom)));
    };
    const axisAt = (px) => {
      if (!this.data) return -1;
      const { x } = this.geometry();
      for (let i = 0; i < this.data.axes.length; i++) if (Math.abs(x(i) - px) < 14) return i;
      return -1;
    };
    this.canvas.addEventListener("mousedown", (e) => {
      const { px, py } = where(e);
      const axis = axisAt(px);
      if (axis >= 0) drag = { axis, start: toP(py) };
    });
    window.addEventListener("mousemove", (e) => {
      if (!drag) return;
      const p = toP(where(e).py);
      this.brushes.set(drag.axis, [Math.min(drag.start, p), Math.max(drag.start, p)]);
      this.draw();
    });
    window.addEventListener("mouseup", () => {
      if (!drag) return;
      drag = null;
      this.apply();
    });
    this.canvas.addEventListener("dblclick", (e) => {
      const axis = axisAt(where(e).px);
      if (axis >= 0) {
        this.brushes.delete(axis);
        this.apply();
      }
    });
  }
}
