import { axisBottom, axisLeft } from "d3-axis";
import { scaleLinear } from "d3-scale";
import type { GateJson } from "../../contracts/ranking.js";
import type { Model, Row } from "./model.js";
import { COLORS, formatNumber, historyOf, opSymbol } from "./model.js";
import { domainOf, plotFrame, plotPlace } from "./plot-frame.js";
import type { PlotFrame } from "./plot-frame.js";

const MARGINS = { top: 16, right: 24, bottom: 48, left: 72 } as const;
const HEIGHT = 420;
/** The colour of the first Pareto front's points and of the line joining them. */
const FRONT = "#0969da";

/**
 * The range of one metric that passes every gate on it: `[low, high]`, with `null` for an open
 * end; `undefined` when no value can pass (gates that contradict each other). `ne` gates exclude a
 * single value, which a shaded band cannot show: they are left out.
 */
export function passingRange(gates: readonly GateJson[], metric: string): [number | null, number | null] | undefined {
  let lo: number | null = null;
  let hi: number | null = null;
  for (const g of gates) {
    if (g.metric !== metric) continue;
    if (g.op === "lt" || g.op === "le" || g.op === "eq") hi = hi === null ? g.value : Math.min(hi, g.value);
    if (g.op === "gt" || g.op === "ge" || g.op === "eq") lo = lo === null ? g.value : Math.max(lo, g.value);
  }
  if (lo !== null && hi !== null && lo > hi) return undefined;
  return [lo, hi];
}

/**
 * The scatter plot of two metrics: every row with both values as a point (green passes, red
 * fails, blue on the first Pareto front), each gate on either metric drawn as a line at its
 * threshold, and the region passing all of those gates shaded. Rows the filter or the brushes
 * leave out are drawn faint. A click on a point picks its run's history.
 */
export class ScatterPlot {
  readonly #host: HTMLElement;
  readonly #caption: HTMLElement;
  readonly #model: Model;
  readonly #onPick: () => void;
  #frame: PlotFrame | undefined;
  #points: { row: Row; px: number; py: number }[] = [];
  readonly #tooltip: HTMLDivElement;

