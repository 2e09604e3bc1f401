#!/usr/bin/env node
// Makes docs/report.png, the README's picture of a report: `expflow report` on the bundled example
// (dist/ must be built: `npm run build`), opened in headless Chromium (Debian's) with playwright-core.
// Run: node scripts/report-screenshot.mjs
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const tmp = mkdtempSync(join(os.tmpdir(), "expflow-shot-"));
try {
  // Written in the repository as report.html (as a reader would make it), then removed.
  const file = join(ROOT, "report.html");
  const args = ["report", "--html", "report.html", "--registry", "examples/experiments.jsonl", "--sort-by", "pde_mean", "--use-thresholds", "--title", "PDEBench sweep"];
  const r = spawnSync(process.execPath, [join(ROOT, "dist", "cli.js"), ...args], { cwd: ROOT, env: { ...process.env, EXPFLOW_HOME: join(tmp, "home") }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`expflow report failed (exit ${r.status}): ${r.stderr}`);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`file://${file}`);
  await page.waitForSelector("body[data-ready=true]");
  mkdirSync(join(ROOT, "docs"), { recursive: true });
  const out = join(ROOT, "docs", "report.png");
  await page.screenshot({ path: out, fullPage: true });
  await browser.close();
  console.log(`wrote ${out}`);
} finally {
  rmSync(join(ROOT, "report.html"), { force: true });
  rmSync(tmp, { recursive: true, force: true });
}
