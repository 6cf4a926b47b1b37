// Grouped curves on a uPlot canvas: per group a mean line and a shaded band (± std or min–max) around it.
import uPlot from "uplot";

import { fmtNum, runColor } from "./util.js";

const n = (v) => (v === null || v === undefined ? null : typeof v === "number" ? v : Number(v));

/** The band's edges for one series of the API: ± std (std null for one run: no width) or min–max. */
export function bandEdges(series, band) {
  const mean = series.mean.map(n);
  if (band === "minmax") return { mean, lo: series.min.map(n), hi: series.max.map(n) };
  const std = series.std.map((s) => n(s) ?? 0);
  return { mean, lo: mean.map((m, i) => (m === null ? null : m - std[i])), hi: mean.map((m, i) => (m === null ? null : m + std[i])) };
}

function fill(color) {
  return `${color}33`; // the group's colour at 20% opacity
}

/**
 * Draw groups ([{id, label, series: {step, mean, std, min, max}}]) into el.
 * options: {title, band: "std"|"minmax", log, onZoom(lo, hi)}.
 */
export function drawBands(el, groups, options = {}) {
  const width = Math.max(300, Math.floor(el.clientWidth || 600));
  const log = !!options.log;
  const clip = (ys) => (log ? ys.map((y) => (y !== null && y > 0 ? y : null)) : ys);
  const data = [];
  const series = [{ label: "step" }];
  const bands = [];
  groups.forEach((g) => {
    const { mean, lo, hi } = bandEdges(g.series, options.band);
    const color = runColor(`group:${g.id}`);
    const first = series.length;
    data.push([g.series.step, clip(mean), clip(hi), clip(lo)]);
    series.push(
      { label: g.label, stroke: color, width: 2, spanGaps: true, points: { show: false }, value: (u, v) => fmtNum(v) },
      { label: `${g.label} upper`, stroke: "transparent", spanGaps: true, points: { show: false }, show: true, value: (u, v) => fmtNum(v) },
      { label: `${g.label} lower`, stroke: "transparent", spanGaps: true, points: { show: false }, value: (u, v) => fmtNum(v) },
    );
    bands.push({ series: [first + 1, first + 2], fill: fill(color) });
  });
  const opts = {
    title: options.title,
    width,
    height: options.height || 280,
    scales: { x: { time: false }, y: log ? { distr: 3 } : {} },
    axes: [{ label: "step" }, { values: (u, ticks) => ticks.map(fmtNum), size: 64 }],
    series,
    bands,
    legend: { live: true },
    cursor: { drag: { x: true, y: false, setScale: !options.onZoom } },
    hooks: {
      setSelect: [(u) => {
        if (!options.onZoom || u.select.width < 3) return;
        const a = u.posToVal(u.select.left, "x");
        const b = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        options.onZoom(Math.floor(a), Math.ceil(b));
      }],
    },
  };
  el.replaceChildren();
  const aligned = data.length ? uPlot.join(data) : [[]];
  const plot = new uPlot(opts, aligned, el);
  // the upper and lower edges only shape the band: keep them out of the legend
  el.querySelectorAll(".u-legend .u-series").forEach((row, i) => {
    if (i > 0 && (i - 1) % 3 !== 0) row.style.display = "none";
  });
  return plot;
}
