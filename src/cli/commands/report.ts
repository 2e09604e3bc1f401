import { closeSync, existsSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import pageScript from "virtual:report-page";
import type { ReportStore } from "../../app/report.js";
import { buildReport } from "../../app/report.js";
import { metricRegistryOf } from "../../config/load.js";
import { UsageError } from "../../core/errors.js";
import { renderReportHtml } from "../../report/html.js";
import { replaceFileAtomic, writeAll } from "../../util/atomic-file.js";
import { storageError } from "../../util/fs-errors.js";
import { shellQuote } from "../../util/shell.js";
import { openLocal } from "../backend.js";
import type { CommandContext } from "../context.js";
import type { ReportOptions } from "../define/report.js";
import { printable, unguarded } from "../output/sanitize.js";
import { assertRankingFlags, rankRequestOf, selectionNote, verdictLine } from "./compare-scores.js";

/** The options that make the report, in the order the page shows them, to make it again. */
const SHOWN_OPTIONS: readonly (readonly [keyof ReportOptions, string])[] = [
  ["html", "--html"],
  ["clearml", "--clearml"],
  ["registry", "--registry"],
  ["project", "--project"],
  ["tags", "--tags"],
  ["anyTag", "--any-tag"],
  ["status", "--status"],
  ["includeArchived", "--include-archived"],
  ["includeSubprojects", "--include-subprojects"],
  ["sortBy", "--sort-by"],
  ["pareto", "--pareto"],
  ["ascending", "--ascending"],
  ["descending", "--descending"],
  ["thenBy", "--then-by"],
  ["gate", "--gate"],
  ["useThresholds", "--use-thresholds"],
  ["onlyPassing", "--only-passing"],
  ["max", "--max"],
  ["x", "--x"],
  ["y", "--y"],
  ["axes", "--axes"],
  ["history", "--history"],
  ["title", "--title"],
];

/** The command line that makes this report again, from the options as parsed. */
export function reportCommandLine(flags: ReportOptions): string {
  const words = ["expflow", "report"];
  const commaJoined = new Set(["tags", "status", "axes"]);
  for (const [key, flag] of SHOWN_OPTIONS) {
    const v = (flags as Record<string, unknown>)[key];
    if (v === undefined || v === false) continue;
    if (v === true) words.push(flag);
    else if (Array.isArray(v)) {
      if (commaJoined.has(key)) words.push(flag, shellQuote(v.join(",")));
      else for (const item of v) words.push(flag, shellQuote(String(item)));
    } else words.push(flag, shellQuote(String(v)));
  }
  return words.join(" ");
}

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Whether the file at `path` is a report expflow wrote (or is empty): the only files a report replaces. */
function isReplaceable(path: string): boolean {
  if (statSync(path).size === 0) return true;
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    const text = head.subarray(0, n).toString("latin1");
    return /^<!doctype html>/i.test(text) && text.includes('<meta name="generator" content="expflow ');
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses, before anything is read, a destination that cannot or must not be written: a
 * directory; a path whose directory does not exist; a place in expflow's home (the registry, the
 * PIN's hash and the audit log live there); an existing file that is not an earlier report (a
 * registry named by mistake, a script): a report replaces only a report. Permissions and a full
 * disk are found at the write.
 */
function checkDestination(path: string, home: string): void {
  const exists = existsSync(path);
  if (exists && statSync(path).isDirectory()) {
    throw new UsageError("E_IS_DIRECTORY", `${path} is a directory, not a file`, { hint: "name the HTML file to write, e.g. --html report.html" });
  }
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError("E_NO_DIRECTORY", `the directory ${dir} of ${path} does not exist`, { hint: "create the directory first, or name another path" });
  }
  const realDir = realpathSync(dir);
  const realHome = existsSync(home) ? realpathSync(home) : resolve(home);
  const rel = relative(realHome, realDir);
  if (rel === "" || (!rel.startsWith("..") && !isAbsolute(rel))) {
    throw new UsageError("E_REPORT_DESTINATION", `${path} is in expflow's home (${home}), which holds the registry, the PIN's hash and the audit log: a report is not written there`, {
      hint: "write the report somewhere else, e.g. --html report.html",
    });
  }
  if (exists && (!statSync(path).isFile() || !isReplaceable(path))) {
    throw new UsageError("E_FILE_EXISTS", `${path} exists and is not an expflow report: it is not replaced`, { hint: "remove it first, or name another file" });
  }
}

