// The runs table of one or more experiments, with the curves and parallel-coordinates panels below it.
import { ApiError, get, post } from "../api.js";
import { ATTRIBUTES, DEFAULT_ATTRIBUTES, columnId, parseColumn } from "../columns.js";
import { href, list, replaceState } from "../route.js";
import { VirtualTable } from "../table.js";
import { errorBox, fmtNum, h, runColor, timings } from "../util.js";
import { aggregateText, groupPicker, groupRows, groupRuns } from "../grouping.js";
import { CurvesPanel } from "./curves-panel.js";
import { GroupCurvesPanel } from "./group-curves-panel.js";
import { ParallelPanel } from "./parallel-panel.js";

const FIRST_PAGE = 300;
const PAGE = 10000;
const MAX_RUNS = 50000;

export function renderRuns(root, route) {
  const started = performance.now();
  const p = route.params;
  const state = {
    experiments: list(p, "e"),
    filter: p.get("f") || "",
    sort: p.get("s") || "",
    dir: p.get("d") === "asc" ? "asc" : "desc",
    columns: list(p, "c"),
    selection: new Set(list(p, "sel")),
    tab: p.get("tab") || "curves",
    panel: Object.fromEntries(["m", "x", "log", "z", "pp", "pm", "band"].map((k) => [k, p.get(k) || ""])),
    group: list(p, "g"), // API group keys, e.g. params.`lr`
  };
  const expanded = new Set(); // ids of the groups opened in the table
  let runs = [];
  let brushed = null; // Set of run ids kept by the parallel-coordinates brushes, or null
  let loading = 0;
  let complete = false;

  const save = () =>
    replaceState("/runs", {
      e: state.experiments, f: state.filter, s: state.sort, d: state.sort ? state.dir : "", c: state.columns,
      sel: [...state.selection], tab: state.tab, ...state.panel, g: state.group,
    });

  // --- toolbar ---
  const expPicker = h("details", { class: "picker" }, h("summary", {}, "experiments"));
  const filterInput = h("input", { type: "search", name: "filter", class: "filter-input", value: state.filter, spellcheck: false,
    placeholder: "metrics.loss < 0.3 and params.optimizer = 'adam'" });
  const filterError = h("div", { class: "filter-error", hidden: true });
  const filterForm = h("form", { class: "filter", onsubmit: (e) => { e.preventDefault(); state.filter = filterInput.value.trim(); save(); load(); } },
    filterInput, h("button", { type: "submit" }, "Search"));
  const colPicker = h("details", { class: "picker columns-picker" }, h("summary", {}, "columns"));
  const groupPick = h("details", { class: "picker group-picker" }, h("summary", {}, "group by"));
  const count = h("span", { class: "count" });
  const compareBtn = h("button", { class: "compare-btn", onclick: () => { location.hash = href("/compare", { runs: [...state.selection] }); } }, "Compare selected");
  const clearBtn = h("button", { onclick: () => { state.selection.clear(); selectionChanged(); } }, "Clear selection");
  const toolbar = h("div", { class: "toolbar" }, expPicker, filterForm, colPicker, groupPick, count, compareBtn, clearBtn);

  const table = new VirtualTable({
    rowKey: (r) => r.run_id,
    rowClass: (r) => (r.group ? "group-row" : state.selection.has(r.run_id) ? "selected" : ""),
    onSort: (id) => {
      if (state.sort === id) state.dir = state.dir === "asc" ? "desc" : "asc";
      else {
        state.sort = id;
        state.dir = "asc";
      }
      save();
      load();
    },
    height: 420,
  });

  const tabs = h("div", { class: "tabs" });
  const panelBox = h("div", { class: "panel" });
  root.replaceChildren(h("section", { class: "runs-view" }, toolbar, filterError, table.el, tabs, panelBox));

  const curves = new CurvesPanel({
    state: state.panel,
    save,
    selectedRuns: () => runs.filter((r) => state.selection.has(r.run_id)),
  });
  const parallel = new ParallelPanel({
    state: state.panel,
    save,
    experiments: () => state.experiments,
    runs: () => runs,
    onBrush: (set) => {
      brushed = set;
      showRows();
    },
  });
  const grouped = new GroupCurvesPanel({
    state: state.panel,
    save,
    runs: () => runs,
    scope: () => ({ experiment_ids: state.experiments, filter: state.filter || null, group_by: state.group }),
  });
  const panels = { curves, parallel };
  const curvesPanel = () => (state.group.length ? grouped : curves);
  const showTab = () => {
    tabs.replaceChildren(
      ...[["curves", "Curves"], ["parallel", "Parallel coordinates"]].map(([id, label]) =>
        h("button", { class: `tab${state.tab === id ? " active" : ""}`, dataset: { tab: id }, onclick: () => { state.tab = id; save(); showTab(); } }, label)),
    );
    const panel = state.tab === "curves" ? curvesPanel() : panels[state.tab];
    panelBox.replaceChildren(panel.el);
    panel.show();
  };

  function selectionChanged() {
    save();
    table.paint(true);
    updateCount();
    if (state.tab === "curves" && !state.group.length) curves.show();
  }

  function toggle(runId, on) {
    if (on) {
      state.selection.add(runId);
      runColor(runId); // a run selected now gets its colour before the rows around it are drawn
    }
    else state.selection.delete(runId);
    selectionChanged();
  }

  function visibleRuns() {
    return brushed ? runs.filter((r) => brushed.has(r.run_id)) : runs;
  }

  function visibleRows() {
    return state.group.length ? groupRows(groupRuns(visibleRuns(), state.group), expanded) : visibleRuns();
  }

  function setGrouping(keys) {
    state.group = keys;
    expanded.clear();
    save();
    groupPicker(groupPick, runs, state.group, setGrouping);
    applyColumns();
    showRows();
    showTab();
  }

  function updateCount() {
    const shown = visibleRuns().length;
    const total = `${runs.length}${complete ? "" : "…"}`;
    const groups = state.group.length ? ` in ${groupRuns(visibleRuns(), state.group).length} groups` : "";
    count.textContent = `${brushed ? `${shown} of ${total}` : total} runs${groups} · ${state.selection.size} selected`;
    count.dataset.rows = String(shown);
    compareBtn.disabled = state.selection.size < 2 || state.selection.size > 100;
  }

  function showRows() {
    table.setRows(visibleRows());
    updateCount();
  }

  // --- columns ---
  function defaultColumns() {
    const params = new Set();
    const metrics = new Set();
    for (const r of runs.slice(0, 200)) {
      Object.keys(r.params || {}).forEach((k) => params.add(k));
      Object.keys(r.metrics || {}).forEach((k) => metrics.add(k));
    }
    return [
      ...DEFAULT_ATTRIBUTES.map((k) => columnId("a", k)),
      ...[...params].sort().slice(0, 5).map((k) => columnId("p", k)),
      ...[...metrics].sort().slice(0, 4).map((k) => columnId("m", k, "last")),
    ];
  }

  function applyColumns() {
    const chosen = state.columns.map(parseColumn).filter(Boolean);
    const select = {
      id: "select", label: "", width: 34,
      headerNode: () => h("input", { type: "checkbox", title: "select all rows shown", onchange: (e) => {
        for (const r of visibleRuns().slice(0, 100)) (e.target.checked ? state.selection.add(r.run_id) : state.selection.delete(r.run_id));
        selectionChanged();
      } }),
      cell: (r) => h("input", { type: "checkbox", class: "row-select", checked: state.selection.has(r.run_id), onchange: (e) => toggle(r.run_id, e.target.checked) }),
    };
    // only selected runs take a colour (the one their curves get), so a selection's colours stay distinct
    const swatch = (r) => (state.selection.has(r.run_id)
      ? h("span", { class: "swatch", style: `background:${runColor(r.run_id)}` })
      : h("span", { class: "swatch unselected" }));
    const chosenById = Object.fromEntries(chosen.map((c) => [c.id, c]));
    const cols = [select, ...chosen.map((c) => ({
      id: c.id, label: c.label, width: c.kind === "a" && c.key === "name" ? 180 : c.width, sortable: true, align: c.align,
      cell: c.kind === "a" && c.key === "name"
        ? (r) => h("a", { href: href(`/run/${r.run_id}`), class: "run-link" }, swatch(r), c.text(r))
        : c.text,
    }))];
    // a group's row: a toggle, the group's label and size, and each column aggregated over its runs
    const groupCell = (c, i) => (r) => {
      const g = r.group;
      if (i === 0) {
        return h("button", { class: "group-toggle", title: "show or hide the group's runs", onclick: () => {
          if (expanded.has(g.id)) expanded.delete(g.id);
          else expanded.add(g.id);
          showRows();
        } }, expanded.has(g.id) ? "▾" : "▸");
      }
      if (i === 1) return h("span", { class: "group-label" }, `${g.label} (${g.runs.length})`);
      return c.value ? aggregateText(c, g.runs, fmtNum) : "";
    };
    const withGroups = cols.map((c, i) => ({ ...c, cell: (r) => (r.group ? groupCell(chosenById[c.id] || c, i)(r) : c.cell(r)) }));
    table.setColumns(state.group.length ? withGroups : cols, state.sort ? { id: state.sort, dir: state.dir } : null);
    fillColumnPicker();
  }

  function fillColumnPicker() {
    const params = new Set();
    const tags = new Set();
    const metrics = new Set();
    for (const r of runs.slice(0, 2000)) {
      Object.keys(r.params || {}).forEach((k) => params.add(k));
      Object.keys(r.tags || {}).forEach((k) => tags.add(k));
      Object.keys(r.metrics || {}).forEach((k) => metrics.add(k));
    }
    const chosen = new Set(state.columns);
    const box = (id, label) => h("label", {}, h("input", { type: "checkbox", checked: chosen.has(id), dataset: { col: id }, onchange: (e) => {
      state.columns = e.target.checked ? [...state.columns, id] : state.columns.filter((c) => c !== id);
      save();
      applyColumns();
    } }), label);
    const group = (title, items) => items.length ? h("fieldset", {}, h("legend", {}, title), ...items) : null;
    colPicker.replaceChildren(
      colPicker.firstChild,
      h("div", { class: "picker-body" },
        group("attributes", Object.entries(ATTRIBUTES).map(([k, a]) => box(columnId("a", k), a.label))),
        group("params", [...params].sort().map((k) => box(columnId("p", k), k))),
        group("metrics", [...metrics].sort().map((k) => h("div", { class: "metric-cols" }, h("span", {}, k),
          ...["last", "min", "max"].map((agg) => box(columnId("m", k, agg), agg))))),
        group("tags", [...tags].sort().map((k) => box(columnId("t", k), k))),
      ),
    );
  }

  // --- experiments ---
  async function fillExperiments() {
    const { experiments } = await get("/api/v1/experiments");
    const names = experiments.filter((e) => state.experiments.includes(e.experiment_id)).map((e) => e.name);
    expPicker.firstChild.textContent = names.length ? names.join(", ") : "choose experiments";
    const boxes = experiments.map((e) => h("label", {}, h("input", { type: "checkbox", checked: state.experiments.includes(e.experiment_id),
      onchange: (ev) => {
        state.experiments = ev.target.checked ? [...state.experiments, e.experiment_id] : state.experiments.filter((x) => x !== e.experiment_id);
        save();
        fillExperiments();
        load();
      } }), `${e.name} (${e.run_count})`));
    expPicker.replaceChildren(expPicker.firstChild, h("div", { class: "picker-body" }, ...boxes));
    document.getElementById("crumbs").replaceChildren(h("a", { href: "#/" }, "experiments"), " / ", names.join(", ") || "runs");
  }

  // --- loading ---
  function searchBody(extra) {
    const col = state.sort ? parseColumn(state.sort) : null;
    return { experiment_ids: state.experiments, filter: state.filter || null,
      order_by: col ? [`${col.order} ${state.dir.toUpperCase()}`] : null, ...extra };
  }

  function showFilterError(err) {
    if (!err) {
      filterError.hidden = true;
      filterInput.classList.remove("invalid");
      return;
    }
    filterInput.classList.add("invalid");
    const at = /at position (\d+)/.exec(err.message);
    const children = [];
    if (at) {
      const pos = Number(at[1]);
      const text = state.filter;
      children.push(h("pre", { class: "caret" }, text, "\n", " ".repeat(pos) + "^"));
    }
    children.push(h("span", { class: "message" }, err.message));
    filterError.replaceChildren(...children);
    filterError.hidden = false;
  }

  async function load(quiet = false) {
    const mine = ++loading;
    if (!state.experiments.length) {
      runs = [];
      showRows();
      return;
    }
    const t0 = performance.now();
    let page;
    try {
      page = await post("/api/v1/runs/search", searchBody({ max_results: quiet ? Math.min(MAX_RUNS, Math.max(FIRST_PAGE, runs.length + 100)) : FIRST_PAGE }));
    } catch (err) {
      if (mine !== loading) return;
      if (err instanceof ApiError && err.status === 400) showFilterError(err);
      else root.prepend(errorBox(err));
      return;
    }
    if (mine !== loading) return;
    showFilterError(null);
    runs = page.runs;
    complete = !page.next_page_token;
    if (!state.columns.length) state.columns = defaultColumns();
    applyColumns();
    showRows();
    groupPicker(groupPick, runs, state.group, setGrouping);
    if (!quiet) {
      const first = { ms: performance.now() - started, fetchMs: performance.now() - t0, rows: runs.length, sinceNavigation: performance.now() };
      // the next frame: style, layout and paint of the first screen have been scheduled by then
      requestAnimationFrame(() => setTimeout(() => { timings.firstScreen = { ...first, paintedSinceNavigation: performance.now() }; }, 0));
      if (state.tab === "curves") curvesPanel().show();
    }
    while (page.next_page_token && runs.length < MAX_RUNS) {
      page = await post("/api/v1/runs/search", searchBody({ max_results: Math.min(PAGE, MAX_RUNS - runs.length), page_token: page.next_page_token }));
      if (mine !== loading) return;
      runs = runs.concat(page.runs);
      complete = !page.next_page_token;
      showRows();
    }
    complete = true;
    updateCount();
    fillColumnPicker();
    groupPicker(groupPick, runs, state.group, setGrouping);
    timings.allRows = { ms: performance.now() - t0, rows: runs.length };
    if (!quiet && state.tab === "parallel") parallel.show();
    // selected runs beyond the first page: draw them now that every run is here
    if (!quiet && state.tab === "curves" && !state.group.length && state.selection.size && curves.drawnRuns < Math.min(state.selection.size, 50)) curves.show();
  }

  showTab();
  fillExperiments().catch((err) => root.prepend(errorBox(err)));
  load();

  return {
    refresh: async () => {
      if (runs.length <= 5000) await load(true);
      const training = runs.some((r) => state.selection.has(r.run_id) && r.status === "RUNNING");
      if (state.tab === "curves" && state.group.length) await grouped.refresh();
      else if (state.tab === "curves" && training) await curves.refresh();
    },
  };
}
