// A virtualised table: only the rows in view (plus a margin) exist in the DOM, so 50,000 runs scroll smoothly.
import { h } from "./util.js";

const ROW_HEIGHT = 28;
const OVERSCAN = 8;

/**
 * columns: [{id, label, width, cell(row) -> string|Node, sortable}]
 * options: {rowKey(row), rowClass(row), onSort(columnId), sort: {id, dir}, height}
 */
export class VirtualTable {
  constructor(options) {
    this.options = options;
    this.rows = [];
    this.columns = [];
    this.scroller = h("div", { class: "vt-scroll", style: `height:${options.height || 440}px` });
    this.header = h("div", { class: "vt-header" });
    this.spacer = h("div", { class: "vt-spacer" });
    this.body = h("div", { class: "vt-body" });
    this.spacer.append(this.body);
    this.scroller.append(this.header, this.spacer);
    this.el = h("div", { class: "vtable" }, this.scroller);
    let queued = false;
    this.scroller.addEventListener("scroll", () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        this.paint();
      });
    });
  }

  setColumns(columns, sort) {
    this.columns = columns;
    this.sort = sort;
    this.template = columns.map((c) => `${c.width || 120}px`).join(" ");
    const width = columns.reduce((n, c) => n + (c.width || 120), 0);
    this.header.style.gridTemplateColumns = this.template;
    this.header.style.width = `${width}px`;
    this.spacer.style.width = `${width}px`;
    this.header.replaceChildren(
      ...columns.map((c) => {
        const arrow = sort && sort.id === c.id ? (sort.dir === "asc" ? " ▲" : " ▼") : "";
        const cell = h("div", { class: `vt-th${c.sortable ? " sortable" : ""}`, title: c.title || c.label, dataset: { col: c.id } },
          c.headerNode ? c.headerNode() : c.label + arrow);
        if (c.sortable) cell.addEventListener("click", () => this.options.onSort(c.id));
        return cell;
      }),
    );
    this.paint(true);
  }

  setRows(rows) {
    this.rows = rows;
    this.spacer.style.height = `${rows.length * ROW_HEIGHT + ROW_HEIGHT}px`;
    this.paint(true);
  }

  /** Re-render the visible window; rows still in view are kept (force: rebuild them all, the data changed). */
  paint(force = false) {
    const top = this.scroller.scrollTop;
    const visible = Math.ceil((this.scroller.clientHeight || 440) / ROW_HEIGHT);
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.rows.length, first + visible + 2 * OVERSCAN);
    if (!force && first === this.first && last === this.last) return;
    this.first = first;
    this.last = last;
    const kept = new Map();
    for (const tr of [...this.body.children]) {
      const i = Number(tr.dataset.index);
      if (!force && i >= first && i < last) kept.set(i, tr);
      else tr.remove();
    }
    for (let i = first; i < last; i++) {
      if (!kept.has(i)) this.body.append(this.renderRow(i));
    }
  }

  renderRow(i) {
    const row = this.rows[i];
    const tr = h("div", {
      class: `vt-row ${this.options.rowClass ? this.options.rowClass(row) : ""}`,
      style: `transform:translateY(${i * ROW_HEIGHT}px);grid-template-columns:${this.template}`,
      dataset: { runId: this.options.rowKey(row), index: String(i) },
    });
    for (const c of this.columns) tr.append(h("div", { class: `vt-td ${c.align || ""}` }, c.cell(row)));
    return tr;
  }
}
