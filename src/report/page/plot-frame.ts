import { select } from "d3-selection";
import type { Selection } from "d3-selection";

/** Space around a plot's drawing area, for the axes and their labels. */
export interface Margins {
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
  readonly left: number;
}

/**
 * A plot: an SVG (axes, gate lines, labels: what a test or a person reads) over a canvas (the
 * thousands of points and lines, which the DOM could not hold fast), of the same size.
 */
export interface PlotFrame {
  readonly svg: Selection<SVGSVGElement, unknown, null, undefined>;
  readonly canvas: HTMLCanvasElement;
  readonly context: CanvasRenderingContext2D;
  readonly width: number;
  readonly height: number;
  readonly margins: Margins;
}

/** A plot's place on the page: its host (`data-testid` = `testid`) and the caption under it. */
export function plotPlace(testid: string): { host: HTMLDivElement; caption: HTMLParagraphElement } {
  const host = document.createElement("div");
  host.dataset.testid = testid;
  const caption = document.createElement("p");
  caption.className = "caption";
  return { host, caption };
}

/** Replaces what `host` holds with a plot frame of `height` pixels, as wide as `host`. */
export function plotFrame(host: HTMLElement, height: number, margins: Margins, label: string): PlotFrame {
  host.replaceChildren();
  host.classList.add("plot");
  const width = Math.max(320, Math.floor(host.clientWidth || 640));
  const canvas = document.createElement("canvas");
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.floor(width * ratio);
  canvas.height = Math.floor(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const context = canvas.getContext("2d")!;
  context.scale(ratio, ratio);
  host.append(canvas);
  const svg = select(host)
    .append("svg")
    .attr("width", width)
    .attr("height", height)
    .attr("viewBox", `0 0 ${width} ${height}`)
    .attr("role", "img")
    .attr("aria-label", label);
  return { svg, canvas, context, width, height, margins };
}

/**
 * A linear domain covering `values` and `extra` (thresholds that must stay in view), padded
 * when it is a single value; `[0, 1]` when there is nothing.
 */
export function domainOf(values: Iterable<number>, extra: readonly number[] = []): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  for (const v of extra) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Number.POSITIVE_INFINITY) return [0, 1];
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}
