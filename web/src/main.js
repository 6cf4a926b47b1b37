// The dashboard shell: routing on the URL hash, the freshness line, live refresh.
import "uplot/dist/uPlot.min.css";
import "./style.css";

import { parseHash } from "./route.js";
import { h } from "./util.js";
import { renderAlerts } from "./views/alerts.js";
import { renderCompare } from "./views/compare.js";
import { renderExperiments } from "./views/experiments.js";
import { renderModel, renderModels } from "./views/models.js";
import { renderRun } from "./views/run.js";
import { renderRuns } from "./views/runs.js";

const LIVE_KEY = "runstream.live";
const POLL_MS = 4000;
const view = document.getElementById("view");
const freshness = document.getElementById("freshness");
const live = document.getElementById("live");
let current = {};

// The links MLflow's client prints ("View run at …/#/experiments/<id>/runs/<run_id>") open the run, or the
// experiment's runs.
function mlflowLink(r) {
  const [first, experimentId, kind, runId] = r.parts;
  if (first !== "experiments" || !experimentId) return r;
  if (kind === "runs" && runId) return { ...r, parts: ["run", runId] };
  return { ...r, parts: ["runs"], params: new URLSearchParams({ e: experimentId }) };
}

function route() {
  const r = mlflowLink(parseHash());
  const [first] = r.parts;
  if (first === "runs") current = renderRuns(view, r);
  else if (first === "run" && r.parts[1]) current = renderRun(view, r);
  else if (first === "compare") current = renderCompare(view, r);
  else if (first === "models" && r.parts[1]) current = renderModel(view, r);
  else if (first === "models") current = renderModels(view, r);
  else if (first === "alerts") current = renderAlerts(view, r);
  else current = renderExperiments(view, r);
  current = current || {};
}

async function poll() {
  try {
    const response = await fetch("/healthz");
    const body = await response.json();
    const lag = body.projector_lag;
    freshness.className = response.ok && lag === 0 ? "fresh" : "stale";
    freshness.dataset.lag = String(lag ?? "");
    freshness.textContent = response.ok
      ? `${lag === 0 ? "up to date" : `${lag} events behind`} · checked ${new Date().toLocaleTimeString()}`
      : `server degraded: ${body.reason || response.status}`;
    if (live.checked && current.refresh && !document.hidden) await current.refresh();
  } catch (err) {
    freshness.className = "stale";
    freshness.textContent = `server unreachable (${err.message})`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

live.checked = localStorage.getItem(LIVE_KEY) !== "0";
live.addEventListener("change", () => localStorage.setItem(LIVE_KEY, live.checked ? "1" : "0"));
document.getElementById("token-form").append(h("p", { class: "hint" }, "The token is kept in this browser's local storage."));
window.addEventListener("hashchange", route);
route();
poll();
