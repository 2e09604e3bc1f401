import type { Model, Row } from "./model.js";
import { COLORS, formatNumber, historyOf } from "./model.js";

/** Height of a table row in pixels: fixed, so only the rows in view are in the document. */
const ROW_HEIGHT = 28;
/** The scroller's height at most (its CSS max-height): rows drawn before it has any. */
const VIEW_HEIGHT = 520;
/** Rows drawn beyond the visible ones, above and below, so a scroll shows no blank. */
const OVERSCAN = 10;

interface TableColumn {
  readonly key: string;
  readonly header: string;
  readonly numeric: boolean;
  /** The value sorted by: a number (NaN when missing) or text. */
  readonly sortValue: (row: Row) => number | string;
  /** Fills the cell. */
  readonly fill: (cell: HTMLTableCellElement, row: Row) => void;
}

function text(cell: HTMLElement, value: string): void {
  cell.textContent = value;
}

function badge(cell: HTMLElement, label: string, color: string, title?: string): void {
  const span = document.createElement("span");
  span.className = "badge";
  span.style.background = color;
  span.textContent = label;
  if (title !== undefined) span.title = title;
  cell.append(span);
}

/**
 * The ranking table: sortable by any column (a click on its header; again for the other way),
 * filtered by the filter box and the parallel-coordinates brushes, drawn virtually (only the rows
 * in view exist), with a checkbox per row that picks its history for the history plot.
 */
export class RankingTable {
  readonly #model: Model;
  readonly #columns: TableColumn[];
  readonly #scroller: HTMLDivElement;
  readonly #body: HTMLTableSectionElement;
  readonly #head: HTMLTableRowElement;
  readonly #count: HTMLElement;
  readonly #onPick: () => void;
  /** Sort column and direction; `null`: the ranking's order. */
  #sort: { key: string; ascending: boolean } | null = null;
  /** The matching rows, in the table's order. */
  #order: Row[] = [];

