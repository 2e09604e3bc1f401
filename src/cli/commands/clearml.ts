import { metricRegistryOf } from "../../config/load.js";
import type { Experiment } from "../../core/experiment.js";
import { BackendError } from "../../core/errors.js";
import { STANDARD_METRICS } from "../../core/metrics/registry.js";
import { isClearmlFailure } from "../../app/backend.js";
import type { OpenClearml } from "../clearml.js";
import { openClearml } from "../clearml.js";
import type { CommandContext } from "../context.js";
import type { ClearmlCompareScoresOptions, ClearmlStatusOptions, ClearmlTasksOptions } from "../define/clearml.js";
import { formatOf } from "../context.js";
import { checkStatuses, filterOf } from "../filters.js";
import type { ClearmlStatusJson } from "../../contracts/clearml.js";
import { errorJsonOf } from "../output/error-json.js";
import { writeExperimentList } from "../output/experiment-list.js";
import type { Column } from "../output/render.js";
import { renderRows } from "../output/render.js";
import { chooseColumns } from "../output/column-choice.js";
import { tableWidth } from "../output/table-fit.js";
import { assertRankingFlags, rankStore } from "./compare-scores.js";

/** The `--json` contract of `expflow clearml status`: `ClearmlStatusSchema` in `src/contracts`. */
export type { ClearmlStatusJson };

/**
 * `expflow clearml status`: the server URL and where it came from, whether it answers, its API
 * version, and whether the credentials work (a login). Returns 0 when all works. Credentials are
 * never printed. With `--json` the {@link ClearmlStatusJson} object goes to standard output in
 * every case, a failure included.
 *
 * @throws {BackendError} (exit 4) after printing what is known: not configured, unreachable,
 *   credentials refused, server failing.
 */
export async function clearmlStatusCommand(flags: ClearmlStatusOptions, ctx: CommandContext): Promise<number> {
  const { stdout } = ctx.io;
  const out: ClearmlStatusJson = {
    configured: false,
    server: null,
    server_source: null,
    credentials_source: null,
    reachable: false,
    credentials_ok: false,
    version: null,
    api_version: null,
    error: null,
  };
  let opened: OpenClearml;
  try {
    opened = openClearml(ctx, flags);
  } catch (e) {
    // Not configured, or clearml.conf unreadable: nothing to report but that.
    if (flags.json && e instanceof BackendError) stdout.write(`${JSON.stringify({ ...out, error: errorJsonOf(e) })}\n`);
    throw e;
  }
  const { connection, client } = opened;
  out.configured = true;
  out.server = client.server;
  out.server_source = connection.sources.apiServer;
  out.credentials_source = connection.sources.credentials;
  let failure: unknown;
  try {
    await client.ping();
    out.reachable = true;
    await client.login();
    out.credentials_ok = true;
    const info = await client.call<{ version?: unknown; api_version?: unknown; build?: unknown }>("server.info");
    out.version = typeof info.version === "string" ? info.version : null;
    out.api_version = typeof info.api_version === "string" ? info.api_version : null;
  } catch (e) {
    if (!(e instanceof BackendError) && !isClearmlFailure(e)) throw e;
    failure = e;
    out.error = errorJsonOf(e);
    // A server that is not ClearML, or answers nothing, is not "reachable" in the sense that matters.
    if (e.code === "E_CLEARML_BAD_RESPONSE" && !out.credentials_ok) out.reachable = false;
  }
  if (flags.json) {
    stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    const c = ctx.colors;
    const yes = (t: string) => c.green(t);
    const no = (t: string) => c.red(t);
    const lines = [
      `${c.bold("Server")}       ${out.server} (from ${out.server_source})`,
      `${c.bold("Reachable")}    ${out.reachable ? yes("yes") : no("no")}`,
      `${c.bold("Credentials")}  ${out.credentials_ok ? yes("work") : out.reachable ? no("refused") : "not checked"} (from ${out.credentials_source})`,
    ];
    if (out.api_version !== null || out.version !== null) lines.push(`${c.bold("API version")}  ${out.api_version ?? "unknown"} (server ${out.version ?? "unknown"})`);
    stdout.write(`${lines.join("\n")}\n`);
  }
  // The report says what works; the error (printed by the CLI as usual) says what does not.
  if (failure !== undefined) throw failure;
  return 0;
}