  constructor(root: HTMLElement, model: Model, onPick: () => void) {
    this.#model = model;
    this.#onPick = onPick;
    ({ host: this.#host, caption: this.#caption } = plotPlace("scatter"));
    this.#tooltip = document.createElement("div");
    this.#tooltip.className = "tooltip";
    this.#tooltip.hidden = true;
    root.append(this.#host, this.#caption, this.#tooltip);
  }

  /** Draws the plot whole: axes, gates, region and points (again after a resize). */
  render(): void {
    const model = this.#model;
    const { x, y } = model.data.scatter;
    const xi = model.metricIndex.get(x)!;
    const yi = model.metricIndex.get(y)!;
    const gates = model.data.ranking.gates;
    const frame = plotFrame(this.#host, HEIGHT, MARGINS, `Scatter plot of ${y} against ${x}`);
    this.#frame = frame;
    const { svg, width, height } = frame;
    const xThresholds = gates.filter((g) => g.metric === x).map((g) => g.value);
    const yThresholds = gates.filter((g) => g.metric === y).map((g) => g.value);
    const xs = scaleLinear()
      .domain(domainOf(model.rows.map((r) => r.values[xi]!), xThresholds))
      .nice()
      .range([MARGINS.left, width - MARGINS.right]);
    const ys = scaleLinear()
      .domain(domainOf(model.rows.map((r) => r.values[yi]!), yThresholds))
      .nice()
      .range([height - MARGINS.bottom, MARGINS.top]);

    // The region passing every gate on x and on y, clipped to the plot.
    const xr = passingRange(gates, x);
    const yr = passingRange(gates, y);
    const drawnGates = gates.filter((g) => g.metric === x || g.metric === y);
    if (xr !== undefined && yr !== undefined && drawnGates.length > 0) {
      const [x0, x1] = xs.range() as [number, number];
      const [y0, y1] = ys.range() as [number, number];
      const left = xr[0] === null ? x0 : Math.max(x0, xs(xr[0]));
      const right = xr[1] === null ? x1 : Math.min(x1, xs(xr[1]));
      const top = yr[1] === null ? y1 : Math.max(y1, ys(yr[1]));
      const bottom = yr[0] === null ? y0 : Math.min(y0, ys(yr[0]));
      if (right >= left && bottom >= top) {
        svg
          .append("rect")
          .attr("class", "pass-region")
          .attr("data-testid", "pass-region")
          .attr("x", left)
          .attr("y", top)
          .attr("width", Math.max(1, right - left))
          .attr("height", Math.max(1, bottom - top));
      }
    }

    svg
      .append("g")
      .attr("class", "axis x-axis")
      .attr("transform", `translate(0,${height - MARGINS.bottom})`)
      .call(axisBottom(xs).ticks(Math.max(2, Math.floor(width / 90))));
    svg
      .append("g")
      .attr("class", "axis y-axis")
      .attr("transform", `translate(${MARGINS.left},0)`)
      .call(axisLeft(ys).ticks(8));
    svg
      .append("text")
      .attr("class", "axis-label")
      .attr("x", (MARGINS.left + width - MARGINS.right) / 2)
      .attr("y", height - 8)
      .attr("text-anchor", "middle")
      .text(this.#label(x));
    svg
      .append("text")
      .attr("class", "axis-label")
      .attr("transform", `translate(16,${(MARGINS.top + height - MARGINS.bottom) / 2}) rotate(-90)`)
      .attr("text-anchor", "middle")
      .text(this.#label(y));

    for (const g of gates) {
      const vertical = g.metric === x;
      if (!vertical && g.metric !== y) continue;
      const at = vertical ? xs(g.value) : ys(g.value);
      const line = svg
        .append("line")
        .attr("class", "gate-line")
        .attr("data-axis", vertical ? "x" : "y")
        .attr("data-metric", g.metric)
        .attr("data-op", g.op)
        .attr("data-threshold", String(g.value));
      if (vertical) line.attr("x1", at).attr("x2", at).attr("y1", MARGINS.top).attr("y2", height - MARGINS.bottom);
      else line.attr("x1", MARGINS.left).attr("x2", width - MARGINS.right).attr("y1", at).attr("y2", at);
      svg
        .append("text")
        .attr("class", "gate-label")
        .attr("x", vertical ? at + 4 : width - MARGINS.right - 4)
        .attr("y", vertical ? MARGINS.top + 12 : at - 4)
        .attr("text-anchor", vertical ? "start" : "end")
        .text(`${g.metric} ${opSymbol(g.op)} ${formatNumber(g.value)}`);
    }

    this.#points = [];
    for (const row of model.rows) {
      const vx = row.values[xi]!;
      const vy = row.values[yi]!;
      if (Number.isNaN(vx) || Number.isNaN(vy)) continue;
      this.#points.push({ row, px: xs(vx), py: ys(vy) });
    }
    const pareto = this.#isPareto();
    if (pareto) {
      const front = this.#points.filter((p) => p.row.result.rank === 1).sort((a, b) => a.px - b.px || a.py - b.py);
      if (front.length > 1) {
        svg
          .append("path")
          .attr("class", "front-line")
          .attr("d", `M${front.map((p) => `${p.px},${p.py}`).join("L")}`);
      }
    }

    const overlay = svg
      .append("rect")
      .attr("class", "overlay")
      .attr("x", MARGINS.left)
      .attr("y", MARGINS.top)
      .attr("width", width - MARGINS.left - MARGINS.right)
      .attr("height", height - MARGINS.top - MARGINS.bottom);
    overlay.on("mousemove", (event: MouseEvent) => this.#hover(event));
    overlay.on("mouseleave", () => (this.#tooltip.hidden = true));
    overlay.on("click", (event: MouseEvent) => {
      const p = this.#nearest(event);
      if (p === undefined || historyOf(model.data, p.row.result.id) === undefined) return;
      if (model.picked.has(p.row.index)) model.picked.delete(p.row.index);
      else model.picked.add(p.row.index);
      this.#onPick();
    });

    const missing = model.rows.length - this.#points.length;
    const other = gates.filter((g) => g.metric !== x && g.metric !== y);
    const parts = [`${this.#points.length} of ${model.rows.length} rows plotted`];
    if (missing > 0) parts.push(`${missing} without both ${x} and ${y} are not`);
    if (drawnGates.length > 0) parts.push(xr === undefined || yr === undefined ? "no value passes the gates drawn" : "shaded: the region passing the gates drawn");
    if (other.length > 0) parts.push(`${other.length} gate${other.length === 1 ? "" : "s"} on other metrics (${[...new Set(other.map((g) => g.metric))].join(", ")}) not drawn`);
    if (drawnGates.some((g) => g.op === "ne")) parts.push("a ≠ gate is drawn as its line, not shaded");
    if (pareto) parts.push("blue: the first Pareto front, joined");
    this.#caption.textContent = `${parts.join("; ")}.`;
    this.update();
  }

  #isPareto(): boolean {
    const pareto = this.#model.data.ranking.pareto;
    return pareto !== null && pareto.length > 0;
  }

  #label(metric: string): string {
    const def = this.#model.metrics.find((m) => m.name === metric);
    const unit = def?.unit ? ` (${def.unit})` : "";
    const better = def?.direction === "lower" ? " · lower is better" : def?.direction === "higher" ? " · higher is better" : "";
    return `${metric}${unit}${better}`;
  }

  /** Redraws the points for the current filter (faint: left out by the filter or a brush). */
  update(): void {
    const frame = this.#frame;
    if (frame === undefined) return;
    const { context, width, height } = frame;
    const model = this.#model;
    context.clearRect(0, 0, width, height);
    const pareto = this.#isPareto();
    const colorOf = (row: Row): string => (pareto && row.result.rank === 1 ? FRONT : row.result.passed ? COLORS.pass : COLORS.fail);
    // Faint points first, then failing, passing and the front: the best stay on top.
    const layers: { row: Row; px: number; py: number }[][] = [[], [], [], []];
    for (const p of this.#points) {
      const layer = model.matching[p.row.index] !== 1 ? 0 : !p.row.result.passed ? 1 : pareto && p.row.result.rank === 1 ? 3 : 2;
      layers[layer]!.push(p);
    }
    layers.forEach((points, layer) => {
      context.globalAlpha = layer === 0 ? 0.35 : 0.85;
      for (const p of points) {
        context.fillStyle = layer === 0 ? COLORS.dim : colorOf(p.row);
        context.beginPath();
        context.arc(p.px, p.py, layer === 3 ? 4.5 : 3, 0, 2 * Math.PI);
        context.fill();
        if (model.picked.has(p.row.index)) {
          context.strokeStyle = "#24292f";
          context.lineWidth = 1.5;
          context.stroke();
        }
      }
    });
    context.globalAlpha = 1;
  }

  #nearest(event: MouseEvent): { row: Row; px: number; py: number } | undefined {
    const box = this.#frame!.canvas.getBoundingClientRect();
    const mx = event.clientX - box.left;
    const my = event.clientY - box.top;
    let best: { row: Row; px: number; py: number } | undefined;
    let bestD = 64; // within 8 pixels
    for (const p of this.#points) {
      const d = (p.px - mx) ** 2 + (p.py - my) ** 2;
      if (d < bestD) {
        bestD = d;
        best = p;
      }
    }
    return best;
  }

  #hover(event: MouseEvent): void {
    const p = this.#nearest(event);
    const tip = this.#tooltip;
    if (p === undefined) {
      tip.hidden = true;
      return;
    }
    const { x, y } = this.#model.data.scatter;
    const r = p.row.result;
    tip.replaceChildren();
    const title = document.createElement("strong");
    title.textContent = r.name ?? r.id;
    const lines = [r.id, `${x}: ${formatNumber(p.row.values[this.#model.metricIndex.get(x)!]!)}`, `${y}: ${formatNumber(p.row.values[this.#model.metricIndex.get(y)!]!)}`, r.passed ? `rank ${r.rank}` : "fails a gate"];
    tip.append(title);
    for (const l of lines) {
      const div = document.createElement("div");
      div.textContent = l;
      tip.append(div);
    }
    tip.hidden = false;
    tip.style.left = `${event.pageX + 12}px`;
    tip.style.top = `${event.pageY + 12}px`;
  }
}
