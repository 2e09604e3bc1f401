/**
 * The definitions of `expflow run ...`; the implementations are `commands/run.ts`,
 * `commands/run-submit.ts`, `commands/run-cancel.ts`, `commands/run-logs.ts`, `commands/run-watch.ts`
 * and `commands/run-diff.ts`.
 */
import type { Command, OptionValues } from "@commander-js/extra-typings";
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { ArchiveEvent } from "../../core/lifecycle/lifecycle.js";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { collect, commaList, formatOptions, guardedOptions, jsonOption, registryOption, verboseOption } from "./options.js";
// run list's own (a line of its own, so definitions added beside it leave the line above alone).
import { parseSince, positiveInt, tableOptions } from "./options.js";
import { wideOption } from "./options.js";

function declareRun(program: Command) {
  return program.command("run").description("runs, local or on ClearML: submit, list, inspect, sync, cancel, archive");
}

type Run = ReturnType<typeof declareRun>;

function declareSubmit(run: Run) {
  const cmd = run
    .command("submit")
    .description("create a run and queue it for the local agent (or run it now with --wait), or dispatch it to a ClearML queue with --clearml")
    .argument("[command...]", "the command to run, after --")
    .option("--name <name>", "a human name (on ClearML: the task name)")
    .option("--project <name>", "project name (on ClearML: created when missing)")
    .option("--tags <a,b>", "tags", commaList)
    .option("--queue <queue>", "the queue (default: 'default' locally; with --clearml, the server's default queue)")
    .option("--arg <k=v>", "a parameter: recorded as Args/k and passed as --k v (repeatable)", collect)
    .option("--shell", "run the command through /bin/sh -c (default: no shell)")
    .option("--wait", "run it now in the foreground, as the agent would, its output streamed to stderr, and exit with its verdict (with --clearml: follow the task to its end)")
    .option("--allow-pin-env", "with --wait: start even while EXPFLOW_PIN is set (the run can read it from /proc)")
    .option("--clearml", "dispatch to a ClearML queue: a task clearml-agent runs from this git repository")
    .addOption(new Option("--use-clearml", "the earlier tool's name of --clearml").hideHelp().implies({ clearml: true }))
    .option("--clone <task_id>", "with --clearml: make the task from an existing one (clone, then set --arg values) instead of a command")
    .option("--no-repo", "with --clearml: send no git repository (the command must be self-contained)");
  return verboseOption(registryOption(jsonOption(cmd, "print the record as JSON")));
}

function declareList(run: Run) {
  const cmd = run
    .command("list")
    .description("list runs")
    .option("--status <s1,s2>", "only runs in one of these states", commaList)
    .option("--project <name>", "only runs of this project")
    .option("--tags <a,b>", "only runs carrying all of these tags", commaList)
    .option("--since <when>", "only runs created since WHEN: a date or time (2026-10-01, 2026-10-01T09:30Z) or a span back from now (30m, 2h, 3d, 1w)", parseSince)
    .option("--include-archived", "include archived runs")
    .option("--sort-by <field>", "order by a column (id, name, status, created, ...) or a metric; missing values last")
    .addOption(new Option("--ascending", "lowest (earliest) first: the default for a column").conflicts("descending"))
    .addOption(new Option("--descending", "highest (latest) first; without --sort-by, newest runs first").conflicts("ascending"))
    .option("--limit <n>", "show at most n runs, after ordering", positiveInt)
    .addOption(new Option("--raw", "print the raw latest records as JSON, as written in the registry (implies --json)").implies({ json: true }).conflicts(["csv", "markdown", "columns"]));
  return offlineOption(verboseOption(tableOptions(formatOptions(registryOption(cmd))))).addHelpText(
    "after",
    `
Examples:
  expflow run list --status running,queued
  expflow run list --since 3d --sort-by pde_mean --limit 10
  expflow run list --descending --limit 5 --columns id,name,status,created

A metric sorts in its registered direction, best first, unless --ascending or
--descending says otherwise. On a terminal the table fits its width (COLUMNS
sets one for a pipe): long text is cut with …, and columns that still do not
fit are left out and named; --wide shows everything.`,
  );
}

/** `--offline`: show runs linked to ClearML as last synced, without asking the server. */
function offlineOption<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return cmd.option("--offline", "do not refresh runs linked to ClearML (shown as last synced)");
}

