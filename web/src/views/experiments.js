// Every experiment with its run count and last activity; open one or several in the runs table.
import { get } from "../api.js";
import { href } from "../route.js";
import { fmtTime, h } from "../util.js";

export function renderExperiments(root) {
  const chosen = new Set();
  const openBtn = h("button", { class: "open-selected", disabled: true, onclick: () => { location.hash = href("/runs", { e: [...chosen] }); } },
    "Open selected together");
  const body = h("tbody");
  root.replaceChildren(h("section", { class: "experiments" }, h("h1", {}, "Experiments"), openBtn,
    h("table", { class: "grid experiments-table" },
      h("thead", {}, h("tr", {}, h("th"), h("th", {}, "name"), h("th", { class: "num" }, "runs"), h("th", {}, "last activity"), h("th", {}, "created"))),
      body)));
  document.getElementById("crumbs").replaceChildren("experiments");

  async function load() {
    const { experiments } = await get("/api/v1/experiments");
    experiments.sort((a, b) => String(b.last_activity || "").localeCompare(String(a.last_activity || "")));
    body.replaceChildren(...experiments.map((e) => h("tr", { dataset: { experimentId: e.experiment_id } },
      h("td", {}, h("input", { type: "checkbox", checked: chosen.has(e.experiment_id), onchange: (ev) => {
        if (ev.target.checked) chosen.add(e.experiment_id);
        else chosen.delete(e.experiment_id);
        openBtn.disabled = chosen.size === 0;
      } })),
      h("td", {}, h("a", { href: href("/runs", { e: e.experiment_id }) }, e.name)),
      h("td", { class: "num" }, String(e.run_count)),
      h("td", {}, fmtTime(e.last_activity)),
      h("td", {}, fmtTime(e.created_time)))));
    if (!experiments.length) body.replaceChildren(h("tr", {}, h("td", { colspan: 5 }, "No experiments yet: log a run with the SDK.")));
  }
  load().catch((err) => root.append(h("div", { class: "error" }, err.message)));
  return { refresh: load };
}
