// Small helpers shared by the views: elements, formatting, run colours.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Run colours: each run gets the next colour of a well-spaced palette the first time any view draws it,
// remembered in localStorage, so a run keeps its colour in the table, the charts and the compare page.
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#393b79", "#ad494a", "#637939", "#e6550d", "#7b4173", "#3182bd", "#843c39", "#31a354", "#fd8d3c", "#de9ed6"];
const COLOR_KEY = "runstream.colors";
const colors = (() => {
  try {
    return JSON.parse(localStorage.getItem(COLOR_KEY) || "{}");
  } catch {
    return {};
  }
})();
let colorCount = Object.keys(colors).length;
let saveQueued = false;

export function runColor(runId) {
  let c = colors[runId];
  if (c === undefined) {
    c = colors[runId] = colorCount++ % PALETTE.length;
    if (!saveQueued) {
      saveQueued = true;
      setTimeout(() => {
        saveQueued = false;
        const keys = Object.keys(colors);
        const kept = keys.length > 5000 ? Object.fromEntries(keys.slice(-5000).map((k) => [k, colors[k]])) : colors;
        localStorage.setItem(COLOR_KEY, JSON.stringify(kept));
      }, 500);
    }
  }
  return PALETTE[c];
}

export function fmtNum(v) {
  if (v === null || v === undefined || v === "") return "";
  const x = typeof v === "number" ? v : Number(v);
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "NaN" : String(x);
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-3)) return x.toExponential(3);
  return String(Math.round(x * 1e5) / 1e5);
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let x = Number(n);
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i ? x.toFixed(1) : x} ${units[i]}`;
}

export function errorBox(err) {
  return h("div", { class: "error" }, err?.message || String(err));
}

/** Timings the browser tests and the benchmark read (performance.now() in milliseconds). */
export const timings = (window.__dash = window.__dash || { timings: {} }).timings;