function declareStatus(run: Run) {
  return offlineOption(verboseOption(registryOption(jsonOption(run.command("status").description("a run's record: state, metrics, params and history").argument("<id>", "id or unique prefix")))));
}

function declareDiff(run: Run) {
  const cmd = run
    .command("diff")
    .description("two or more runs side by side: the fields, params and metrics that differ, each metric's better and worse marked")
    .argument("<id>", "the run the others are compared with (id or unique prefix)")
    .argument("<other...>", "the runs compared with it (ids or unique prefixes)")
    .option("--all", "show every field, param and metric, not only those that differ");
  return offlineOption(verboseOption(wideOption(formatOptions(registryOption(cmd))))).addHelpText(
    "after",
    `
Examples:
  expflow run diff exp-74dc exp-35f3
  expflow run diff exp-74dc exp-35f3 exp-d10d --all
  expflow run diff exp-74dc exp-35f3 --json

A metric with a registered direction is marked against the first run: "better"
or "worse" in that direction (equal: no mark), and * marks the best value of the
row; a custom metric has no direction and no marks. Exit 0 whenever the runs
were compared, whether or not they differ.`,
  );
}

/**
 * A whole number, 0 or more.
 *
 * @throws {InvalidArgumentError} anything else (commander reports it: exit 2).
 */
