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

/** A colour per run, the same in every view (derived from the run id, not from its position). */
export function runColor(runId) {
  const n = parseInt(runId.slice(0, 8), 16) || 0;
  const hue = Math.round(((n * 0.618033988749895) % 1) * 360);
  const light = 38 + (parseInt(runId.slice(8, 10), 16) % 3) * 8;
  return `hsl(${hue}, 72%, ${light}%)`;
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
