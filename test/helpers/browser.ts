import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { ROOT } from "./cli.js";

/** Debian's Chromium, which `.ci/run` installs with apt-get where it is missing. */
export const CHROMIUM = process.env["EXPFLOW_TEST_CHROMIUM"] ?? "/usr/bin/chromium";

/** Where the browser tests write their screenshots, for people to look at (not committed). */
export const SCREENSHOTS = join(ROOT, "test-output", "report");

/**
 * Starts headless Chromium with no network of its own (no background connections, no QUIC). A
 * missing Chromium is an error, never a skip: the browser tests pass only by running.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not at ${CHROMIUM}: the browser tests need it (apt-get install chromium, as .ci/run does); they do not skip`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A page opened on a report, with everything it printed as an error and every request it made. */
export interface OpenedReport {
  readonly page: Page;
  /** Console errors and warnings, uncaught exceptions, dialogs: each one a test failure. */
  readonly problems: string[];
  /** Every request but the report's own file. */
  readonly requests: string[];
}

/** Opens `file` (an HTML report) in a new page of `browser` and waits until it has drawn. */
export async function openReport(browser: Browser, file: string, viewport = { width: 1400, height: 1000 }): Promise<OpenedReport> {
  const page = await browser.newPage({ viewport });
  const problems: string[] = [];
  const requests: string[] = [];
  const url = `file://${file}`;
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  page.on("dialog", (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on("request", (r) => {
    if (r.url() !== url) requests.push(r.url());
  });
  // Anything but the file itself is refused, so a request could not succeed even unnoticed.
  await page.route("**/*", (route) => (route.request().url() === url ? route.continue() : route.abort()));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
  return { page, problems, requests };
}

/** Saves a screenshot of the page under {@link SCREENSHOTS}. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
