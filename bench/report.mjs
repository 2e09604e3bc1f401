// The HTML report's benchmark (part of `npm run bench`): `expflow report` on a generated registry
// of BENCH_REPORT_EXPERIMENTS experiments (every one ranked: `--status` with every state), then the
// page opened from its file in headless Chromium (Debian's, driven by playwright-core) and used:
// a sort, a filter, a brush. Reports medians; asserts nothing.
/* global document, window -- the callbacks of page.evaluate run in the page */
import { spawnSync } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateRegistry } from "./generate.mjs";

const CHROMIUM = process.env.BENCH_CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { n: s.length, median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s.at(-1) };
}

/** Pixel of `value` on an axis from its first and last ticks (their d3 datum and drawn position). */
async function axisPixel(page, selector, value) {
  return page.$$eval(
    `${selector} .tick`,
    (els, v) => {
      const t = els.map((e) => [e.__data__, e.querySelector("line").getBoundingClientRect()]);
      const [v0, r0] = t[0];
      const [v1, r1] = t.at(-1);
      const p0 = r0.top + r0.height / 2;
      const p1 = r1.top + r1.height / 2;
      return p0 + ((v - v0) * (p1 - p0)) / (v1 - v0);
    },
    value,
  );
}

/**
 * Runs the report benchmark.
 *
 * @returns {Promise<object>} the figures, or `{ skipped: reason }` when Chromium is missing.
 */
export async function benchReport({ tmp, env, cli, node, experiments, runs, log }) {
  const registry = join(tmp, "report-registry.jsonl");
  const gen = generateRegistry(experiments, 20261201);
  writeFileSync(registry, gen.text);
  const file = join(tmp, "report.html");
  const args = [cli, "report", "--html", file, "--registry", registry, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--gate", "train_time_min:lt:60", "--status", "completed,failed,running"];

  log(`report: ${runs} runs of \`expflow report\` on ${experiments.toLocaleString("en-US")} experiments `);
  const make = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(node, args, { cwd: tmp, env, encoding: "utf8" });
    const t1 = process.hrtime.bigint();
    if (r.status !== 0 && r.status !== 1) throw new Error(`expflow report failed (exit ${r.status}):\n${r.stderr}`);
    if (i > 0) make.push(Number(t1 - t0) / 1e6);
    log(".");
  }
  log("\n");
  const bytes = statSync(file).size;

  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (e) {
    return { skipped: `playwright-core cannot be loaded (${e.message})`, make: stats(make), bytes, registryBytes: gen.bytes };
  }
  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  } catch (e) {
    return { skipped: `Chromium cannot be started from ${CHROMIUM} (${e.message.split("\n")[0]})`, make: stats(make), bytes, registryBytes: gen.bytes };
  }
  const open = [];
  const render = [];
  const sort = [];
  const filter = [];
  const brush = [];
  const heap = [];
  let problems = [];
  let requests = 0;
  log(`report: ${runs} openings in headless Chromium `);
  try {
    for (let i = 0; i < runs + 1; i++) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      page.on("pageerror", (e) => problems.push(e.message));
      page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
      page.on("request", (r) => r.url() !== `file://${file}` && requests++);
      const t0 = performance.now();
      await page.goto(`file://${file}`);
      await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
      const opened = performance.now() - t0;
      // Time inside the page for a sort and a filter (both redraw the table synchronously).
      const sortMs = await page.evaluate(() => {
        const b = document.querySelector('th[data-key="metric:train_time_min"] button');
        const t = performance.now();
        b.click();
        return performance.now() - t;
      });
      const filterMs = await page.evaluate(() => {
        const input = document.querySelector("[data-testid=filter]");
        const t = performance.now();
        input.value = "exp-a";
        input.dispatchEvent(new Event("input"));
        const ms = performance.now() - t;
        input.value = "";
        input.dispatchEvent(new Event("input"));
        return ms;
      });
      // A brush on train_time_min, from the mouse-down to the table's new count (one animation frame).
      const axis = '[data-testid=parallel] .p-axis[data-metric="train_time_min"]';
      const x = await page.$eval(`${axis} .domain`, (el) => {
        const r = el.getBoundingClientRect();
        return r.left + r.width / 2;
      });
      const y0 = await axisPixel(page, axis, 20);
      const y1 = await axisPixel(page, axis, 40);
      const before = await page.textContent("[data-testid=row-count]");
      const b0 = performance.now();
      await page.mouse.move(x, y0);
      await page.mouse.down();
      await page.mouse.move(x, y1, { steps: 2 });
      await page.mouse.up();
      await page.waitForFunction((text) => document.querySelector("[data-testid=row-count]").textContent !== text, before);
      const brushMs = performance.now() - b0;
      const cdp = await page.context().newCDPSession(page);
      await cdp.send("Performance.enable");
      const { metrics } = await cdp.send("Performance.getMetrics");
      const used = metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0;
      if (i > 0) {
        open.push(opened);
        render.push(await page.evaluate(() => window.expflowReport.renderMs));
        sort.push(sortMs);
        filter.push(filterMs);
        brush.push(brushMs);
        heap.push(used / 1024 / 1024);
      }
      await page.close();
      log(".");
    }
  } finally {
    await browser.close();
    log("\n");
  }
  return {
    experiments,
    registryBytes: gen.bytes,
    bytes,
    make: stats(make),
    open: stats(open),
    render: stats(render),
    sort: stats(sort),
    filter: stats(filter),
    brush: stats(brush),
    heapMiB: stats(heap),
    problems,
    requests,
    chromium: spawnSync(CHROMIUM, ["--version"], { encoding: "utf8" }).stdout.trim(),
  };
}