/**
 * `expflow clearml compare-scores --project P ...`: the local command's ranking, gates, output
 * and exit codes over the tasks of a ClearML project, plus exit 4 for backend failures.
 */
export async function clearmlCompareScoresCommand(flags: ClearmlCompareScoresOptions, ctx: CommandContext): Promise<number> {
  // A ranking that cannot be asked is refused before the connection is even resolved.
  assertRankingFlags(flags, "clearml compare-scores");
  const config = await ctx.config();
  const registry = metricRegistryOf(config);
  // A ranking never reads parameters: leave them out of the listing.
  const clearml = openClearml(ctx, flags, { listParams: false });
  try {
    return await rankStore(clearml.store, flags, ctx, registry, { onListed: clearml.done, command: "clearml compare-scores" });
  } finally {
    clearml.done();
  }
}

function finiteOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * `expflow clearml tasks --project P`: the project's tasks, oldest first, with their status
 * (lifecycle and ClearML's) and the standard metrics any of them reports. `--json` prints the
 * contract's experiment list (`ExperimentListSchema`: `{"location", "experiments"}`, as
 * `run list --json` does). Returns 0.
 */
export async function clearmlTasksCommand(flags: ClearmlTasksOptions, ctx: CommandContext): Promise<number> {
  const clearml = openClearml(ctx, flags);
  const statuses = flags.status ?? [];
  let tasks: Experiment[];
  try {
    tasks = await clearml.store.list(filterOf(flags));
  } finally {
    clearml.done();
  }
  checkStatuses(statuses, tasks, clearml.store.statuses);
  const createdMs = (t: Experiment): number => {
    const ms = t.created === null ? Number.NaN : Date.parse(t.created);
    return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
  };
  tasks.sort((a, b) => createdMs(a) - createdMs(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const format = formatOf(flags);
  const { stdout } = ctx.io;
  if (format === "json") {
    writeExperimentList(clearml.store.location, tasks, (t) => stdout.write(t));
    return 0;
  }
  const reported = new Set<string>();
  for (const t of tasks) for (const k of Object.keys(t.metrics)) reported.add(k);
  const metricCols = STANDARD_METRICS.map((m) => m.name).filter((m) => reported.has(m));
  const metricColumn = (m: string): Column<Experiment> => ({ header: m, key: m, get: (t) => finiteOrNull(t.metrics[m]), align: "right" });
  // To fit a terminal the name is cut, then the ClearML status, created, the metrics (the last
  // first), archived and status are left out; the id and the name always stay.
  const columns: Column<Experiment>[] = [
    { header: "ID", key: "id", get: (t) => t.id },
    { header: "NAME", key: "name", get: (t) => t.name, maxWidth: 40, shrink: { min: 20, order: 1 } },
    { header: "STATUS", key: "status", get: (t) => t.status, drop: 90 },
    { header: "CLEARML STATUS", key: "clearml_status", get: (t) => t.backendStatus ?? null, drop: 10 },
    { header: "CREATED", key: "created", get: (t) => t.created, drop: 20 },
    ...metricCols.map((m): Column<Experiment> => ({ ...metricColumn(m), drop: 70 })),
  ];
  if (tasks.some((t) => t.archived === true)) columns.push({ header: "ARCHIVED", key: "archived", get: (t) => (t.archived ? "yes" : null), drop: 80 });
  const cols = chooseColumns("clearml tasks", columns, flags.columns, {
    describe: "a metric the tasks report",
    make: (key) => (tasks.some((t) => Object.hasOwn(t.metrics, key)) ? metricColumn(key) : undefined),
  });
  if (format === "table") {
    const table = { width: tableWidth(stdout, ctx.io.env), wide: flags.wide === true, keepAll: flags.columns !== undefined };
    if (tasks.length > 0) stdout.write(renderRows("table", tasks, cols, ctx.colors, table));
    stdout.write(`${tasks.length} task${tasks.length === 1 ? "" : "s"} in ${flags.project} on ${clearml.client.server}.\n`);
  } else {
    stdout.write(renderRows(format, tasks, cols, ctx.colors));
  }
  return 0;
}
