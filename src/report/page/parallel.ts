import { axisLeft } from "d3-axis";
import { brushY } from "d3-brush";
import type { D3BrushEvent } from "d3-brush";
import type { ScaleLinear } from "d3-scale";
import { scaleLinear } from "d3-scale";
import type { Model } from "./model.js";
import { COLORS } from "./model.js";
import { domainOf, plotFrame, plotPlace } from "./plot-frame.js";
import type { PlotFrame } from "./plot-frame.js";

const MARGINS = { top: 36, right: 48, bottom: 24, left: 48 } as const;
const HEIGHT = 420;

/**
 * The parallel-coordinates plot of the report's axes: one vertical axis per metric, better values
 * up (a lower-is-better metric's axis runs downwards), a line per row. Brushing an axis (a drag
 * along it) keeps the rows within the brushed range on every brushed axis: the table, and the
 * other plots' highlighting, follow. A click on an axis outside its brush clears it.
 */
export class ParallelPlot {
  readonly #host: HTMLElement;
  readonly #caption: HTMLElement;
  readonly #model: Model;
  readonly #onBrush: () => void;
  #frame: PlotFrame | undefined;
  #scales: { metric: string; index: number; x: number; scale: ScaleLinear<number, number> }[] = [];

  constructor(root: HTMLElement, model: Model, onBrush: () => void) {
    this.#model = model;
    this.#onBrush = onBrush;
    ({ host: this.#host, caption: this.#caption } = plotPlace("parallel"));
    root.append(this.#host, this.#caption);
  }

  /** Draws the plot whole (again after a resize; brushes are kept). */
  render(): void {
    const model = this.#model;
    const axes = model.data.axes;
    const frame = plotFrame(this.#host, HEIGHT, MARGINS, `Parallel coordinates of ${axes.join(", ")}`);
    this.#frame = frame;
    const { svg, width, height } = frame;
    const span = axes.length > 1 ? (width - MARGINS.left - MARGINS.right) / (axes.length - 1) : 0;
    this.#scales = axes.map((metric, i) => {
      const index = model.metricIndex.get(metric)!;
      const def = model.metrics[index]!;
      const domain = domainOf(
        model.rows.map((r) => r.values[index]!),
        model.data.ranking.gates.filter((g) => g.metric === metric).map((g) => g.value),
      );
      // Better up: a lower-is-better metric's smallest value at the top.
      const range: [number, number] = def.direction === "lower" ? [MARGINS.top, height - MARGINS.bottom] : [height - MARGINS.bottom, MARGINS.top];
      return { metric, index, x: axes.length > 1 ? MARGINS.left + i * span : width / 2, scale: scaleLinear().domain(domain).nice().range(range) };
    });

    for (const a of this.#scales) {
      const g = svg
        .append("g")
        .attr("class", "axis p-axis")
        .attr("data-metric", a.metric)
        .attr("transform", `translate(${a.x},0)`)
        .call(axisLeft(a.scale).ticks(6));
      g.append("text")
        .attr("class", "axis-title")
        .attr("y", 14)
        .attr("text-anchor", "middle")
        .text(a.metric);
      g.append("text")
        .attr("class", "axis-note")
        .attr("y", 26)
        .attr("text-anchor", "middle")
        .text(model.metrics[a.index]!.direction === null ? "" : "▲ better");
      const [top, bottom] = [Math.min(...(a.scale.range() as [number, number])), Math.max(...(a.scale.range() as [number, number]))];
      const brush = brushY<unknown>()
        .extent([
          [-12, top],
          [12, bottom],
        ])
        .on("start brush end", (event: D3BrushEvent<unknown>) => {
          const sel = event.selection as [number, number] | null;
          if (sel === null) model.brushes.delete(a.metric);
          else {
            const v0 = a.scale.invert(sel[0]);
            const v1 = a.scale.invert(sel[1]);
            model.brushes.set(a.metric, [Math.min(v0, v1), Math.max(v0, v1)]);
          }
          this.#onBrush();
        });
      const bg = g.append("g").attr("class", "brush").attr("data-metric", a.metric).call(brush);
      const kept = model.brushes.get(a.metric);
      if (kept !== undefined) {
        const p0 = a.scale(kept[0]);
        const p1 = a.scale(kept[1]);
        brush.move(bg, [Math.min(p0, p1), Math.max(p0, p1)]);
      }
    }
    this.update();
  }

  /** Redraws the lines for the current filter: matching rows in colour, the others faint. */
  update(): void {
    const frame = this.#frame;
    if (frame === undefined) return;
    const { context, width, height } = frame;
    const model = this.#model;
    context.clearRect(0, 0, width, height);
    const draw = (matching: boolean): void => {
      for (const row of model.rows) {
        if ((model.matching[row.index] === 1) !== matching) continue;
        context.strokeStyle = matching ? (row.result.passed ? COLORS.pass : COLORS.fail) : COLORS.dim;
        context.beginPath();
        let open = false;
        for (const a of this.#scales) {
          const v = row.values[a.index]!;
          if (Number.isNaN(v)) {
            open = false; // a missing value breaks the line
            continue;
          }
          const y = a.scale(v);
          if (open) context.lineTo(a.x, y);
          else context.moveTo(a.x, y);
          open = true;
        }
        context.stroke();
      }
    };
    const n = model.rows.length;
    // Thousands of lines: thinner and fainter, so the structure shows rather than a solid block.
    context.lineWidth = n > 2000 ? 0.5 : 1;
    context.globalAlpha = n > 2000 ? 0.15 : 0.35;
    draw(false);
    context.globalAlpha = n > 2000 ? 0.35 : 0.75;
    draw(true);
    context.globalAlpha = 1;
    const brushed = [...model.brushes.keys()];
    this.#caption.textContent =
      brushed.length === 0
        ? "Drag along an axis to keep the rows in a range; the table follows. Better values are up."
        : `${model.matchingCount} of ${n} rows within the brushed range of ${brushed.join(", ")}; click an axis outside its brush to clear it.`;
  }
}
