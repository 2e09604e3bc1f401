import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReportDataJson } from "../../src/contracts/report.js";
import { ReportDataSchema } from "../../src/contracts/report.js";
import { launchChromium, openReport, screenshot } from "../helpers/browser.js";
import { record, runCliAsync, tempDir, writeRegistry } from "../helpers/cli.js";

// The report as a person sees it: made by the built binary, opened from its file in headless
// Chromium (Debian's, driven by playwright-core), with every request refused and counted.

const HOSTILE = `</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">`;

/** 40 runs with distinct values; a few miss a metric, two are running, six kept a history. */
function runs(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < 40; i++) {
    const metrics: Record<string, unknown> = {
      pde_mean: 14 + ((i * 7) % 40) * 0.25,
      train_time_min: 11 + ((i * 13) % 40) * 2,
      seg_total: 40 + ((i * 3) % 40) * 0.5,
    };
    if (i === 5) delete metrics["pde_mean"];
    if (i === 7) delete metrics["train_time_min"];
    const extra: Record<string, unknown> = { name: i === 9 ? HOSTILE : `task${(i % 3) + 1}-m${i}`, timestamp: `2026-10-01T00:${String(i).padStart(2, "0")}:00` };
    if (i === 11 || i === 12) extra["status"] = "running";
    if (i < 6) {
      const steps = Array.from({ length: 26 }, (_, s) => [s * 2, 30 - s * 0.5 + i] as const);
      extra["metric_history"] = { pde_mean: { last: steps.at(-1)![1], min: steps.at(-1)![1], max: steps[0]![1], count: 26, steps } };
    }
    out.push(record(`exp-${String(i).padStart(3, "0")}`, metrics, extra));
  }
  return out;
}

const GATES = ["--gate", "pde_mean:lt:18.09", "--gate", "train_time_min:lt:60"];

async function makeReport(registry: string, args: readonly string[]): Promise<{ file: string; data: ReportDataJson }> {
  const file = join(tempDir(), "report.html");
  const r = await runCliAsync(["report", "--html", file, "--registry", registry, ...args]);
  expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  expect([0, 1]).toContain(r.code);
  const html = readFileSync(file, "utf8");
  const json = /<script type="application\/json" id="expflow-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
  return { file, data: ReportDataSchema.parse(JSON.parse(json)) };
}

/** `[value, pixel]` of each tick of an axis (its `__data__`, which d3-axis sets, and where its tick line is drawn). */
async function ticks(page: Page, axis: string, vertical: boolean): Promise<[number, number][]> {
  return page.$$eval(
    `${axis} .tick`,
    (els, v) =>
      els.map((t) => {
        const r = t.querySelector("line")!.getBoundingClientRect();
        return [(t as unknown as { __data__: number }).__data__, v ? r.top + r.height / 2 : r.left + r.width / 2] as [number, number];
      }),
    vertical,
  );
}

/** Where `value` sits on an axis, by the straight line through its first and last ticks. */
function pixelOf(axisTicks: readonly [number, number][], value: number): number {
  const [v0, p0] = axisTicks[0]!;
  const [v1, p1] = axisTicks.at(-1)!;
  return p0 + ((value - v0) * (p1 - p0)) / (v1 - v0);
}

async function tableIds(page: Page): Promise<string[]> {
  return page.evaluate(() => window.expflowReport!.tableIds());
}

declare global {
  interface Window {
    expflowReport?: { renderMs: number; tableIds: () => string[] };
    __pwned?: number;
  }
}

