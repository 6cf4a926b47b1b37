// Runs-table columns: attributes, params, tags and metric summaries, with their order_by clause.
import { num } from "./api.js";
import { fmtNum, fmtTime } from "./util.js";

export const ATTRIBUTES = {
  name: { label: "name", order: "attributes.run_name", get: (r) => r.name || r.run_id.slice(0, 8) },
  status: { label: "status", order: "attributes.status", get: (r) => r.status || "" },
  start_time: { label: "started", order: "attributes.start_time", get: (r) => fmtTime(r.start_time), width: 170 },
  end_time: { label: "ended", order: "attributes.end_time", get: (r) => fmtTime(r.end_time), width: 170 },
  user: { label: "user", order: "attributes.user", get: (r) => r.user || "" },
  run_id: { label: "run id", order: "attributes.run_id", get: (r) => r.run_id, width: 260 },
  experiment: { label: "experiment", order: "attributes.experiment_id", get: (r) => r.experiment_name || r.experiment_id },
};

export const DEFAULT_ATTRIBUTES = ["name", "status", "start_time"];

const quote = (key) => "`" + key.replace(/`/g, "") + "`";

/** Column ids: "a::name", "p::lr", "t::team", "m:last:loss" (the key comes last and may hold colons). */
export function parseColumn(id) {
  const first = id.indexOf(":");
  const second = id.indexOf(":", first + 1);
  if (first < 0 || second < 0) return null;
  const kind = id.slice(0, first);
  const agg = id.slice(first + 1, second);
  const key = id.slice(second + 1);
  if (kind === "a") {
    const attr = ATTRIBUTES[key];
    if (!attr) return null;
    return { id, kind, key, label: attr.label, width: attr.width || 120, order: attr.order, value: attr.get, text: attr.get };
  }
  if (kind === "p" || kind === "t") {
    const bag = kind === "p" ? "params" : "tags";
    const get = (r) => r[bag]?.[key] ?? "";
    return { id, kind, key, label: `${kind === "p" ? "" : "tag "}${key}`, width: 110, order: `${bag}.${quote(key)}`, value: get, text: get };
  }
  if (kind === "m" && ["last", "min", "max"].includes(agg)) {
    const get = (r) => num(r.metrics?.[key]?.[agg]);
    const order = agg === "last" ? `metrics.${quote(key)}` : `${agg}(metrics.${quote(key)})`;
    return { id, kind, key, agg, label: `${key}${agg === "last" ? "" : ` (${agg})`}`, width: 110, order, value: get,
      text: (r) => fmtNum(get(r)), align: "num" };
  }
  return null;
}

export const columnId = (kind, key, agg = "") => `${kind}:${agg}:${key}`;