  constructor(root: HTMLElement, model: Model, onFilter: () => void, onPick: () => void) {
    this.#model = model;
    this.#onPick = onPick;
    this.#columns = this.#makeColumns();

    const bar = document.createElement("div");
    bar.className = "table-bar";
    const filter = document.createElement("input");
    filter.type = "search";
    filter.placeholder = "Filter by id, name or status";
    filter.setAttribute("aria-label", "Filter the table");
    filter.dataset.testid = "filter";
    filter.addEventListener("input", () => {
      model.text = filter.value.trim().toLowerCase();
      onFilter();
    });
    this.#count = document.createElement("span");
    this.#count.className = "count";
    this.#count.dataset.testid = "row-count";
    bar.append(filter, this.#count);

    this.#scroller = document.createElement("div");
    this.#scroller.className = "table-scroll";
    const table = document.createElement("table");
    table.dataset.testid = "ranking-table";
    const thead = table.createTHead();
    this.#head = thead.insertRow();
    for (const col of this.#columns) {
      const th = document.createElement("th");
      th.scope = "col";
      th.dataset.key = col.key;
      if (col.numeric) th.className = "num";
      if (col.key === "pick") {
        th.textContent = "⌁";
        th.title = "Plot the history of these runs";
      } else {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = col.header;
        button.title = `Sort by ${col.header}`;
        button.addEventListener("click", () => this.sortBy(col.key));
        th.append(button);
        th.setAttribute("aria-sort", "none");
      }
      this.#head.append(th);
    }
    this.#body = table.createTBody();
    this.#scroller.append(table);
    this.#scroller.addEventListener("scroll", () => this.#draw(), { passive: true });
    root.append(bar, this.#scroller);
    this.refresh();
  }

  #makeColumns(): TableColumn[] {
    const model = this.#model;
    const data = model.data;
    const pareto = data.ranking.pareto;
    const cols: TableColumn[] = [
      {
        key: "pick",
        header: "",
        numeric: false,
        sortValue: (r) => r.index,
        fill: (cell, row) => {
          const box = document.createElement("input");
          box.type = "checkbox";
          box.checked = model.picked.has(row.index);
          const has = historyOf(data, row.result.id) !== undefined;
          box.disabled = !has;
          box.title = has ? "Plot this run's history" : "No step history recorded for this run";
          box.setAttribute("aria-label", `Plot the history of ${row.result.id}`);
          box.addEventListener("change", () => {
            if (box.checked) model.picked.add(row.index);
            else model.picked.delete(row.index);
            this.#onPick();
          });
          cell.append(box);
        },
      },
      {
        key: "rank",
        header: pareto !== null && pareto.length > 0 ? "FRONT" : "RANK",
        numeric: true,
        sortValue: (r) => (r.result.rank === null ? Number.NaN : r.result.rank),
        fill: (cell, r) => text(cell, r.result.rank === null ? "–" : String(r.result.rank)),
      },
      { key: "id", header: "ID", numeric: false, sortValue: (r) => r.result.id, fill: (cell, r) => text(cell, r.result.id) },
      {
        key: "name",
        header: "NAME",
        numeric: false,
        sortValue: (r) => r.result.name ?? "",
        fill: (cell, r) => {
          text(cell, r.result.name ?? "–");
          cell.title = r.result.name ?? "";
        },
      },
      { key: "status", header: "STATUS", numeric: false, sortValue: (r) => r.result.status, fill: (cell, r) => text(cell, r.result.status) },
      {
        key: "result",
        header: "RESULT",
        numeric: false,
        sortValue: (r) => (r.result.passed ? 0 : 1) + (r.unfinished ? 0.5 : 0),
        fill: (cell, r) => {
          if (r.result.passed) badge(cell, "PASS", COLORS.pass);
          else badge(cell, "FAIL", COLORS.fail, r.failedGates);
          if (r.unfinished) badge(cell, "unfinished", COLORS.unfinished, `status: ${r.result.status}; its metrics may not be final`);
        },
      },
    ];
    const shown = [data.ranking.sort_by, ...data.axes.filter((a) => a !== data.ranking.sort_by)];
    for (const name of shown) {
      const i = model.metricIndex.get(name);
      if (i === undefined) continue;
      cols.push({
        key: `metric:${name}`,
        header: name,
        numeric: true,
        sortValue: (r) => r.values[i]!,
        fill: (cell, r) => text(cell, formatNumber(r.values[i]!)),
      });
    }
    if (data.ranking.gates.length > 0) {
      cols.push({ key: "failed_gates", header: "FAILED GATES", numeric: false, sortValue: (r) => r.failedGates, fill: (cell, r) => text(cell, r.failedGates) });
    }
    return cols;
  }

  /** Sorts by the column `key`; the same column again reverses the order. */
  sortBy(key: string): void {
    const col = this.#columns.find((c) => c.key === key);
    if (col === undefined) return;
    // Numbers start with the best end of the ranking (rank 1, then the metric's own direction).
    const metric = this.#model.metrics.find((m) => `metric:${m.name}` === key);
    const first = metric?.direction === "higher" ? false : true;
    this.#sort = this.#sort?.key === key ? { key, ascending: !this.#sort.ascending } : { key, ascending: first };
    for (const th of this.#head.cells) {
      if (th.dataset.key === "pick") continue;
      th.setAttribute("aria-sort", th.dataset.key === key ? (this.#sort.ascending ? "ascending" : "descending") : "none");
    }
    this.refresh();
  }

  /** Re-reads the filter and the order, then redraws. */
  refresh(): void {
    const model = this.#model;
    const rows = model.rows.filter((r) => model.matching[r.index] === 1);
    const sort = this.#sort;
    if (sort !== null) {
      const col = this.#columns.find((c) => c.key === sort.key)!;
      const keys = new Map(rows.map((r) => [r, col.sortValue(r)] as const));
      const sign = sort.ascending ? 1 : -1;
      rows.sort((a, b) => {
        const x = keys.get(a)!;
        const y = keys.get(b)!;
        // Missing values last, whichever the direction; ties keep the ranking's order.
        const xm = typeof x === "number" && Number.isNaN(x);
        const ym = typeof y === "number" && Number.isNaN(y);
        if (xm || ym) return xm === ym ? a.index - b.index : xm ? 1 : -1;
        const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return c !== 0 ? sign * c : a.index - b.index;
      });
    }
    this.#order = rows;
    const total = model.rows.length;
    this.#count.textContent = rows.length === total ? `${total} row${total === 1 ? "" : "s"}` : `${rows.length} of ${total} rows match`;
    this.#draw();
  }

  /** The ids of the rows in the table's order (every matching row, drawn or not). */
  ids(): string[] {
    return this.#order.map((r) => r.result.id);
  }

  #draw(): void {
    const rows = this.#order;
    const top = this.#scroller.scrollTop;
    // Before the first rows exist the scroller is only as high as its header: draw a full view.
    const height = Math.max(this.#scroller.clientHeight, VIEW_HEIGHT);
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const body = this.#body;
    body.replaceChildren();
    const spacer = (px: number): void => {
      if (px <= 0) return;
      const tr = body.insertRow();
      tr.className = "spacer";
      tr.setAttribute("aria-hidden", "true");
      const td = tr.insertCell();
      td.colSpan = this.#columns.length;
      td.style.height = `${px}px`;
    };
    spacer(first * ROW_HEIGHT);
    for (let i = first; i < last; i++) {
      const row = rows[i]!;
      const tr = body.insertRow();
      tr.dataset.id = row.result.id;
      tr.className = row.result.passed ? "pass" : "fail";
      for (const col of this.#columns) {
        const td = tr.insertCell();
        if (col.numeric) td.className = "num";
        td.dataset.key = col.key;
        col.fill(td, row);
      }
    }
    spacer((rows.length - last) * ROW_HEIGHT);
    if (rows.length === 0) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = this.#columns.length;
      td.className = "empty";
      td.textContent = this.#model.rows.length === 0 ? "Nothing was ranked." : "No row matches the filter.";
    }
  }
}
