// Runs grouped by params, tags or attributes: the group keys the API takes ("params.lr"), the table's group rows
// with aggregated columns, and the picker of keys.
import { h } from "./util.js";

const ATTRIBUTE_KEYS = { status: (r) => r.status, user: (r) => r.user, run_name: (r) => r.name };
const quote = (key) => "`" + key.replace(/`/g, "") + "`";

/** The API's group key for a column-like choice: ("p", "lr") -> "params.`lr`". */
export function groupKey(kind, key) {
  if (kind === "a") return `attributes.${key}`;
  return `${kind === "p" ? "params" : "tags"}.${quote(key)}`;
}

/** A run's value for an API group key (what the server groups on), null when the run lacks it. */
export function valueOf(run, gkey) {
  const dot = gkey.indexOf(".");
  const bag = gkey.slice(0, dot);
  const key = gkey.slice(dot + 1).replace(/^`(.*)`$/, "$1");
  if (bag === "attributes") return ATTRIBUTE_KEYS[key]?.(run) ?? null;
  return run[bag]?.[key] ?? null;
}

export const label = (gkeys, values) =>
  gkeys.map((k, i) => `${k.replace(/`/g, "").replace(/^(params|tags|attributes)\./, "")}=${values[i] ?? "∅"}`).join(", ");

const sortKey = (v) => (v === null ? [2, 0, ""] : Number.isFinite(Number(v)) && v !== "" ? [0, Number(v), ""] : [1, 0, v]);
function compareValues(a, b) {
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [sortKey(a[i]), sortKey(b[i])];
    for (let j = 0; j < 3; j++) if (x[j] !== y[j]) return x[j] < y[j] ? -1 : 1;
  }
  return 0;
}

/** Groups of runs in the server's order (numbers numerically, then text, missing last). */
export function groupRuns(runs, gkeys) {
  const groups = new Map();
  for (const run of runs) {
    const values = gkeys.map((k) => valueOf(run, k));
    const id = JSON.stringify(values);
    if (!groups.has(id)) groups.set(id, { id, values, label: label(gkeys, values), runs: [] });
    groups.get(id).runs.push(run);
  }
  return [...groups.values()].sort((a, b) => compareValues(a.values, b.values));
}

/** Rows for the table: a header row per group, followed by its runs when the group is expanded. */
export function groupRows(groups, expanded) {
  const rows = [];
  for (const g of groups) {
    rows.push({ group: g, run_id: `group:${g.id}` });
    if (expanded.has(g.id)) rows.push(...g.runs);
  }
  return rows;
}

/** "mean ± std (n)" of a numeric column over a group's runs; text columns show their distinct values. */
export function aggregateText(column, runs, fmt) {
  if (column.align === "num") {
    const xs = runs.map((r) => column.value(r)).filter((x) => x !== null && x !== undefined && Number.isFinite(x));
    if (!xs.length) return "";
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    if (xs.length < 2) return fmt(mean);
    const std = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
    return `${fmt(mean)} ± ${fmt(std)}`;
  }
  const distinct = [...new Set(runs.map((r) => String(column.value(r) ?? "")))];
  return distinct.length === 1 ? distinct[0] : `${distinct.length} values`;
}

/** A picker of group keys among the runs' params and tags and a few attributes; onChange(keys). */
export function groupPicker(el, runs, chosen, onChange) {
  const params = new Set();
  const tags = new Set();
  for (const r of runs.slice(0, 2000)) {
    Object.keys(r.params || {}).forEach((k) => params.add(k));
    Object.keys(r.tags || {}).forEach((k) => tags.add(k));
  }
  const box = (gkey, text) => h("label", {}, h("input", { type: "checkbox", checked: chosen.includes(gkey), dataset: { groupKey: gkey },
    onchange: (e) => onChange(e.target.checked ? [...chosen, gkey] : chosen.filter((k) => k !== gkey)) }), text);
  const set = (title, items) => (items.length ? h("fieldset", {}, h("legend", {}, title), ...items) : null);
  el.firstChild.textContent = chosen.length ? `group by: ${chosen.map((k) => k.replace(/`/g, "")).join(", ")}` : "group by";
  el.replaceChildren(el.firstChild, h("div", { class: "picker-body" },
    set("params", [...params].sort().map((k) => box(groupKey("p", k), k))),
    set("tags", [...tags].sort().map((k) => box(groupKey("t", k), k))),
    set("attributes", Object.keys(ATTRIBUTE_KEYS).map((k) => box(groupKey("a", k), k)))));
}
