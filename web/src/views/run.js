// One run: attributes, params, tags, metric summaries and curves, child runs, inputs, artifacts,
// and the audit timeline with an as-of control that shows the run as it stood at an instant.
import { ApiError, authedFetch, get, num, post } from "../api.js";
import { chartBox, drawCurves, toXY } from "../charts.js";
import { href } from "../route.js";
import { errorBox, fmtBytes, fmtNum, fmtTime, h, runColor } from "../util.js";

const kvTable = (cls, obj) => {
  const entries = Object.entries(obj || {}).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return h("p", { class: `empty ${cls}` }, "none");
  return h("table", { class: `grid kv ${cls}` }, h("tbody", {}, ...entries.map(([k, v]) => h("tr", { dataset: { key: k } }, h("th", {}, k), h("td", {}, String(v ?? ""))))));
};

const section = (title, cls, ...content) => h("section", { class: `card ${cls}` }, h("h2", {}, title), ...content);

export function renderRun(root, route) {
  const runId = route.parts[1];
  const asOf = route.params.get("as_of") || "";
  const go = (params) => { location.hash = href(`/run/${runId}`, params); };

  const asOfInput = h("input", { class: "as-of-input", value: asOf, placeholder: "2026-01-01T12:00:00.000Z", size: 28 });
  const asOfBar = h("form", { class: "as-of", onsubmit: (e) => { e.preventDefault(); go({ as_of: asOfInput.value.trim() }); } },
    h("span", {}, "as of "), asOfInput, h("button", { type: "submit" }, "show"),
    h("button", { type: "button", class: "as-of-now", onclick: () => go({}) }, "now"),
    asOf ? h("span", { class: "as-of-banner" }, `showing the run as it stood at ${asOf}`) : null);

  const head = h("div", { class: "run-head" });
  const attrs = h("div");
  const params = h("div");
  const tags = h("div");
  const metrics = h("div");
  const charts = h("div", { class: "charts run-charts" });
  const children = h("div", {}, "loading…");
  const inputs = h("div");
  const models = h("div", { class: "logged-models" });
  const artifacts = h("div", { class: "artifacts" }, "loading…");
  const preview = h("div", { class: "artifact-preview" });
  const timeline = h("div", { class: "timeline" }, "loading…");
  root.replaceChildren(h("section", { class: "run-page" }, head, asOfBar,
    h("div", { class: "columns2" },
      section("Attributes", "attributes", attrs), section("Params", "params", params), section("Tags", "tags", tags)),
    section("Metrics", "metrics", metrics, asOf ? h("p", { class: "hint" }, "The summaries are as of that instant; the curves show every point logged so far.") : null, charts),
    h("div", { class: "columns2" }, section("Child runs", "children", children), section("Dataset inputs", "inputs", inputs)),
    section("Logged models", "models-card", models),
    section("Artifacts", "artifacts-card", artifacts, preview),
    section("Audit timeline", "history", timeline)));

  async function loadRun() {
    const q = asOf ? `?as_of=${encodeURIComponent(asOf)}` : "";
    let run;
    try {
      run = await get(`/api/v1/runs/${runId}${q}`);
    } catch (err) {
      head.replaceChildren(errorBox(err));
      return null;
    }
    document.getElementById("crumbs").replaceChildren(h("a", { href: "#/" }, "experiments"), " / ",
      h("a", { href: href("/runs", { e: run.experiment_id }) }, run.experiment_name || run.experiment_id), " / ", run.name || runId);
    head.replaceChildren(h("h1", {}, h("span", { class: "swatch big", style: `background:${runColor(runId)}` }), run.name || runId,
      " ", h("span", { class: `status status-${(run.status || "").toLowerCase()}`, dataset: { status: run.status || "" } }, run.status || "")));
    attrs.replaceChildren(kvTable("attributes-table", {
      run_id: run.run_id, experiment: run.experiment_name, status: run.status, user: run.user, start_time: fmtTime(run.start_time),
      end_time: fmtTime(run.end_time), parent_run_id: run.parent_run_id, source: run.source, deleted: run.deleted,
    }));
    if (run.parent_run_id) attrs.append(h("p", {}, "parent: ", h("a", { href: href(`/run/${run.parent_run_id}`) }, run.parent_run_id)));
    params.replaceChildren(kvTable("params-table", run.params));
    tags.replaceChildren(kvTable("tags-table", run.tags));
    const keys = Object.keys(run.metrics || {}).sort();
    metrics.replaceChildren(keys.length ? h("table", { class: "grid metrics-table" },
      h("thead", {}, h("tr", {}, ...["key", "last", "min", "max", "points", "last step"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...keys.map((k) => {
        const m = run.metrics[k];
        return h("tr", { dataset: { key: k } }, h("th", {}, k), h("td", { class: "num" }, fmtNum(num(m.last))), h("td", { class: "num" }, fmtNum(num(m.min))),
          h("td", { class: "num" }, fmtNum(num(m.max))), h("td", { class: "num" }, String(m.count)), h("td", { class: "num" }, String(m.last_step)));
      }))) : h("p", { class: "empty" }, "no metrics"));
    const runInputs = run.inputs || [];
    inputs.replaceChildren(runInputs.length ? h("table", { class: "grid inputs-table" },
      h("thead", {}, h("tr", {}, ...["name", "digest", "source type", "source", "context"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...runInputs.map((i) => h("tr", {}, h("td", {}, i.name), h("td", { class: "mono" }, (i.digest || "").slice(0, 12)),
        h("td", {}, i.source_type || ""), h("td", {}, i.source || ""), h("td", {}, i.context || ""))))) : h("p", { class: "empty" }, run.inputs ? "none" : "not available"));
    return run;
  }

  async function loadCurves(run) {
    const keys = Object.keys(run.metrics || {}).sort().slice(0, 8);
    charts.replaceChildren(...keys.map((k) => chartBox(k)));
    const width = Math.max(300, Math.floor(charts.clientWidth / 2 || 500));
    await Promise.all(keys.map(async (key, i) => {
      const body = await get(`/api/v1/runs/${runId}/metrics/${encodeURIComponent(key)}?max_points=${width}`);
      drawCurves(charts.children[i], [{ runId, label: run.name || runId.slice(0, 8), ...toXY(body.points, "step") }], { title: key, height: 200 });
    }));
  }

  async function loadChildren(run) {
    const found = await post("/api/v1/runs/search", { experiment_ids: [run.experiment_id], max_results: 50000 });
    const kids = found.runs.filter((r) => r.parent_run_id === runId);
    children.replaceChildren(kids.length ? h("ul", { class: "child-runs" }, ...kids.map((k) => h("li", {},
      h("a", { href: href(`/run/${k.run_id}`) }, h("span", { class: "swatch", style: `background:${runColor(k.run_id)}` }), k.name || k.run_id), ` ${k.status || ""}`)))
      : h("p", { class: "empty" }, "none"));
  }

  async function loadArtifacts() {
    let body;
    try {
      body = await get(`/api/v1/runs/${runId}/artifacts`);
    } catch (err) {
      artifacts.replaceChildren(h("p", { class: "empty not-available" }, err instanceof ApiError && err.status === 404
        ? "Artifacts are not available on this server." : err.message));
      return;
    }
    const list = body.artifacts || [];
    if (!list.length) {
      artifacts.replaceChildren(h("p", { class: "empty" }, "none"));
      return;
    }
    const url = (a) => `/api/v1/runs/${runId}/artifacts/${a.path.split("/").map(encodeURIComponent).join("/")}`;
    const fetchBlob = async (a) => {
      const response = await authedFetch(url(a));
      if (!response.ok) throw new Error(`${a.path}: ${response.status}`);
      return response.blob();
    };
    const download = async (a) => {
      const link = h("a", { href: URL.createObjectURL(await fetchBlob(a)), download: a.path.split("/").pop() });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    };
    const show = async (a) => {
      try {
        const blob = await fetchBlob(a);
        const type = a.media_type || blob.type || "";
        if (type.startsWith("image/")) preview.replaceChildren(h("h3", {}, a.path), h("img", { class: "preview-image", src: URL.createObjectURL(blob), alt: a.path }));
        else if (type.startsWith("text/") || /json|yaml|csv|xml/.test(type)) {
          const text = await blob.slice(0, 65536).text();
          preview.replaceChildren(h("h3", {}, a.path), h("pre", { class: "preview-text" }, text));
        } else preview.replaceChildren(h("p", {}, `${a.path}: ${type || "binary"}, no preview`));
      } catch (err) {
        preview.replaceChildren(errorBox(err));
      }
    };
    artifacts.replaceChildren(h("table", { class: "grid artifacts-table" },
      h("thead", {}, h("tr", {}, ...["path", "size", "type", "digest", "logged", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...list.map((a) => h("tr", { dataset: { path: a.path } },
        h("td", {}, h("a", { href: "#", class: "artifact-link", onclick: (e) => { e.preventDefault(); show(a); } }, a.path)),
        h("td", { class: "num" }, fmtBytes(a.size)), h("td", {}, a.media_type || ""), h("td", { class: "mono" }, (a.digest || "").slice(0, 16)),
        h("td", {}, fmtTime(a.logged_at)),
        h("td", {}, h("button", { class: "download", onclick: () => download(a) }, "download")))))));
    const first = list.find((a) => (a.media_type || "").startsWith("image/")) || list.find((a) => (a.media_type || "").startsWith("text/"));
    if (first) show(first);
  }

  async function loadHistory() {
    let body;
    try {
      body = await get(`/api/v1/runs/${runId}/history?limit=2000`);
    } catch (err) {
      timeline.replaceChildren(errorBox(err));
      return;
    }
    const cutoff = asOf ? new Date(asOf).getTime() : Infinity;
    const summary = (e) => {
      const p = e.payload || {};
      if (e.type === "MetricsLogged") { // the log keeps a summary of a batch: its points are in the metrics table
        const keys = Array.isArray(p.keys) ? p.keys.join(", ") : "";
        const steps = p.min_step === p.max_step ? `step ${p.min_step}` : `steps ${p.min_step}–${p.max_step}`;
        return `${p.points ?? "?"} points of ${keys}, ${steps}`;
      }
      const text = JSON.stringify(p);
      return text.length > 160 ? `${text.slice(0, 160)}…` : text;
    };
    timeline.replaceChildren(...[
      body.seq_gaps?.length ? h("p", { class: "error" }, `missing events (seq gaps): ${body.seq_gaps.map(([a, b]) => `${a}–${b}`).join(", ")}`) : null,
      h("table", { class: "grid history-table" },
        h("thead", {}, h("tr", {}, ...["seq", "event", "when", "who", "where in the log", "what", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, ...body.events.map((e) => h("tr", {
          class: `${new Date(e.event_time).getTime() > cutoff ? "after-as-of" : ""} ${e.error ? "dead-letter" : ""}`,
          dataset: { type: e.type, seq: String(e.seq) },
        },
        h("td", { class: "num" }, String(e.seq)), h("td", {}, e.type), h("td", { class: "mono" }, e.event_time || ""),
        h("td", {}, `${e.producer?.user || "?"}@${e.producer?.host || "?"}`),
        h("td", { class: "mono" }, `partition ${e.partition} · offset ${e.offset}`),
        h("td", { class: "payload" }, e.error ? `${e.error} ` : "", summary(e)),
        h("td", {}, e.event_time ? h("button", { class: "as-of-event", title: "show the run as it stood after this event", onclick: () => go({ as_of: e.event_time }) }, "as of") : null))))),
      body.next_page_token ? h("p", { class: "empty" }, "more events not shown") : null,
    ].filter(Boolean));
  }

  async function load() {
    const run = await loadRun();
    loadHistory();
    if (!run) return;
    loadArtifacts();
    loadCurves(run).catch((err) => charts.replaceChildren(errorBox(err)));
    loadChildren(run).catch((err) => children.replaceChildren(errorBox(err)));
    loadModels().catch((err) => models.replaceChildren(errorBox(err)));
  }

  async function loadModels() {
    const { logged_models: found } = await get(`/api/v1/runs/${runId}/logged-models`);
    if (!found.length) { models.replaceChildren(h("p", { class: "empty" }, "none")); return; }
    models.replaceChildren(h("table", { class: "grid logged-models-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", {}, "model id"), h("th", {}, "status"), h("th", {}, "metrics"), h("th", {}, "registered as"))),
      h("tbody", {}, ...found.map((m) => h("tr", { dataset: { modelId: m.model_id } },
        h("td", {}, m.name), h("td", {}, m.model_id), h("td", {}, m.status || ""),
        h("td", {}, m.metrics.map((x) => `${x.key}=${fmtNum(x.value)}`).join(", ")),
        h("td", {}, ...m.registrations.map((r) => h("a", { href: href(`/models/${encodeURIComponent(r.name)}`, { v: r.version }) }, `${r.name} v${r.version} `))))))));
  }
  load();
  return { refresh: asOf ? null : async () => { const run = await loadRun(); if (run) await Promise.all([loadHistory(), loadCurves(run)]); } };
}
