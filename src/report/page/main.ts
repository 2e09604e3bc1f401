// The report page's script: reads the data the report embedded (a JSON script element) and draws
// the summary, the ranking table and the plots. Bundled with its d3 modules and inlined in the
// page by `expflow report`, so the page opens with no network.
import type { ReportDataJson } from "../../contracts/report.js";
import { HistoryPlot } from "./history.js";
import type { Model } from "./model.js";
import { buildModel, formatNumber, opSymbol, refilter } from "./model.js";
import { ParallelPlot } from "./parallel.js";
import { ScatterPlot } from "./scatter.js";
import { RankingTable } from "./table.js";
import { plural } from "../../core/number-text.js";

declare global {
  interface Window {
    /** What the page measured of itself, and the table's order: read by the tests and the benchmark. */
    expflowReport?: { renderMs: number; tableIds: () => string[] };
  }
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (className !== undefined) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function section(title: string, id: string): HTMLElement {
  const s = element("section", "card");
  s.id = id;
  s.append(element("h2", undefined, title));
  document.getElementById("app")!.append(s);
  return s;
}

function header(data: ReportDataJson): void {
  const head = element("header");
  head.append(element("h1", undefined, data.title));
  const meta = element("p", "meta");
  const where = data.source.kind === "clearml" ? `ClearML at ${data.source.location}` : `registry ${data.source.location}`;
  meta.textContent = `${where}${data.source.project === null ? "" : `, project ${data.source.project}`} · made ${data.generated_at.replace("T", " ").replace(/\.\d+Z$/, " UTC")} by expflow ${data.expflow_version}`;
  head.append(meta);
  if (data.command !== null) {
    const code = element("code", "command", data.command);
    head.append(code);
  }
  document.getElementById("app")!.append(head);
}

function summary(model: Model): void {
  const data = model.data;
  const s = data.summary;
  const root = section("Summary", "summary");
  const stats = element("div", "stats");
  const stat = (value: string, label: string, kind: string): void => {
    const box = element("div", `stat ${kind}`);
    box.dataset.testid = `stat-${kind}`;
    box.append(element("strong", undefined, value), element("span", undefined, label));
    stats.append(box);
  };
  stat(String(s.passed), `pass ${data.ranking.gates.length === 0 ? "(no gates)" : plural(data.ranking.gates.length, "gate")}`, "pass");
  stat(String(s.failed), "fail a gate", "fail");
  stat(String(s.ranked), `ranked of ${s.listed} listed`, "ranked");
  if (s.unfinished > 0) stat(String(s.unfinished), "unfinished, ranked", "unfinished");
  if (data.ranking.selection.excluded > 0) stat(String(data.ranking.selection.excluded), "not ranked for their status", "excluded");
  root.append(stats);

  const pareto = data.ranking.pareto;
  const order = element("p");
  order.textContent =
    pareto !== null && pareto.length > 0
      ? `Pareto fronts of ${pareto.map((p) => `${p.metric} (${p.direction})`).join(", ")}: rank 1 is the front, then the next front.`
      : `Ranked by ${data.ranking.sort_by}, ${data.ranking.ascending ? "lowest" : "highest"} first.`;
  root.append(order);

  if (s.gates.length > 0) {
    const list = element("ul", "gates");
    list.dataset.testid = "gate-counts";
    for (const g of s.gates) {
      const missing = g.missing > 0 ? ` (${g.missing} for a missing value)` : "";
      list.append(element("li", undefined, `${g.metric} ${opSymbol(g.op)} ${formatNumber(g.value)}: ${g.failed} of ${s.shown} fail${missing}`));
    }
    root.append(list);
  }
  const notes = [...s.notes];
  const sel = data.ranking.selection;
  if (sel.excluded > 0 && sel.statuses !== null) {
    const include = [...new Set([...sel.statuses, ...Object.keys(sel.excluded_by_status)])].join(",");
    notes.push(`To rank them too: --status ${include}`);
  }
  if (notes.length > 0) {
    const list = element("ul", "notes");
    list.dataset.testid = "notes";
    for (const n of notes) list.append(element("li", undefined, n));
    root.append(list);
  }
}

function main(): void {
  const started = performance.now();
  const source = document.getElementById("expflow-data");
  const app = document.getElementById("app")!;
  let data: ReportDataJson;
  try {
    data = JSON.parse(source?.textContent ?? "") as ReportDataJson;
    if (data.format !== "expflow-report/1") throw new Error(`unknown format ${String(data.format)}`);
  } catch (e) {
    app.textContent = `This report's data cannot be read: ${(e as Error).message}`;
    return;
  }
  const model = buildModel(data);
  header(data);
  summary(model);

  const plots = element("div", "plots");
  app.append(plots);
  const scatterCard = element("section", "card");
  scatterCard.id = "scatter-card";
  scatterCard.append(element("h2", undefined, `${data.scatter.y} against ${data.scatter.x}`));
  const parallelCard = element("section", "card");
  parallelCard.id = "parallel-card";
  parallelCard.append(element("h2", undefined, "Parallel coordinates"));
  plots.append(scatterCard, parallelCard);

  const tableCard = section("Ranking", "ranking");
  const historyCard = section("Step history", "history-card");

  // The plots call each other back on clicks and brushes only, after all of them exist.
  const scatter = new ScatterPlot(scatterCard, model, () => {
    history.render();
    scatter.update();
    table.refresh();
  });
  const redraw = (): void => {
    refilter(model);
    table.refresh();
    scatter.update();
    parallel.update();
  };
  let frame = 0;
  const brushed = (): void => {
    // Brushing fires many events a second: filter and redraw once per frame.
    if (frame !== 0) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      redraw();
    });
  };
  const parallel = new ParallelPlot(parallelCard, model, brushed);
  const history = new HistoryPlot(historyCard, model);
  const table = new RankingTable(tableCard, model, redraw, () => {
    history.render();
    scatter.update();
  });
  scatter.render();
  parallel.render();
  history.render();

  let resize = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = window.setTimeout(() => {
      scatter.render();
      parallel.render();
      history.render();
    }, 150);
  });
  window.expflowReport = { renderMs: performance.now() - started, tableIds: () => table.ids() };
  document.body.dataset.ready = "true";
}

main();
