// Overlaid curves on a uPlot canvas: one chart per metric key, one series per run.
import uPlot from "uplot";

import { fmtNum, h, runColor, timings } from "./util.js";

/**
 * Draw `series` ([{runId, label, xs, ys}]) into `el`; returns the uPlot instance.
 * options: {title, log, xMode: "step"|"time", height, onZoom(min, max)} — onZoom gets the dragged x range.
 */
export function drawCurves(el, series, options = {}) {
  const started = performance.now();
  const width = Math.max(300, Math.floor(el.clientWidth || 600));
  const log = !!options.log;
  const xIsTime = options.xMode === "time";
  const aligned = uPlot.join(series.map((s) => [s.xs, log ? s.ys.map((y) => (y > 0 ? y : null)) : s.ys]));
  const opts = {
    title: options.title,
    width,
    height: options.height || 260,
    // one x value (a metric logged once): widen the range so the point sits inside the chart
    scales: { x: { time: xIsTime, range: (u, min, max) => (min === max ? [min - 1, max + 1] : [min, max]) },
              y: log ? { distr: 3 } : {} },
    axes: [{ label: xIsTime ? undefined : "step" }, { values: (u, ticks) => ticks.map(fmtNum), size: 64 }],
    series: [
      { label: xIsTime ? "time" : "step", value: (u, v) => (v === null || v === undefined ? "" : xIsTime ? new Date(v * 1000).toISOString() : String(v)) },
      ...series.map((s) => ({
        label: s.label,
        stroke: runColor(s.runId),
        width: 1.5,
        spanGaps: true,
        // a line needs two points: a series with fewer is drawn as its point
        points: { show: finiteCount(s.ys) < 2, size: 8, fill: runColor(s.runId) },
        value: (u, v) => fmtNum(v),
      })),
    ],
    legend: { live: true },
    cursor: { drag: { x: true, y: false, setScale: !options.onZoom } },
    hooks: {
      setSelect: [
        (u) => {
          if (!options.onZoom || u.select.width < 3) return;
          const lo = u.posToVal(u.select.left, "x");
          const hi = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          options.onZoom(Math.floor(lo), Math.ceil(hi));
        },
      ],
    },
  };
  el.replaceChildren();
  const plot = new uPlot(opts, aligned, el);
  const elapsed = performance.now() - started;
  timings.lastChart = { ms: elapsed, series: series.length, points: series.reduce((n, s) => n + s.xs.length, 0) };
  el.dataset.renderMs = elapsed.toFixed(1);
  el.dataset.points = String(timings.lastChart.points);
  return plot;
}

function finiteCount(ys) {
  let n = 0;
  for (const y of ys) if (y !== null && Number.isFinite(y)) n++;
  return n;
}

/** Points from the API as {xs, ys} for x = step or time (seconds, as uPlot wants). */
export function toXY(points, xMode) {
  const xs = new Array(points.length);
  const ys = new Array(points.length);
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    xs[i] = xMode === "time" ? p.timestamp / 1000 : p.step;
    ys[i] = typeof p.value === "number" ? p.value : Number(p.value);
  }
  if (xMode === "time") {
    // several points may share a millisecond or arrive out of order; uPlot needs ascending x
    const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
    return { xs: order.map((i) => xs[i]), ys: order.map((i) => ys[i]) };
  }
  return { xs, ys };
}

export function chartBox(key) {
  return h("div", { class: "chart", dataset: { metric: key } });
}
