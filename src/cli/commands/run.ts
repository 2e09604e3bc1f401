import type { Experiment } from "../../core/experiment.js";
import type { ArchiveEvent } from "../../core/lifecycle/lifecycle.js";
import type { MetricDefinition, MetricRegistry } from "../../core/metrics/registry.js";
import type { MetricHistory } from "../../core/metrics/history.js";
import { bestValue, readMetricHistory } from "../../core/metrics/history.js";
import { declareMetricCommand } from "../output/terminal-words.js";
import type { CommandContext } from "../context.js";
import type { RunArchiveOptions, RunListOptions, RunStatusOptions } from "../define/run.js";
import { formatOf } from "../context.js";
import type { Colors } from "../output/color.js";
import { writeExperimentList } from "../output/experiment-list.js";
import type { Column } from "../output/render.js";
import { formatNumber, renderRows, renderTable } from "../output/render.js";
import { chooseColumns } from "../output/column-choice.js";
import { tableWidth } from "../output/table-fit.js";
import { printable } from "../output/sanitize.js";
import type { LocalBackend } from "../../app/backend.js";
import type { RegistryRecord, RunRow } from "../../app/runs.js";
import { archiveRun, experimentFromRecord, linkOf, listRuns, plainObject, runRecord } from "../../app/runs.js";
import { openLocal } from "../backend.js";
import { plural } from "../../core/number-text.js";

/** One row of `run list`: the raw latest record and its normalised form. */
export type { RunRow };

