// The model registry: registered models, a model's versions and aliases, each alias's timeline, the audit
// history, and a version's lineage (version -> logged model -> run -> datasets and metrics).
import { get } from "../api.js";
import { href } from "../route.js";
import { errorBox, fmtNum, fmtTime, h } from "../util.js";

const enc = encodeURIComponent;
const msTime = (ms) => (ms ? new Date(Number(ms)).toISOString() : null);

export function renderModels(root) {
  const body = h("tbody");
  root.replaceChildren(h("section", { class: "models" }, h("h1", {}, "Registered models"),
    h("table", { class: "grid models-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", { class: "num" }, "versions"), h("th", {}, "aliases"),
        h("th", {}, "description"), h("th", {}, "updated"))),
      body)));
  document.getElementById("crumbs").replaceChildren(h("a", { href: "#/" }, "experiments"), " / models");

  async function load() {
    const { models } = await get("/api/v1/registry/models");
    body.replaceChildren(...models.map((m) => h("tr", { dataset: { model: m.name } },
      h("td", {}, h("a", { href: href(`/models/${enc(m.name)}`) }, m.name)),
      h("td", { class: "num" }, String(m.versions.length)),
      h("td", {}, (m.aliases || []).map((a) => `@${a.alias} → v${a.version}`).join(", ")),
      h("td", {}, m.description || ""),
      h("td", {}, fmtTime(msTime(m.last_updated_timestamp))))));
    if (!models.length) body.replaceChildren(h("tr", {}, h("td", { colspan: 5 }, "No registered models yet: register one with mlflow.register_model.")));
  }
  load().catch((err) => root.append(errorBox(err)));
  return { refresh: load };
}

function lineagePanel(name, version) {
  const panel = h("section", { class: "lineage" }, h("h2", {}, `Lineage of version ${version}`));
  get(`/api/v1/registry/models/${enc(name)}/versions/${version}/lineage`).then((l) => {
    const lm = l.logged_model;
    const run = l.run;
    const kv = (obj) => h("ul", { class: "kv" }, ...Object.entries(obj || {}).map(([k, v]) => h("li", {}, `${k} = ${v}`)));
    panel.append(
      h("div", { class: "step version-step" }, h("h3", {}, `version ${version}`), h("p", {}, `source ${l.version.source}`)),
      lm ? h("div", { class: "step logged-model-step" }, h("h3", {}, `logged model ${lm.name}`),
        h("p", {}, `${lm.model_id} · ${lm.status}`), h("h4", {}, "params"), kv(lm.params),
        h("h4", {}, "metrics"), h("ul", { class: "kv" }, ...lm.metrics.map((m) =>
          h("li", {}, `${m.key} = ${fmtNum(m.value)} (step ${m.step}${m.dataset_name ? `, dataset ${m.dataset_name}` : ""})`))))
        : h("div", { class: "step" }, "no logged model (registered from a path)"),
      run && !run.missing ? h("div", { class: "step run-step" }, h("h3", {}, "run ", h("a", { href: href(`/run/${run.run_id}`) }, run.name || run.run_id)),
        h("h4", {}, "params"), kv(run.params), h("h4", {}, "datasets"),
        h("ul", { class: "kv" }, ...(run.inputs || []).map((d) => h("li", {}, `${d.name} (${d.digest})${d.context ? ` · ${d.context}` : ""}`))))
        : h("div", { class: "step" }, "no run"));
  }).catch((err) => panel.append(errorBox(err)));
  return panel;
}

export function renderModel(root, r) {
  const name = decodeURIComponent(r.parts[1]);
  const chosen = r.params.get("v");
  document.getElementById("crumbs").replaceChildren(h("a", { href: "#/" }, "experiments"), " / ",
    h("a", { href: href("/models") }, "models"), ` / ${name}`);
  const section = h("section", { class: "model" }, h("h1", {}, name));
  root.replaceChildren(section);

  async function load() {
    const [model, history] = await Promise.all([get(`/api/v1/registry/models/${enc(name)}`),
      get(`/api/v1/registry/models/${enc(name)}/history`)]);
    const timelines = await Promise.all((model.aliases || []).map((a) => get(`/api/v1/registry/models/${enc(name)}/aliases/${enc(a.alias)}`)));
    const versions = h("table", { class: "grid versions-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "version"), h("th", {}, "stage"), h("th", {}, "aliases"), h("th", {}, "source"),
        h("th", {}, "run"), h("th", {}, "created"))),
      h("tbody", {}, ...model.versions.map((v) => h("tr", { dataset: { version: v.version } },
        h("td", {}, h("a", { href: href(`/models/${enc(name)}`, { v: v.version }) }, `v${v.version}`)),
        h("td", {}, v.current_stage), h("td", {}, (v.aliases || []).map((a) => `@${a}`).join(" ")),
        h("td", {}, v.source), h("td", {}, v.run_id ? h("a", { href: href(`/run/${v.run_id}`) }, v.run_id.slice(0, 8)) : ""),
        h("td", {}, fmtTime(msTime(v.creation_timestamp)))))));
    const aliasList = h("div", { class: "alias-timelines" }, h("h2", {}, "Alias timelines"),
      ...timelines.map((t) => h("div", { class: "alias-timeline", dataset: { alias: t.alias } }, h("h3", {}, `@${t.alias}`),
        h("ol", {}, ...t.timeline.map((e) => h("li", {}, `${fmtTime(e.event_time)} → ${e.version === null ? "deleted" : `v${e.version}`}`))))));
    const events = h("div", { class: "history" }, h("h2", {}, "History"),
      h("ol", { class: "timeline" }, ...history.events.map((e) => h("li", {},
        `${fmtTime(e.event_time)} · ${e.type}${e.payload.version ? ` v${e.payload.version}` : ""}${e.payload.alias ? ` @${e.payload.alias}` : ""} · ${e.producer.user || "?"}@${e.producer.host} · offset ${e.partition}:${e.offset}`))));
    section.replaceChildren(h("h1", {}, name), h("p", {}, model.description || ""), versions, aliasList, events);
    if (chosen) section.append(lineagePanel(name, chosen));
  }
  load().catch((err) => section.append(errorBox(err)));
  return { refresh: load };
}