describe("the HTML report in a browser", () => {
  let browser: Browser;
  let registry: string;
  let report: { file: string; data: ReportDataJson };

  beforeAll(async () => {
    browser = await launchChromium();
    registry = writeRegistry(runs());
    report = await makeReport(registry, ["--sort-by", "pde_mean", ...GATES, "--history", "40"]);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("opens with no network request, no console error, and draws every part", async () => {
    const { page, problems, requests } = await openReport(browser, report.file);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    for (const id of ["summary", "scatter", "parallel", "ranking-table", "history"]) {
      expect(await page.locator(`#${id}, [data-testid=${id}]`).count(), id).toBeGreaterThan(0);
    }
    expect(await page.textContent("[data-testid=stat-pass] strong")).toBe(String(report.data.summary.passed));
    expect(await page.textContent("[data-testid=stat-fail] strong")).toBe(String(report.data.summary.failed));
    // What was left out and why: the two running runs, and how to include them.
    const notes = await page.textContent("[data-testid=notes]");
    expect(notes).toContain("2 experiments not ranked for their status (2 running)");
    expect(notes).toContain("--status completed,running");
    await screenshot(page, "report");
    await page.close();
  });

  it("shows a hostile run name as text: nothing in the data runs", async () => {
    const { page, problems } = await openReport(browser, report.file);
    expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
    await page.fill("[data-testid=filter]", "pwned");
    expect(await tableIds(page)).toEqual(["exp-009"]);
    expect(await page.textContent('tr[data-id="exp-009"] td[data-key=name]')).toBe(HOSTILE);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("takes ids and metric names such as constructor and toString for names, not for the page's own objects", async () => {
    const steps = [[0, 3], [1, 2]] as const;
    const h = { last: 2, min: 2, max: 3, count: 2, steps };
    const odd = writeRegistry([
      record("constructor", { pde_mean: 15, toString: 1 }),
      record("toString", { pde_mean: 16, constructor: 2 }, { metric_history: { pde_mean: h, hasOwnProperty: h } }),
      record("valueOf", { pde_mean: 17 }, { metric_history: { constructor: h } }),
    ]);
    const made = await makeReport(odd, ["--sort-by", "pde_mean", "--axes", "pde_mean,toString,constructor"]);
    expect(Object.keys(made.data.history.series).sort()).toEqual(["toString", "valueOf"]);
    const { page, problems } = await openReport(browser, made.file);
    expect(problems).toEqual([]);
    expect(await tableIds(page)).toEqual(["constructor", "toString", "valueOf"]);
    expect(await page.isDisabled('tr[data-id="constructor"] td[data-key=pick] input')).toBe(true);
    expect(await page.$$eval("[data-testid=history] .history-line", (els) => els.map((e) => (e as SVGElement).dataset["id"]))).toEqual(["toString", "valueOf"]);
    // valueOf recorded no pde_mean: its line is empty, and the legend says so.
    expect(await page.textContent("ul.legend")).toContain("valueOf (valueOf): no history of this metric");
    expect(await page.textContent('tr[data-id="toString"] td[data-key="metric:constructor"]')).toBe("2");
    await page.close();
  });

  it("opens without an error when nothing was ranked, and when the runs report a single metric", async () => {
    const empty = await makeReport(writeRegistry([record("r1", { pde_mean: 15 }, { status: "failed" })]), ["--sort-by", "pde_mean", ...GATES]);
    const opened = await openReport(browser, empty.file);
    expect(opened.problems).toEqual([]);
    expect(await opened.page.textContent("td.empty")).toBe("Nothing was ranked.");
    expect(await opened.page.textContent("[data-testid=notes]")).toContain("1 experiment not ranked for its status (1 failed)");
    await opened.page.close();
    const single = await makeReport(writeRegistry([record("a", { pde_mean: 15 }), record("b", { pde_mean: 16 })]), ["--sort-by", "pde_mean"]);
    expect(single.data.scatter).toEqual({ x: "pde_mean", y: "pde_mean" });
    const one = await openReport(browser, single.file);
    expect(one.problems).toEqual([]);
    expect(await tableIds(one.page)).toEqual(["a", "b"]);
    await one.page.close();
  });

  it("sorts the table by any column, again for the other way, missing values last", async () => {
    const { page } = await openReport(browser, report.file);
    const rows = report.data.ranking.results;
    expect(await tableIds(page)).toEqual(rows.map((r) => r.id));

    const byTime = (asc: boolean): string[] => {
      const v = (r: (typeof rows)[number]): number | undefined => (typeof r.metrics["train_time_min"] === "number" ? (r.metrics["train_time_min"] as number) : undefined);
      const present = rows.filter((r) => v(r) !== undefined).sort((a, b) => (asc ? v(a)! - v(b)! : v(b)! - v(a)!));
      return [...present, ...rows.filter((r) => v(r) === undefined)].map((r) => r.id);
    };
    const header = page.locator('th[data-key="metric:train_time_min"] button');
    await header.click();
    expect(await tableIds(page)).toEqual(byTime(true));
    expect(await page.getAttribute('th[data-key="metric:train_time_min"]', "aria-sort")).toBe("ascending");
    // The rows drawn are the table's first rows, in that order.
    const drawn = await page.$$eval("tbody tr[data-id]", (trs) => trs.map((tr) => (tr as HTMLElement).dataset["id"]!));
    expect(drawn).toEqual(byTime(true).slice(0, drawn.length));
    await header.click();
    expect(await tableIds(page)).toEqual(byTime(false));
    expect(await page.getAttribute('th[data-key="metric:train_time_min"]', "aria-sort")).toBe("descending");

    await page.locator('th[data-key="id"] button').click();
    expect(await tableIds(page)).toEqual(rows.map((r) => r.id).sort((a, b) => a.localeCompare(b)));
    expect(await page.getAttribute('th[data-key="metric:train_time_min"]', "aria-sort")).toBe("none");
    await page.close();
  });

  it("filters the table with the filter box", async () => {
    const { page } = await openReport(browser, report.file);
    await page.fill("[data-testid=filter]", "TASK2");
    const expected = report.data.ranking.results.filter((r) => `${r.id} ${r.name ?? ""} ${r.status}`.toLowerCase().includes("task2")).map((r) => r.id);
    expect(expected.length).toBeGreaterThan(3);
    expect(await tableIds(page)).toEqual(expected);
    expect(await page.textContent("[data-testid=row-count]")).toBe(`${expected.length} of ${report.data.ranking.results.length} rows match`);
    await page.fill("[data-testid=filter]", "no-such-run");
    expect(await tableIds(page)).toEqual([]);
    expect(await page.textContent("td.empty")).toBe("No row matches the filter.");
    await page.fill("[data-testid=filter]", "");
    expect(await tableIds(page)).toHaveLength(report.data.ranking.results.length);
    await page.close();
  });

  it("shows PASS and FAIL badges, and each failed gate with its reason", async () => {
    const { page } = await openReport(browser, report.file);
    const failing = report.data.ranking.results.find((r) => !r.passed && r.gates.some((g) => g.reason === "not_met"))!;
    await page.fill("[data-testid=filter]", failing.id);
    expect(await page.textContent(`tr[data-id="${failing.id}"] td[data-key=result]`)).toBe("FAIL");
    const reasons = failing.gates.filter((g) => !g.passed).map((g) => (g.actual === null ? `${g.metric} missing` : `${g.metric} ${g.actual} not < ${g.threshold}`));
    expect(await page.textContent(`tr[data-id="${failing.id}"] td[data-key=failed_gates]`)).toBe(reasons.join("; "));
    const missing = report.data.ranking.results.find((r) => r.id === "exp-007")!;
    await page.fill("[data-testid=filter]", missing.id);
    expect(await page.textContent(`tr[data-id="exp-007"] td[data-key=failed_gates]`)).toContain("train_time_min missing");
    const passing = report.data.ranking.results.find((r) => r.passed)!;
    await page.fill("[data-testid=filter]", passing.id);
    expect(await page.textContent(`tr[data-id="${passing.id}"] td[data-key=result]`)).toBe("PASS");
    await page.close();
  });

  it("marks runs that did not complete as unfinished when other statuses are ranked", async () => {
    const withRunning = await makeReport(registry, ["--sort-by", "pde_mean", ...GATES, "--status", "completed,running"]);
    const { page, problems } = await openReport(browser, withRunning.file);
    await page.fill("[data-testid=filter]", "running");
    expect((await tableIds(page)).sort()).toEqual(["exp-011", "exp-012"]);
    expect(await page.textContent('tr[data-id="exp-011"] td[data-key=result]')).toMatch(/unfinished$/);
    expect(await page.textContent("[data-testid=stat-unfinished] strong")).toBe("2");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("draws each gate line at the pixel its threshold maps to on the axis, and shades the passing region", async () => {
    const { page } = await openReport(browser, report.file);
    const xTicks = await ticks(page, "[data-testid=scatter] .x-axis", false);
    const yTicks = await ticks(page, "[data-testid=scatter] .y-axis", true);
    expect(xTicks.length).toBeGreaterThan(2);
    const lines = await page.$$eval("[data-testid=scatter] .gate-line", (els) =>
      els.map((l) => {
        const r = l.getBoundingClientRect();
        const d = (l as SVGElement).dataset;
        return { axis: d["axis"]!, metric: d["metric"]!, threshold: Number(d["threshold"]), x: r.left + r.width / 2, y: r.top + r.height / 2, height: r.height, width: r.width };
      }),
    );
    expect(lines.map((l) => [l.axis, l.metric, l.threshold])).toEqual([
      ["x", "pde_mean", 18.09],
      ["y", "train_time_min", 60],
    ]);
    const [vertical, horizontal] = lines as [(typeof lines)[number], (typeof lines)[number]];
    expect(Math.abs(vertical.x - pixelOf(xTicks, 18.09))).toBeLessThan(1);
    expect(vertical.height).toBeGreaterThan(100);
    expect(Math.abs(horizontal.y - pixelOf(yTicks, 60))).toBeLessThan(1);
    expect(horizontal.width).toBeGreaterThan(100);
    // Both gates are "less than": the region left of the pde_mean line and below the time line.
    const region = await page.$eval("[data-testid=pass-region]", (el) => {
      const r = el.getBoundingClientRect();
      return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
    });
    expect(Math.abs(region.right - vertical.x)).toBeLessThan(1);
    expect(Math.abs(region.top - horizontal.y)).toBeLessThan(1);
    expect(Math.abs(region.left - xTicks[0]![1])).toBeLessThan(1);
    expect(Math.abs(region.bottom - yTicks[0]![1])).toBeLessThan(1);
    await page.close();
  });

  it("filters the table by brushing an axis of the parallel-coordinates plot", async () => {
    const { page, problems } = await openReport(browser, report.file);
    const axisTicks = await ticks(page, '[data-testid=parallel] .p-axis[data-metric="train_time_min"]', true);
    const x = await page.$eval('[data-testid=parallel] .p-axis[data-metric="train_time_min"] .domain', (el) => {
      const r = el.getBoundingClientRect();
      return r.left + r.width / 2;
    });
    // Values are odd whole minutes: brushing from 30 to 50 keeps 31 ... 49, with no value near an edge.
    await page.mouse.move(x, pixelOf(axisTicks, 30));
    await page.mouse.down();
    await page.mouse.move(x, pixelOf(axisTicks, 40), { steps: 4 });
    await page.mouse.move(x, pixelOf(axisTicks, 50), { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction(() => document.querySelector("[data-testid=row-count]")!.textContent!.includes("match"));
    const expected = report.data.ranking.results.filter((r) => {
      const v = r.metrics["train_time_min"];
      return typeof v === "number" && v > 30 && v < 50;
    });
    expect(expected.length).toBeGreaterThan(3);
    expect(await tableIds(page)).toEqual(expected.map((r) => r.id));
    await screenshot(page, "report-brushed");

    // The filter box and the brush both apply.
    await page.fill("[data-testid=filter]", "task1");
    expect(await tableIds(page)).toEqual(expected.filter((r) => (r.name ?? "").includes("task1")).map((r) => r.id));
    // A click on the axis outside the brush clears it.
    await page.fill("[data-testid=filter]", "");
    await page.mouse.click(x, pixelOf(axisTicks, 80));
    await page.waitForFunction((n) => window.expflowReport!.tableIds().length === n, report.data.ranking.results.length);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows Pareto fronts: FRONT in the table, the first front joined on the scatter plot at its points", async () => {
    // A trade-off: six runs each best on one side (the front), six just behind each of them.
    const tradeOff = Array.from({ length: 12 }, (_, i) => {
      const k = i % 6;
      const behind = i >= 6 ? 0.2 : 0;
      return record(`run-${i}`, { pde_mean: 14 + k * 0.3 + behind, train_time_min: 58 - k * 4 + behind * 5 });
    });
    const pareto = await makeReport(writeRegistry(tradeOff), ["--pareto", "pde_mean:min,train_time_min:min", ...GATES]);
    const { page, problems } = await openReport(browser, pareto.file);
    expect(problems).toEqual([]);
    expect(await page.textContent('th[data-key="rank"]')).toBe("FRONT");
    const front = pareto.data.ranking.results.filter((r) => r.rank === 1);
    expect(front.map((r) => r.id).sort()).toEqual(["run-0", "run-1", "run-2", "run-3", "run-4", "run-5"]);
    const xTicks = await ticks(page, "[data-testid=scatter] .x-axis", false);
    const yTicks = await ticks(page, "[data-testid=scatter] .y-axis", true);
    // The path's vertices, in page pixels: its points are in the SVG's user space, which starts at the SVG's corner.
    const vertices = await page.$eval("[data-testid=scatter] .front-line", (path) => {
      const box = (path as SVGPathElement).ownerSVGElement!.getBoundingClientRect();
      return path
        .getAttribute("d")!
        .slice(1)
        .split("L")
        .map((p) => p.split(",").map(Number))
        .map(([x, y]) => [box.left + x!, box.top + y!]);
    });
    const expected = front
      .map((r) => [pixelOf(xTicks, r.metrics["pde_mean"] as number), pixelOf(yTicks, r.metrics["train_time_min"] as number)])
      .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
    expect(vertices).toHaveLength(expected.length);
    vertices.forEach((v, i) => {
      expect(Math.abs(v[0]! - expected[i]![0]!)).toBeLessThan(1);
      expect(Math.abs(v[1]! - expected[i]![1]!)).toBeLessThan(1);
    });
    await screenshot(page, "report-pareto");
    await page.close();
  });

  it("plots the step history of picked runs, and of a run picked in the table", async () => {
    const { page, problems } = await openReport(browser, report.file);
    const withHistory = report.data.ranking.results.filter((r) => report.data.history.series[r.id] !== undefined).map((r) => r.id);
    expect(withHistory.length).toBeGreaterThan(3);
    const drawn = async (): Promise<string[]> => page.$$eval("[data-testid=history] .history-line", (els) => els.map((e) => (e as SVGElement).dataset["id"]!));
    // The first three rows with a history are picked at the start.
    expect(await drawn()).toEqual(withHistory.slice(0, 3));
    expect(await page.inputValue("[data-testid=history-metric]")).toBe("pde_mean");
    const fourth = withHistory[3]!;
    await page.fill("[data-testid=filter]", fourth);
    await page.check(`tr[data-id="${fourth}"] td[data-key=pick] input`);
    expect(await drawn()).toEqual(withHistory.slice(0, 4));
    // A run with no history cannot be picked.
    const without = report.data.ranking.results.find((r) => report.data.history.series[r.id] === undefined)!;
    await page.fill("[data-testid=filter]", without.id);
    expect(await page.isDisabled(`tr[data-id="${without.id}"] td[data-key=pick] input`)).toBe(true);
    await screenshot(page, "report-history");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("draws 10,000 experiments without an error, with only the rows in view in the document", async () => {
    const many = Array.from({ length: 10_000 }, (_, i) =>
      record(`exp-${i}`, { pde_mean: 12 + ((i * 7919) % 10007) / 1000, train_time_min: 5 + ((i * 104729) % 9973) / 100, seg_total: 30 + (i % 97) / 3 }),
    );
    const big = await makeReport(writeRegistry(many), ["--sort-by", "pde_mean", ...GATES]);
    const { page, problems, requests } = await openReport(browser, big.file);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    expect(await tableIds(page)).toHaveLength(10_000);
    expect(await page.locator("tbody tr[data-id]").count()).toBeLessThan(100);
    // Scrolled to the end, the last rows are drawn.
    await page.$eval(".table-scroll", (el) => el.scrollTo(0, el.scrollHeight));
    await page.waitForSelector(`tr[data-id="${big.data.ranking.results.at(-1)!.id}"]`);
    await screenshot(page, "report-10k");
    await page.close();
  });
});