function lineCount(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a number of lines (0, 1, 2, ...), got '${value}'.`);
  return Number(value);
}

function declareLogs(run: Run) {
  const cmd = run
    .command("logs")
    .description("print a run's output (its log); -f follows it as it is written until the run is finished")
    .argument("<id>", "id or unique prefix")
    .option("-f, --follow", "keep printing what the run writes until it is finished (then its final state goes to stderr; exit 0 completed, 1 otherwise), or Ctrl-C")
    .option("--tail <n>", "start with the last n lines (0: only what comes next)", lineCount)
    .addHelpText(
      "after",
      `
Examples:
  expflow run logs exp-1a2b --tail 50
  expflow run logs -f exp-1a2b
  expflow run logs exp-1a2b > train.log

On a terminal, control characters and escape sequences in the log are shown as
escapes (\\u001b[2J) and never act; into a file or a pipe the log is copied byte
for byte. A run on ClearML has its output in its task's console there: the
command says where.`,
    );
  return registryOption(cmd);
}

function declareWatch(run: Run) {
  const cmd = run
    .command("watch")
    .description("a live view of runs: state, elapsed time, latest metrics (default: every local run running or queued)")
    .argument("[id...]", "runs to watch (ids or unique prefixes): the view ends once they are all finished")
    .addHelpText(
      "after",
      `
On a terminal the view is redrawn in place until Ctrl-C, or until the runs named
are all finished (exit 0 when they all completed, 1 otherwise). Into a file or a
pipe it prints one plain line per change instead: a run seen, a new state, new
metric values.`,
    );
  return registryOption(cmd);
}

function declareSync(run: Run) {
  const cmd = run
    .command("sync")
    .description("refresh every run linked to a ClearML task and import its metrics")
    .option("--project <name>", "only runs of this project")
    .option("--no-metrics", "refresh states only, without importing metrics");
  return verboseOption(registryOption(jsonOption(cmd, "print what changed as JSON")));
}

function declareCancel(run: Run) {
  return verboseOption(guardedOptions(registryOption(run.command("cancel").description("cancel a run (protected); stops a running local command, dequeues or stops a ClearML task").argument("<id>", "id or unique prefix"))));
}

/** The events of `run archive|restore|delete`, in the order of the help; the protected ones take the PIN. */
const ARCHIVE_EVENTS: readonly (readonly [ArchiveEvent, string, boolean])[] = [
  ["archive", "archive a finished run (protected)", true],
  ["restore", "restore an archived run", false],
  ["delete", "delete an archived run permanently (protected)", true],
];

function declareArchive(run: Run, event: ArchiveEvent, description: string) {
  return verboseOption(registryOption(run.command(event).description(description).argument("<id>", "id or unique prefix")));
}

function declareProtectedArchive(run: Run, event: ArchiveEvent, description: string) {
  return guardedOptions(declareArchive(run, event, description));
}



/** The options of `expflow run submit`. */
export type RunSubmitOptions = OptionsOf<ReturnType<typeof declareSubmit>>;
/** The options of `expflow run list`, as parsed. */
export type RunListOptions = OptionsOf<ReturnType<typeof declareList>>;
/** The options of `expflow run status`. */
export type RunStatusOptions = OptionsOf<ReturnType<typeof declareStatus>>;
function declareRetry(run: Run) {
  const cmd = run
    .command("retry")
    .description("requeue a failed or cancelled run as a new run linked to it (--interrupted: every run an interrupted agent failed)")
    .argument("[id]", "id or unique prefix")
    .option("--interrupted", "every run failed by an interrupted agent or run submit --wait, not retried yet")
    .option("--queue <queue>", "the queue of the new run (default: the original's)");
  return verboseOption(registryOption(jsonOption(cmd, "print the runs made as JSON")));
}

/** The options of `expflow run diff`. */
export type RunDiffOptions = OptionsOf<ReturnType<typeof declareDiff>>;
/** The options of `expflow run retry`. */
export type RunRetryOptions = OptionsOf<ReturnType<typeof declareRetry>>;
/** The options of `expflow run logs`. */
export type RunLogsOptions = OptionsOf<ReturnType<typeof declareLogs>>;
/** The options of `expflow run watch`. */
export type RunWatchOptions = OptionsOf<ReturnType<typeof declareWatch>>;
/** The options of `expflow run sync`. */
export type RunSyncOptions = OptionsOf<ReturnType<typeof declareSync>>;
/** The options of `expflow run cancel`. */
export type RunCancelOptions = OptionsOf<ReturnType<typeof declareCancel>>;
/** The options of `expflow run archive|restore|delete` (restore takes only `--registry`). */
export type RunArchiveOptions = OptionsOf<ReturnType<typeof declareProtectedArchive>>;

/** Adds `expflow run` (submit, list, status, diff, logs, watch, sync, retry, cancel, archive, restore, delete) to `program`. */
export function defineRun(program: Command, ctx: CommandContext, setExit: SetExit): void {
  const run = declareRun(program);
  declareSubmit(run).action(async (command, opts) => {
    const { runSubmitCommand } = await import("../commands/run-submit.js");
    setExit(await runSubmitCommand(command, opts, ctx));
  });
  declareList(run).action(async (opts) => {
    const { runListCommand } = await import("../commands/run.js");
    setExit(await runListCommand(opts, ctx));
  });
  declareStatus(run).action(async (id, opts) => {
    const { runStatusCommand } = await import("../commands/run.js");
    setExit(await runStatusCommand(id, opts, ctx));
  });
  declareDiff(run).action(async (id, others, opts) => {
    const { runDiffCommand } = await import("../commands/run-diff.js");
    setExit(await runDiffCommand([id, ...others], opts, ctx));
  });
  declareLogs(run).action(async (id, opts) => {
    const { runLogsCommand } = await import("../commands/run-logs.js");
    setExit(await runLogsCommand(id, opts, ctx));
  });
  declareWatch(run).action(async (ids, opts) => {
    const { runWatchCommand } = await import("../commands/run-watch.js");
    setExit(await runWatchCommand(ids, opts, ctx));
  });
  declareSync(run).action(async (opts) => {
    const { runSyncCommand } = await import("../commands/run-sync.js");
    setExit(await runSyncCommand(opts, ctx));
  });
  declareRetry(run).action(async (id, opts) => {
    const { runRetryCommand } = await import("../commands/run-retry.js");
    setExit(await runRetryCommand(id, opts, ctx));
  });
  declareCancel(run).action(async (id, opts) => {
    const { runCancelCommand } = await import("../commands/run-cancel.js");
    setExit(await runCancelCommand(id, opts, ctx));
  });
  for (const [event, description, isProtected] of ARCHIVE_EVENTS) {
    const action = async (id: string, opts: RunArchiveOptions): Promise<void> => {
      const { runArchiveCommand } = await import("../commands/run.js");
      setExit(await runArchiveCommand(event, id, opts, ctx));
    };
    if (isProtected) declareProtectedArchive(run, event, description).action(action);
    else declareArchive(run, event, description).action(action);
  }
}