function checkCombinations(flags: ReportOptions): void {
  if (flags.clearml) {
    if (flags.registry !== undefined) throw new UsageError("E_USAGE", "--registry names a local registry; --clearml ranks a ClearML project instead: pass one of them");
    if (flags.project === undefined) throw new UsageError("E_USAGE", "--clearml needs --project: the ClearML project to rank", { hint: "e.g. expflow report --clearml --project PDEBench --sort-by pde_mean --html report.html" });
  } else {
    const only = flags.anyTag ? "--any-tag" : flags.includeSubprojects ? "--include-subprojects" : undefined;
    if (only !== undefined) throw new UsageError("E_USAGE", `${only} applies to ClearML projects: pass it with --clearml`);
  }
}

/**
 * `expflow report --html FILE`: ranks like `compare-scores` (the same application function, so the
 * same options mean the same) and writes the ranking, its plots and its summary as one
 * self-contained HTML page, atomically: a report that fails leaves no file, or the old one.
 * Returns the verdict's exit code: 0 when at least one experiment passes, 1 when none does.
 */
export async function reportCommand(flags: ReportOptions, ctx: CommandContext): Promise<number> {
  assertRankingFlags(flags, "report");
  checkCombinations(flags);
  const toStdout = flags.html === "-";
  const path = toStdout ? "-" : isAbsolute(flags.html) ? flags.html : join(ctx.io.cwd, flags.html);
  const config = await ctx.config({ registry: flags.registry });
  if (!toStdout) checkDestination(path, config.home);
  const registry = metricRegistryOf(config);
  const request = {
    ...rankRequestOf(flags),
    x: flags.x,
    y: flags.y,
    axes: flags.axes,
    historyRuns: flags.history,
    title: flags.title,
  };
  const context = { now: new Date(), version: __EXPFLOW_VERSION__, command: reportCommandLine(flags) };

  let report;
  let fresh = false;
  if (flags.clearml) {
    const { openClearml } = await import("../clearml.js");
    const clearml = openClearml(ctx, flags, { listParams: false });
    try {
      report = await buildReport(clearml.store, request, registry, { ...context, kind: "clearml" }, { onListed: clearml.done });
    } finally {
      clearml.done();
    }
  } else {
    const { store } = await openLocal(ctx, { registry: flags.registry });
    // A fresh home has no registry file yet: an empty report, as compare-scores ranks nothing.
    fresh = config.registry.source === "default" && !existsSync(store.location);
    const source: ReportStore = fresh ? { location: store.location, list: async () => [] } : store;
    report = await buildReport(source, request, registry, { ...context, kind: "local" });
  }

  const html = renderReportHtml(report.data, pageScript);
  const { result } = report.ranking;
  const history = report.data.history.runs === 0 ? "no step history read." : `step history of ${Object.keys(report.data.history.series).length} of the top ${report.data.history.runs}.`;
  // The ranking's summary as compare-scores words it, then what the page holds of history.
  const line = `${verdictLine(result, registry)} ${history[0]!.toUpperCase()}${history.slice(1)}`;
  if (toStdout) {
    // The document is ASCII with no control character (renderReportHtml escapes the rest).
    unguarded(ctx.io.stdout).write(html);
    ctx.io.stderr.write(`wrote the report to standard output (${sizeText(Buffer.byteLength(html))}): ${line}\n`);
  } else {
    try {
      replaceFileAtomic(path, (fd) => writeAll(fd, html));
    } catch (e) {
      throw storageError(e, path);
    }
    ctx.io.stdout.write(`wrote ${printable(flags.html)} (${sizeText(Buffer.byteLength(html))}): ${line}\n`);
  }
  if (report.cut > 0) ctx.warn(`the page holds the first ${result.results.length.toLocaleString("en-US")} rows of ${(result.results.length + report.cut).toLocaleString("en-US")}; choose them with --max or --only-passing`);
  const note = selectionNote(result.selection);
  if (note !== null) ctx.io.stderr.write(`${note}\n`);
  if (fresh) ctx.warn(`no experiments yet in ${report.ranking.location}; submit one with \`expflow run submit\``);
  else if (report.ranking.listed === 0) ctx.warn(`no experiments match the selection in ${report.ranking.location}`);
  return report.ranking.passed ? 0 : 1;
}
