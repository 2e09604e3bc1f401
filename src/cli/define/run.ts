/** The definitions of `expflow run ...`; the implementations are `commands/run.ts`, `commands/run-submit.ts` and `commands/run-cancel.ts`. */
import type { Command } from "@commander-js/extra-typings";
import { Option } from "@commander-js/extra-typings";
import type { ArchiveEvent } from "../../core/lifecycle/lifecycle.js";
import type { CommandContext } from "../context.js";
import type { OptionsOf, SetExit } from "./options.js";
import { collect, commaList, formatOptions, guardedOptions, jsonOption, registryOption } from "./options.js";

function declareRun(program: Command) {
  return program.command("run").description("local runs: submit, list, inspect, cancel, archive");
}

type Run = ReturnType<typeof declareRun>;

function declareSubmit(run: Run) {
  const cmd = run
    .command("submit")
    .description("create a run and queue it for the local agent (or run it now with --wait)")
    .argument("<command...>", "the command to run, after --")
    .option("--name <name>", "a human name")
    .option("--project <name>", "project name")
    .option("--tags <a,b>", "tags", commaList)
    .option("--queue <queue>", "local queue", "default")
    .option("--arg <k=v>", "a parameter: recorded as Args/k and passed as --k v (repeatable)", collect)
    .option("--shell", "run the command through /bin/sh -c (default: no shell)")
    .option("--wait", "run it now in the foreground, as the agent would, and exit with its verdict")
    .option("--allow-pin-env", "with --wait: start even while EXPFLOW_PIN is set (the run can read it from /proc)");
  return registryOption(jsonOption(cmd, "print the record as JSON"));
}

function declareList(run: Run) {
  const cmd = run
    .command("list")
    .description("list runs")
    .option("--status <s1,s2>", "only runs in one of these states", commaList)
    .option("--project <name>", "only runs of this project")
    .option("--tags <a,b>", "only runs carrying all of these tags", commaList)
    .option("--include-archived", "include archived runs")
    .addOption(new Option("--raw", "print the raw latest records as JSON, as written in the registry (implies --json)").implies({ json: true }).conflicts(["csv", "markdown"]));
  return formatOptions(registryOption(cmd));
}

function declareStatus(run: Run) {
  return registryOption(jsonOption(run.command("status").description("a run's record: state, metrics, params and history").argument("<id>", "id or unique prefix")));
}

function declareCancel(run: Run) {
  return guardedOptions(registryOption(run.command("cancel").description("cancel a run (protected); stops a running local command").argument("<id>", "id or unique prefix")));
}

/** The events of `run archive|restore|delete`, in the order of the help; the protected ones take the PIN. */
const ARCHIVE_EVENTS: readonly (readonly [ArchiveEvent, string, boolean])[] = [
  ["archive", "archive a finished run (protected)", true],
  ["restore", "restore an archived run", false],
  ["delete", "delete an archived run permanently (protected)", true],
];

function declareArchive(run: Run, event: ArchiveEvent, description: string) {
  return registryOption(run.command(event).description(description).argument("<id>", "id or unique prefix"));
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
/** The options of `expflow run cancel`. */
export type RunCancelOptions = OptionsOf<ReturnType<typeof declareCancel>>;
/** The options of `expflow run archive|restore|delete` (restore takes only `--registry`). */
export type RunArchiveOptions = OptionsOf<ReturnType<typeof declareProtectedArchive>>;

/** Adds `expflow run` (submit, list, status, cancel, archive, restore, delete) to `program`. */
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