function finiteMetric(e: Experiment, name: string): number | null {
  const v = e.metrics[name];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function text(v: unknown): string | null {
  if (typeof v === "string") return v === "" ? null : v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return null;
}

/**
 * The columns of `run list`: the same spec feeds the table, CSV and Markdown. The key metrics
 * are the registered metrics that have a threshold (`pde_mean`, `train_time_min` by default);
 * `archived` is shown only when archived runs are. To fit a terminal, tags, project and name
 * are cut (in that order), then `updated_at`, `queue`, `created`, `tags`, `project`, the key
 * metrics (the last first), `archived` and `status` are left out (in that order); `id` and
 * `name` always stay.
 */
export function runListColumns(keyMetrics: readonly MetricDefinition[], showArchived: boolean, forCsv = false): Column<RunRow>[] {
  const cols: Column<RunRow>[] = [
    { header: "ID", key: "id", get: (r) => r.experiment.id },
    { header: "NAME", key: "name", get: (r) => r.experiment.name, maxWidth: 36, shrink: { min: 20, order: 3 } },
    { header: "STATUS", key: "status", get: (r) => r.experiment.status, paint: (r, t, c) => paintStatus(r.experiment.status, t, c), drop: 90 },
    { header: "QUEUE", key: "queue", get: (r) => text(r.record.queue), drop: 20 },
    { header: "PROJECT", key: "project", get: (r) => r.experiment.project, maxWidth: 24, shrink: { min: 10, order: 2 }, drop: 50 },
    { header: "TAGS", key: "tags", get: (r) => (r.experiment.tags.length > 0 ? r.experiment.tags.join(",") : null), maxWidth: 30, shrink: { min: 10, order: 1 }, drop: 40 },
    { header: "CREATED", key: "created", get: (r) => r.experiment.created, drop: 30 },
    { header: "UPDATED", key: "updated_at", get: (r) => text(r.record.updated_at), drop: 10 },
    // Same rank: the later metric goes first.
    ...keyMetrics.map((m): Column<RunRow> => ({ header: m.name, key: m.name, get: (r) => finiteMetric(r.experiment, m.name), align: "right", drop: 70 })),
  ];
  if (showArchived) {
    cols.push({ header: "ARCHIVED", key: "archived", get: (r) => (r.experiment.archived === true ? (forCsv ? "true" : "yes") : forCsv ? "false" : null), drop: 80 });
  }
  return cols;
}

function paintStatus(status: string, t: string, c: Colors): string {
  if (status === "completed") return c.green(t);
  if (status === "failed") return c.red(t);
  if (status === "cancelled") return c.dim(t);
  if (status === "running") return c.yellow(t);
  return t;
}

/** Writes the records as one JSON array, in batches, so a large listing never needs its whole text at once. */
function writeJsonArray(items: readonly string[], write: (text: string) => unknown, batch = 1000): void {
  write("[");
  for (let i = 0; i < items.length; i += batch) {
    write((i === 0 ? "" : ",") + items.slice(i, i + batch).join(","));
  }
  write("]\n");
}

/**
 * `expflow run list`: the latest snapshot of every run, in order of first appearance (or
 * `--sort-by`, reversed by `--descending`), filtered (`--project`, `--tags`, `--status`,
 * `--since`), at most `--limit`. Reads the registry once. Archived runs are left out unless
 * `--include-archived`; deleted (tombstoned) runs never appear. `--json` prints the contract's
 * experiment list (`ExperimentListSchema`: `{"location", "experiments"}`, as `clearml tasks
 * --json` does); `--raw` prints the raw latest records as one array, as written; the selection
 * and order are the same in every format. The table fits the terminal (see `renderTable`);
 * `--columns` chooses its columns (and CSV's and Markdown's). The default registry that does not
 * exist yet (a fresh home) lists as empty: "No experiments yet".
 * Returns 0, also when nothing matches (a listing is not a verdict).
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` when a registry named by `--registry`,
 *   `EXPFLOW_REGISTRY` or a config file does not exist (a typo must not look like an empty registry).
 * @throws {UsageError} `E_UNKNOWN_STATUS` for a `--status` that is neither a lifecycle state
 *   nor the status of a selected run; `E_UNKNOWN_METRIC` for a `--sort-by` that is neither a
 *   column nor a metric; `E_USAGE` for a `--columns` naming no column or an unknown one.
 */
export async function runListCommand(flags: RunListOptions, ctx: CommandContext): Promise<number> {
  const config = await ctx.config({ registry: flags.registry });
  const backend = await openLocal(ctx, { registry: flags.registry, verbose: flags.verbose });
  const format = flags.raw ? "json" : formatOf(flags);
  const now = Date.now();
  // Clamped to the earliest time a Date holds: `999999999w` means "any time".
  const since = flags.since === undefined ? undefined : new Date(Math.max(-8.64e15, "at" in flags.since ? flags.since.at : now - flags.since.ago));
  if (since !== undefined && since.getTime() > now) ctx.warn(`--since ${since.toISOString()} is in the future: no run was created since`);
  // Raw records are printed as their lines were written: no second serialisation.
  const listing = await listRuns(
    backend,
    { project: flags.project, tags: flags.tags, includeArchived: flags.includeArchived === true, statuses: flags.status, since },
    {
      keepText: flags.raw === true,
      refresh: flags.offline !== true,
      warn: ctx.warn,
      order: { sortBy: flags.sortBy, ascending: flags.ascending ? true : flags.descending ? false : undefined, limit: flags.limit },
      // A fresh home has no registry yet; one named by the user that does not exist is a typo.
      missingIsEmpty: config.registry.source === "default",
    },
  );
  const { rows } = listing;
  const elsewhere = listing.refresh?.otherServer ?? [];
  if (elsewhere.length > 0) {
    ctx.warn(`${elsewhere.length} run${elsewhere.length === 1 ? " is" : "s are"} linked to another ClearML server (${[...new Set(elsewhere.map((o) => o.server))].map((x) => printable(x)).join(", ")}), shown as last synced`);
  }
  const { hiddenArchived } = listing;

  const { stdout } = ctx.io;
  if (format === "json") {
    const write = (t: string): unknown => stdout.write(t);
    if (flags.raw) {
      writeJsonArray(
        rows.map((r) => listing.texts.get(r.experiment.id) ?? JSON.stringify(r.record)),
        write,
      );
    } else {
      writeExperimentList(
        backend.path,
        rows.map((r) => r.experiment),
        write,
      );
    }
    return 0;
  }
  const keyMetrics = backend.metrics.list().filter((m) => m.threshold !== null);
  const metricColumn = (key: string): Column<RunRow> | undefined => {
    const name = backend.metrics.get(key)?.name ?? (rows.some((r) => Object.hasOwn(r.experiment.metrics, key)) ? key : undefined);
    return name === undefined ? undefined : { header: name, key: name, get: (r) => finiteMetric(r.experiment, name), align: "right" };
  };
  const cols = chooseColumns("run list", runListColumns(keyMetrics, flags.includeArchived === true, format === "csv"), flags.columns, {
    describe: "a metric (registered, or that a run reports)",
    make: metricColumn,
  });
  if (format !== "table") {
    stdout.write(renderRows(format, rows, cols, ctx.colors));
    return 0;
  }
  if (rows.length > 0) stdout.write(renderTable(rows, cols, ctx.colors, { width: tableWidth(stdout, ctx.io.env), wide: flags.wide === true, keepAll: flags.columns !== undefined }));
  const hidden = hiddenArchived > 0 ? `; ${plural(hiddenArchived, "archived run")} hidden (--include-archived shows them)` : "";
  if (rows.length === 0) {
    stdout.write(listing.total === 0 ? `No experiments yet in ${backend.path}; submit one with \`expflow run submit\`.\n` : `No runs match in ${backend.path}${hidden}.\n`);
    return 0;
  }
  const count = listing.matched > rows.length ? `${rows.length} of ${plural(listing.matched, "run")} (--limit ${rows.length})` : plural(rows.length, "run");
  const by = listing.sortedBy === undefined ? "" : `, by ${printable(listing.sortedBy.field)}, ${listing.sortedBy.ascending ? "ascending" : "descending"}`;
  stdout.write(`${count}${by}${hidden}.\n`);
  return 0;
}

function thresholdText(def: MetricDefinition | undefined): string | null {
  if (def === undefined || def.threshold === null) return null;
  return `${def.direction === "lower" ? "<" : ">"} ${formatNumber(def.threshold)}`;
}

function valueText(v: unknown): string | number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The human view of one record: key fields, a metrics table, params and history lines. */
export function renderRunStatus(record: RegistryRecord, metrics: MetricRegistry, c: Colors): string {
  const e = experimentFromRecord(record, record.experiment_id);
  const out: string[] = [];
  const command = Array.isArray(record.command) ? record.command.join(" ") : text(record.command);
  const rev = typeof record.rev === "number" ? ` (rev ${record.rev})` : "";
  const fields: [string, string | null][] = [
    ["id", e.id],
    ["name", e.name],
    ["status", `${paintStatus(e.status, printable(e.status), c)}${e.archived === true ? " (archived)" : ""}`],
    ["project", e.project],
    ["tags", e.tags.length > 0 ? e.tags.join(", ") : null],
    ["queue", text(record.queue)],
    ["method", text(record.method)],
    ["command", command],
    ["created", e.created],
    ["updated", text(record.updated_at) === null ? null : `${text(record.updated_at)}${rev}`],
    ["clearml task", text(record.clearml_task_id)],
    ...clearmlLines(record),
  ];
  // The status is painted, so it is made printable before; every other value here.
  for (const [label, value] of fields) if (value !== null) out.push(`${c.bold(label.padEnd(13))}${label === "status" ? value : printable(value)}`);

  out.push("", ...metricsLines(record, e.metrics, e.status, metrics, c));

  const params = Object.entries(e.params);
  out.push("", c.bold("Params"));
  if (params.length === 0) out.push("  (none)");
  else for (const [k, v] of params) out.push(`  ${printable(k)} = ${printable(String(v))}`);

  out.push("", c.bold("History"));
  const history = Array.isArray(record.history) ? record.history : [];
  if (history.length === 0) out.push("  (no history recorded: written before expflow kept one, or by the earlier tool)");
  for (const h of history) out.push(`  ${printable(historyLine(h))}`);
  return `${out.join("\n")}\n`;
}

/** Rejected entries shown by `run status` (`--json` has them all). */
const REJECTED_SHOWN = 5;

/**
 * The metrics part of `run status`: for each metric its last value, its best by its direction,
 * how many values the run reported (from `metric_history`, which the runner keeps while the run
 * goes), its threshold, and a note for custom metrics (not registered: no direction, so no
 * best); then the entries the registry refused.
 */
function metricsLines(record: RegistryRecord, values: Readonly<Record<string, unknown>>, status: string, metrics: MetricRegistry, c: Colors): string[] {
  const history = plainObject(record["metric_history"]) ?? {};
  const historyOf = (n: string): MetricHistory | undefined => (Object.hasOwn(history, n) ? readMetricHistory(history[n]) : undefined);
  const names = [...new Set([...Object.keys(values), ...Object.keys(history).filter((n) => historyOf(n) !== undefined)])];
  const live = status === "running" && names.some((n) => historyOf(n) !== undefined);
  const out = [c.bold(live ? `Metrics (live, as of ${printable(text(record.updated_at) ?? "the last snapshot")})` : "Metrics")];
  if (names.length === 0) out.push(`  (none reported${status === "running" ? " yet" : ""})`);
  else {
    // Registered metrics in registry order first, then the others as recorded.
    const order = new Map(metrics.list().map((m, i) => [m.name, i]));
    const sorted = [...names].sort((a, b) => (order.get(a) ?? Infinity) - (order.get(b) ?? Infinity));
    const recorded = (n: string): number | undefined => {
      const v = Object.hasOwn(values, n) ? values[n] : undefined;
      return typeof v === "number" && Number.isFinite(v) ? v : undefined;
    };
    const last = (n: string): string | number | null => (Object.hasOwn(values, n) ? valueText(values[n]) : (historyOf(n)?.last ?? null));
    const cols: Column<string>[] = [
      { header: "METRIC", get: (n) => n },
      { header: "LAST", get: last, align: "right" },
      { header: "BEST", get: (n) => bestValue(metrics.definitionOf(n)?.direction, historyOf(n), recorded(n)) ?? null, align: "right" },
      { header: "STEPS", get: (n) => historyOf(n)?.count ?? null, align: "right" },
      { header: "THRESHOLD", get: (n) => thresholdText(metrics.get(n)) },
      { header: "NOTE", get: (n) => (metrics.definitionOf(n) === undefined ? "custom" : null) },
    ];
    out.push(
      ...renderTable(sorted, cols, c)
        .trimEnd()
        .split("\n")
        .map((l) => `  ${l}`),
    );
    const custom = sorted.filter((n) => metrics.definitionOf(n) === undefined);
    if (custom.length > 0) {
      out.push(printable(`  custom: not a registered metric, kept as reported; no direction, so no best. To rank by one best-first, ${declareMetricCommand(custom.length === 1 ? custom[0] : undefined)}`));
    }
  }
  const rejected = Array.isArray(record["rejected_metrics"]) ? (record["rejected_metrics"] as unknown[]) : [];
  if (rejected.length > 0) {
    out.push(`  ${rejected.length} entr${rejected.length === 1 ? "y" : "ies"} refused:`);
    for (const r of rejected.slice(0, REJECTED_SHOWN)) {
      const o = plainObject(r) ?? {};
      const name = typeof o["name"] === "string" ? `'${o["name"]}'` : "entry";
      out.push(`    ${printable(`${name} (${JSON.stringify(o["value"] ?? null)}): ${typeof o["reason"] === "string" ? o["reason"] : "?"}`)}`);
    }
    if (rejected.length > REJECTED_SHOWN) out.push(`    ... ${rejected.length - REJECTED_SHOWN} more (\`expflow run status ID --json\` shows them all, as rejected_metrics)`);
  }
  return out;
}

/** What the record keeps of its ClearML task: server, link, and ClearML's own status words as last synced. */
function clearmlLines(record: RegistryRecord): [string, string | null][] {
  if (text(record.clearml_task_id) === null) return [];
  const c = record["clearml"] !== null && typeof record["clearml"] === "object" ? (record["clearml"] as Record<string, unknown>) : {};
  const status = text(c["status"]);
  const words = [status, text(c["status_message"]) === null ? null : `(${text(c["status_message"])})`, text(c["status_reason"]) === null ? null : `reason: ${text(c["status_reason"])}`]
    .filter((w) => w !== null)
    .join(" ");
  return [
    ["clearml at", text(record["clearml_server"])],
    ["clearml link", text(record["clearml_web_url"])],
    ["clearml says", c["missing"] === true ? "the task no longer exists" : words === "" ? null : words],
  ];
}

function historyLine(h: unknown): string {
  if (h === null || typeof h !== "object") return JSON.stringify(h);
  const o = h as Record<string, unknown>;
  const event = text(o["event"]) ?? "?";
  const from = text(o["from"]);
  const to = text(o["to"]) ?? "?";
  const change = from === null ? `-> ${to}` : from === to ? `(${to})` : `${from} -> ${to}`;
  const who = text(o["who"]);
  const reason = text(o["reason"]);
  return `${text(o["time"]) ?? "?"}  ${event.padEnd(8)}  ${change}${who === null ? "" : `  by ${who}`}${reason === null ? "" : `: ${reason}`}`;
}

/**
 * `expflow run status <id>`: one run's latest record, by id or unique prefix. `--json` prints the
 * raw record.
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND`, `E_EXPERIMENT_NOT_FOUND` (also for deleted runs).
 * @throws {UsageError} `E_AMBIGUOUS_ID` listing the candidates.
 */
export async function runStatusCommand(id: string, flags: RunStatusOptions, ctx: CommandContext): Promise<number> {
  const backend = await openLocal(ctx, { registry: flags.registry, verbose: flags.verbose });
  const record = await runRecord(backend, id, { refresh: flags.offline !== true, warn: ctx.warn });
  if (flags.json) ctx.io.stdout.write(`${JSON.stringify(record)}\n`);
  else ctx.io.stdout.write(renderRunStatus(record, backend.metrics, ctx.colors));
  return 0;
}

/**
 * `expflow run archive|restore|delete <id>`. Archive and delete are protected: the guard
 * (`run.archive`, `run.delete`) runs before anything changes; restore is not. The event is
 * checked against the run's state first, so no PIN is asked for what cannot happen, and again
 * under the registry lock by the writer. Delete appends a tombstone: the run disappears from
 * every listing, and `registry compact` removes its lines.
 *
 * @throws {ConflictError} `E_ILLEGAL_TRANSITION` (exit 2) saying what is needed first.
 * @throws {DeniedError} (exit 3) from the guard.
 */
export async function runArchiveCommand(event: ArchiveEvent, id: string, flags: RunArchiveOptions, ctx: CommandContext): Promise<number> {
  const backend = await openLocal(ctx, flags);
  ctx.io.stdout.write(`${await archiveAndSay(backend, event, id)}\n`);
  return 0;
}

/**
 * Archives, restores or deletes a run (`archiveRun`, guarded for archive and delete) and says
 * what was done, its ClearML task included: for `run archive|restore|delete` and an approved
 * agent's request alike.
 */
export async function archiveAndSay(backend: LocalBackend, event: ArchiveEvent, id: string): Promise<string> {
  const link = linkOf(await runRecord(backend, id));
  const updated = await archiveRun(backend, event, id);
  const full = updated.id;
  const status = updated.status;
  const message =
    event === "archive"
      ? `Archived ${full} (${status}): hidden from run list and compare-scores unless --include-archived; \`expflow run restore ${full}\` brings it back.`
      : event === "restore"
        ? `Restored ${full} (${status}).`
        : `Deleted ${full} permanently: a tombstone was appended; \`expflow registry compact\` removes its lines from the file.`;
  const after = link === undefined ? undefined : backend.store.lastSnapshot(full);
  const gone = (plainObject(after?.["clearml"]) ?? {})["missing"] === true;
  const remote =
    link === undefined
      ? ""
      : gone
        ? ` Its ClearML task ${link.taskId} no longer exists.`
        : ` Its ClearML task ${link.taskId} was ${event === "archive" ? "archived" : event === "restore" ? "taken out of the archive" : "deleted"} too.`;
  return `${message}${remote}`;
}
