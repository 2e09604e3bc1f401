import type { RunDiffJson } from "../../contracts/runs.js";
import type { DiffRow } from "../../core/experiment-diff.js";
import type { RunDiff } from "../../app/runs.js";
import { diffRuns } from "../../app/runs.js";
import { openLocal } from "../backend.js";
import type { CommandContext } from "../context.js";
import { formatOf } from "../context.js";
import type { RunDiffOptions } from "../define/run.js";
import type { Colors } from "../output/color.js";
import type { Column } from "../output/render.js";
import { formatNumber, renderRows } from "../output/render.js";
import { printable } from "../output/sanitize.js";
import { tableWidth } from "../output/table-fit.js";
import { plural } from "../../core/number-text.js";

/** A row as the table shows it: whether it opens its kind's group (the kind is shown once per group). */
interface ShownRow {
  readonly row: DiffRow;
  readonly first: boolean;
}

/** The words after a value: how it compares with the first run's, and whether it is the row's best. */
function markText(row: DiffRow, i: number): string {
  const mark = row.marks[i];
  const words = mark === "better" || mark === "worse" ? ` ${mark}` : "";
  return `${words}${row.best.includes(i) ? " *" : ""}`;
}

/** Longest number shown in full before it is shortened (see {@link numberTexts}). */
const FULL_NUMBER_CHARS = 10;

/**
 * How the row's numbers read: in full (`0.00314`, `8828724`) up to {@link FULL_NUMBER_CHARS}
 * characters, longer ones shortened by {@link formatNumber} (at most 4 decimals), unless two
 * values that differ would then read the same: then every number of the row in full.
 */
function numberTexts(row: DiffRow): (v: number) => string {
  const short = (v: number): string => (String(v).length <= FULL_NUMBER_CHARS ? String(v) : formatNumber(v));
  const numbers = [...new Set(row.values.filter((v): v is number => typeof v === "number"))];
  return new Set(numbers.map(short)).size === numbers.length ? short : String;
}

function paintCell(row: DiffRow, i: number, text: string, c: Colors): string {
  const mark = row.marks[i];
  let out = mark === "better" ? c.green(text) : mark === "worse" ? c.red(text) : text;
  if (row.best.includes(i)) out = c.bold(out);
  return row.differs ? out : c.dim(out);
}

/**
 * The columns of `run diff`: the kind (`field`, `param`, `metric`; in the table and Markdown
 * only on the first row of each group), the key, then one column per run headed by its id: its
 * value, and after it (not in CSV, whose numbers stay numbers) `better` or `worse` against the
 * first run and `*` on the row's best value. To fit a terminal, the runs' values and then the
 * keys are cut (to 16 cells, numbers never), then the kind and the runs from the last one are left
 * out; the key and the first run always stay.
 */
export function runDiffColumns(diff: RunDiff, forCsv: boolean): Column<ShownRow>[] {
  const n = diff.runs.length;
  const cols: Column<ShownRow>[] = [
    { header: "KIND", key: "kind", get: (r) => (forCsv || r.first ? r.row.kind : ""), drop: 1 },
    { header: "KEY", key: "key", get: (r) => r.row.key, maxWidth: 40, shrink: { min: 16, order: 2 }, paint: (r, t, c) => (r.row.differs ? t : c.dim(t)) },
  ];
  diff.runs.forEach((run, i) => {
    cols.push({
      header: run.id,
      key: run.id,
      get: ({ row }) => {
        const v = row.values[i] ?? null;
        if (forCsv || v === null) return v;
        return `${typeof v === "number" ? numberTexts(row)(v) : v}${markText(row, i)}`;
      },
      paint: ({ row }, t, c) => paintCell(row, i, t, c),
      maxWidth: 40,
      shrink: { min: 16, order: 1 },
      // The first run is the reference: it always stays; the last runs go first.
      ...(i === 0 ? {} : { drop: 10 + n - i }),
    });
  });
  return cols;
}

function idList(ids: readonly string[]): string {
  const shown = ids.map((id) => printable(id));
  return shown.length === 2 ? `${shown[0]} and ${shown[1]}` : `${shown.slice(0, -1).join(", ")} and ${shown.at(-1)}`;
}

/** The lines under the table: what differs, and what the marks mean when some are shown. */
function summary(diff: RunDiff): string {
  const ids = diff.runs.map((r) => r.id);
  if (diff.differing === 0) {
    // Four fields at least: never one row.
    return `No differences between ${idList(ids)}: ${diff.compared} fields, params and metrics compared${diff.all ? "" : " (--all shows them)"}.\n`;
  }
  const counted = diff.all ? `${plural(diff.compared, "row")}, ${diff.differing} differ${diff.differing === 1 ? "s" : ""}` : `${diff.differing} of ${plural(diff.compared, "row")} differ${diff.differing === 1 ? "s" : ""} (--all shows every row)`;
  const lines = [`${plural(diff.runs.length, "run")} compared: ${counted}.`];
  const marked = diff.rows.some((r) => r.best.length > 0 || r.marks.some((m) => m === "better" || m === "worse"));
  if (marked) lines.push(`better/worse: against ${printable(ids[0]!)}, the first run, in each metric's direction; *: the best value.`);
  const custom = diff.rows.filter((r) => r.kind === "metric" && r.direction === null && r.differs).length;
  if (custom > 0) lines.push(`${plural(custom, "custom metric")} (no registered direction) ${custom === 1 ? "is" : "are"} not marked.`);
  return `${lines.join("\n")}\n`;
}

/**
 * `expflow run diff ID OTHER...`: two or more runs of the local registry side by side, by id or
 * unique prefix (see `diffRuns`): only the fields, params and metrics that differ, every one
 * with `--all`. Runs linked to ClearML are refreshed first unless `--offline`. `--json` prints
 * `RunDiffSchema`; `--csv` and `--markdown` the table's columns. Returns 0 whenever the runs
 * were compared, whether or not they differ: a diff is information, not a verdict.
 *
 * @throws {UsageError} `E_SAME_RUN` for a run named twice; `E_AMBIGUOUS_ID`, `E_BAD_ID`.
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND`, `E_EXPERIMENT_NOT_FOUND`.
 */
export async function runDiffCommand(ids: readonly string[], flags: RunDiffOptions, ctx: CommandContext): Promise<number> {
  const backend = await openLocal(ctx, { registry: flags.registry, verbose: flags.verbose });
  const diff = await diffRuns(backend, ids, { all: flags.all === true, refresh: flags.offline !== true, warn: ctx.warn });
  const { stdout } = ctx.io;
  const format = formatOf(flags);
  if (format === "json") {
    const json: RunDiffJson = diff;
    stdout.write(`${JSON.stringify(json)}\n`);
    return 0;
  }
  const shown: ShownRow[] = diff.rows.map((row, i) => ({ row, first: i === 0 || diff.rows[i - 1]!.kind !== row.kind }));
  const cols = runDiffColumns(diff, format === "csv");
  if (format !== "table") {
    stdout.write(renderRows(format, shown, cols, ctx.colors));
    return 0;
  }
  if (shown.length > 0) stdout.write(renderRows("table", shown, cols, ctx.colors, { width: tableWidth(stdout, ctx.io.env), wide: flags.wide === true }));
  stdout.write(summary(diff));
  return 0;
}
