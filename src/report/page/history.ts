import { axisBottom, axisLeft } from "d3-axis";
import { scaleLinear } from "d3-scale";
import { select } from "d3-selection";
import type { Model } from "./model.js";
import { historyOf, pointsOf } from "./model.js";
import { domainOf, plotPlace } from "./plot-frame.js";

const MARGINS = { top: 16, right: 24, bottom: 44, left: 72 } as const;
/** Line colours, one per picked run (Tableau's ten, as d3 lists them), then again. */
const PALETTE = ["#4e79a7", "#f28e2c", "#e15759", "#76b7b2", "#59a14f", "#edc949", "#af7aa1", "#ff9da7", "#9c755f", "#bab0ab"] as const;
const HEIGHT = 320;

/**
 * The step-history plot: one line per picked run (the table's checkboxes, or a click on a point
 * of the scatter plot) for the metric chosen in its menu, from the history the runs recorded.
 */
export class HistoryPlot {
  readonly #model: Model;
  readonly #host: HTMLElement;
  readonly #menu: HTMLSelectElement;
  readonly #legend: HTMLElement;
  readonly #caption: HTMLElement;
  #metric: string | undefined;

  constructor(root: HTMLElement, model: Model) {
    this.#model = model;
    const bar = document.createElement("div");
    bar.className = "table-bar";
    const label = document.createElement("label");
    label.textContent = "Metric ";
    this.#menu = document.createElement("select");
    this.#menu.dataset.testid = "history-metric";
    this.#menu.addEventListener("change", () => {
      this.#metric = this.#menu.value;
      this.render();
    });
    label.append(this.#menu);
    bar.append(label);
    ({ host: this.#host, caption: this.#caption } = plotPlace("history"));
    this.#legend = document.createElement("ul");
    this.#legend.className = "legend";
    root.append(bar, this.#host, this.#legend, this.#caption);

    // Picked at the start: the first rows (in ranking order) that recorded a history, up to 3.
    for (const row of model.rows) {
      if (model.picked.size >= 3) break;
      if (historyOf(model.data, row.result.id) !== undefined) model.picked.add(row.index);
    }
  }

  /** Redraws for the picked runs and the chosen metric. */
  render(): void {
    const model = this.#model;
    const series = model.data.history.series;
    const picked = model.rows.filter((r) => model.picked.has(r.index) && historyOf(model.data, r.result.id) !== undefined);
    const names = new Set<string>();
    for (const r of picked) for (const m of Object.keys(historyOf(model.data, r.result.id)!)) names.add(m);
    const sort = model.data.ranking.sort_by;
    const options = [...names].sort((a, b) => (a === sort ? -1 : b === sort ? 1 : a.localeCompare(b)));
    if (this.#metric === undefined || !names.has(this.#metric)) this.#metric = options[0];
    this.#menu.replaceChildren(
      ...options.map((m) => {
        const o = document.createElement("option");
        o.value = m;
        o.textContent = m;
        o.selected = m === this.#metric;
        return o;
      }),
    );
    this.#menu.disabled = options.length === 0;
    this.#host.replaceChildren();
    this.#legend.replaceChildren();
    const metric = this.#metric;
    const hasAny = Object.keys(series).length > 0;
    if (picked.length === 0 || metric === undefined) {
      this.#caption.textContent = !hasAny
        ? (model.data.history.note ?? "No run in this report recorded a step history.")
        : "Pick runs in the table (the first column) or click a point of the scatter plot to plot their history.";
      return;
    }
    const width = Math.max(320, Math.floor(this.#host.clientWidth || 640));
    const lines = picked.map((r, i) => ({ row: r, color: PALETTE[i % PALETTE.length]!, points: pointsOf(historyOf(model.data, r.result.id)!, metric) }));
    const steps = lines.flatMap((l) => l.points.map((p) => p[0]));
    const values = lines.flatMap((l) => l.points.map((p) => p[1]));
    const xs = scaleLinear().domain(domainOf(steps)).nice().range([MARGINS.left, width - MARGINS.right]);
    const ys = scaleLinear().domain(domainOf(values)).nice().range([HEIGHT - MARGINS.bottom, MARGINS.top]);
    const svg = select(this.#host)
      .append("svg")
      .attr("width", width)
      .attr("height", HEIGHT)
      .attr("role", "img")
      .attr("aria-label", `History of ${metric}`);
    svg.append("g").attr("class", "axis").attr("transform", `translate(0,${HEIGHT - MARGINS.bottom})`).call(axisBottom(xs).ticks(Math.max(2, Math.floor(width / 90))));
    svg.append("g").attr("class", "axis").attr("transform", `translate(${MARGINS.left},0)`).call(axisLeft(ys).ticks(6));
    svg
      .append("text")
      .attr("class", "axis-label")
      .attr("x", (MARGINS.left + width - MARGINS.right) / 2)
      .attr("y", HEIGHT - 8)
      .attr("text-anchor", "middle")
      .text("step");
    svg
      .append("text")
      .attr("class", "axis-label")
      .attr("transform", `translate(16,${(MARGINS.top + HEIGHT - MARGINS.bottom) / 2}) rotate(-90)`)
      .attr("text-anchor", "middle")
      .text(metric);
    const path = (points: readonly (readonly [number, number])[]): string => (points.length === 0 ? "" : `M${points.map((p) => `${xs(p[0])},${ys(p[1])}`).join("L")}`);
    let without = 0;
    for (const l of lines) {
      if (l.points.length === 0) without++;
      svg.append("path").attr("class", "history-line").attr("data-id", l.row.result.id).attr("stroke", l.color).attr("d", path(l.points));
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = l.color;
      item.append(swatch, document.createTextNode(`${l.row.result.name ?? l.row.result.id} (${l.row.result.id})${l.points.length === 0 ? ": no history of this metric" : ""}`));
      this.#legend.append(item);
    }
    this.#caption.textContent = `${metric} over the steps of ${picked.length} run${picked.length === 1 ? "" : "s"}${without > 0 ? `; ${without} did not record it` : ""}. The history keeps at most about 100 points a metric, spread over the run.`;
  }
}
