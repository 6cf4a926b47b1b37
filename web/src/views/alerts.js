// Alert rules (create, delete, history) and the firings of the alert worker with their deliveries.
import { ApiError, api, get, post } from "../api.js";
import { href } from "../route.js";
import { errorBox, fmtNum, fmtTime, h } from "../util.js";

const CONDITIONS = {
  threshold: ["metric_key", "op", "threshold"],
  nan: ["metric_key"],
  run_failed: [],
  stalled: ["minutes"],
  new_best: ["metric_key", "op"],
};

function describe(rule) {
  const scope = rule.experiment_id ? `experiment ${rule.experiment_id}` : "every experiment";
  const what = {
    threshold: `${rule.metric_key} ${rule.op} ${rule.threshold}`,
    nan: `${rule.metric_key || "any metric"} becomes NaN or ±inf`,
    run_failed: "a run ends FAILED or KILLED",
    stalled: `a RUNNING run is silent for ${rule.minutes} min`,
    new_best: `new ${rule.op === "max" ? "highest" : "lowest"} ${rule.metric_key}`,
  }[rule.condition];
  return `${what} · ${scope}`;
}

export function renderAlerts(root) {
  document.getElementById("crumbs").replaceChildren(h("a", { href: "#/" }, "experiments"), " / alerts");
  const rulesBody = h("tbody");
  const firingsBody = h("tbody");
  const historyBox = h("div", { class: "rule-history" });
  const formError = h("div", { class: "error", hidden: true });
  const field = (name, attrs = {}) => h("input", { name, ...attrs });
  const form = h("form", { class: "rule-form", onsubmit: async (e) => {
    e.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    const spec = { name: data.name, condition: data.condition, webhook_url: data.webhook_url,
      experiment_id: data.experiment_id || null };
    for (const k of CONDITIONS[data.condition]) {
      if (data[k] === "") continue;
      spec[k] = ["threshold", "minutes"].includes(k) ? Number(data[k]) : data[k];
    }
    try {
      await post("/api/v1/alerts/rules", spec);
      formError.hidden = true;
      form.reset();
      await load();
    } catch (err) {
      formError.textContent = err instanceof ApiError ? err.message : String(err);
      formError.hidden = false;
    }
  } },
  field("name", { placeholder: "name", required: true }),
  h("select", { name: "condition" }, ...Object.keys(CONDITIONS).map((c) => h("option", { value: c }, c))),
  field("metric_key", { placeholder: "metric key" }),
  h("select", { name: "op" }, ...["", ">", ">=", "<", "<=", "min", "max"].map((o) => h("option", { value: o }, o || "op"))),
  field("threshold", { placeholder: "threshold", type: "number", step: "any" }),
  field("minutes", { placeholder: "minutes", type: "number", step: "any" }),
  field("experiment_id", { placeholder: "experiment id (all when empty)" }),
  field("webhook_url", { placeholder: "https://… webhook", required: true, size: 30 }),
  h("button", { type: "submit" }, "Add rule"));

  root.replaceChildren(h("section", { class: "alerts" },
    h("h1", {}, "Alerts"),
    h("h2", {}, "Rules"), form, formError,
    h("table", { class: "grid rules-table" }, h("thead", {}, h("tr", {}, ...["name", "fires when", "webhook", "created", ""].map((t) => h("th", {}, t)))), rulesBody),
    historyBox,
    h("h2", {}, "Firings"),
    h("table", { class: "grid firings-table" }, h("thead", {}, h("tr", {}, ...["fired", "rule", "run", "condition", "value", "message", "delivered"].map((t) => h("th", {}, t)))), firingsBody)));

  async function showHistory(rule) {
    const { events } = await get(`/api/v1/alerts/rules/${rule.rule_id}/history`);
    historyBox.replaceChildren(h("h2", {}, `History of ${rule.name}`), h("table", { class: "grid history-table" },
      h("thead", {}, h("tr", {}, ...["event", "when", "who", "partition", "offset"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...events.map((e) => h("tr", { dataset: { type: e.type } }, h("td", {}, e.type), h("td", {}, fmtTime(e.event_time)),
        h("td", {}, `${e.user}@${e.host}`), h("td", { class: "num" }, String(e.partition)), h("td", { class: "num" }, String(e.offset)))))));
  }

  async function load() {
    const [{ rules }, { firings }] = await Promise.all([get("/api/v1/alerts/rules"), get("/api/v1/alerts/firings?limit=500")]);
    const names = Object.fromEntries(rules.map((r) => [r.rule_id, r.name]));
    rulesBody.replaceChildren(...rules.map((r) => h("tr", { dataset: { ruleId: r.rule_id } },
      h("td", {}, r.name), h("td", {}, describe(r)), h("td", { class: "mono" }, r.webhook_url), h("td", {}, fmtTime(r.created_time)),
      h("td", {}, h("button", { class: "rule-history-btn", onclick: () => showHistory(r).catch((err) => historyBox.replaceChildren(errorBox(err))) }, "history"), " ",
        h("button", { class: "rule-delete", onclick: async () => { await api("DELETE", `/api/v1/alerts/rules/${r.rule_id}`); await load(); } }, "delete")))));
    if (!rules.length) rulesBody.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No rules yet.")));
    firingsBody.replaceChildren(...firings.map((f) => h("tr", { dataset: { firingId: f.firing_id } },
      h("td", {}, fmtTime(f.fired_time)), h("td", {}, names[f.rule_id] || f.rule_id.slice(0, 8)),
      h("td", {}, h("a", { href: href(`/run/${f.run_id}`) }, f.run_id.slice(0, 8))), h("td", {}, f.condition),
      h("td", { class: "num" }, fmtNum(f.value)), h("td", {}, f.text),
      h("td", { class: "delivery" }, f.delivery ? `${f.delivery.status} after ${f.delivery.attempts} tr${f.delivery.attempts === 1 ? "y" : "ies"}` : "pending"))));
    if (!firings.length) firingsBody.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "Nothing fired yet.")));
  }
  load().catch((err) => root.append(errorBox(err)));
  return { refresh: load };
}
