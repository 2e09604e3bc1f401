import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { loadConfig } from "../config/load.js";
import type { ResolvedConfig } from "../config/load.js";
import { ExpflowError } from "../core/errors.js";
import { isStorageErrno, storageError } from "../util/fs-errors.js";
import type { CliIO, CommandContext } from "./context.js";
import { colors, shouldColor } from "./output/color.js";
import { commanderErrorJson, errorJsonOf, formatErrorJson } from "./output/error-json.js";
import { guardStream, ownSequences, printable } from "./output/sanitize.js";
import { terminalWording } from "./output/terminal-words.js";

/** Exit code for an unexpected internal error (a bug): EX_SOFTWARE. */
export const EXIT_INTERNAL = 70;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function commaList(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  ];
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new InvalidArgumentError(`expected a positive whole number, got '${value}'.`);
  }
  return Number(value);
}

function formatOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--json", "print JSON (a stable contract: see the README)").conflicts(["csv", "markdown"]))
    .addOption(new Option("--csv", "print CSV").conflicts(["json", "markdown"]))
    .addOption(new Option("--markdown", "print a Markdown table").conflicts(["json", "csv"]));
}

/** `--verbose` of every command that may talk to ClearML. */
function verbose(cmd: Command): Command {
  return cmd.option("--verbose", "log every ClearML request to standard error (endpoint, status, time; never credentials)");
}

/** The ranking flags shared by `compare-scores` and `clearml compare-scores`. */
function rankingOptions(cmd: Command, things: string): Command {
  return cmd
    .requiredOption("--sort-by <metric>", "metric to rank by")
    .addOption(new Option("--ascending", "lowest value first").conflicts("descending"))
    .addOption(new Option("--descending", "highest value first").conflicts("ascending"))
    .option("--then-by <metric>", "tie-breaker, in its registered direction (repeatable)", collect)
    .option("--gate <metric:op:value>", "gate, e.g. pde_mean:lt:18.09; ops lt le gt ge eq ne (repeatable)", collect)
    .option("--use-thresholds", "gate every registered metric that has a threshold")
    .option("--only-passing", `show only ${things} passing every gate`)
    .option("--max <n>", "show at most n rows, after ordering", positiveInt);
}

function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code:
 * 0 ok, 1 negative verdict, 2 usage or input error, 3 denied, 4 backend failure,
 * 70 internal error. Never exits the process itself.
 */
export async function run(argv: readonly string[], rawIo: CliIO): Promise<number> {
  // Until a command is parsed, `--json` anywhere before `--` asks for JSON errors; once it is,
  // its own --json option decides (so `--name --json` is a name, and errors follow the output).
  let json = wantsJson(argv);
  const colorFlag = !argv.includes("--no-color");
  let exitCode = 0;
  let configPromise: Promise<ResolvedConfig> | undefined;
  const outColor = shouldColor(rawIo.stdout, rawIo.env, colorFlag);
  const errColor = shouldColor(rawIo.stderr, rawIo.env, colorFlag);
  const errColors = colors(errColor);
  // Human output never passes control characters from data (JSON stays exact): see sanitize.ts.
  const io: CliIO = {
    ...rawIo,
    stdout: guardStream(rawIo.stdout, () => !json, ownSequences(outColor, false)),
    stderr: guardStream(rawIo.stderr, () => !json, ownSequences(errColor, rawIo.stderr.isTTY === true)),
  };
  const ctx: CommandContext = {
    io,
    colors: colors(outColor),
    config: (flags = {}) => (configPromise ??= loadConfig({ env: io.env, cwd: io.cwd }, flags)),
    warn: (message) => {
      io.stderr.write(`${errColors.yellow("warning:")} ${printable(message)}\n`);
    },
  };

  const program = new Command("expflow")
    .description("Governance for machine-learning experiment workflows: metrics registry, ranking with gates, PIN-protected actions.")
    .version(__EXPFLOW_VERSION__, "-V, --version", "print the version")
    .option("--no-color", "never colour the output (colour is used only on a terminal, and never with NO_COLOR)")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError(true)
    .showHelpAfterError(json ? false : "(add --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Under --json the catch below writes the one error object instead.
      outputError: (s, write) => {
        if (!json) write(s);
      },
    })
    .addHelpText(
      "after",
      `
Exit codes: 0 ok, 1 negative verdict (nothing passes), 2 usage or input error,
3 denied by governance, 4 backend failure.
Environment: EXPFLOW_HOME (default ~/.expflow), EXPFLOW_REGISTRY, EXPFLOW_PIN, EXPFLOW_PIN_HASH, NO_COLOR;
ClearML: CLEARML_API_HOST, CLEARML_API_ACCESS_KEY, CLEARML_API_SECRET_KEY, CLEARML_CONFIG_FILE.`,
    );
  program.configureHelp({ showGlobalOptions: true });
  program.hook("preAction", (_, command) => {
    json = command.opts()["json"] === true;
  });

  formatOptions(
    rankingOptions(
      program
        .command("compare-scores")
        .description("rank experiments of the local registry by a metric and gate them")
        .option("--registry <file>", "registry file (default: $EXPFLOW_HOME/experiments.jsonl)")
        .option("--project <name>", "only experiments of this project (exact name)")
        .option("--tags <a,b>", "only experiments carrying all of these tags", commaList)
        .option("--status <s1,s2>", "rank the experiments in one of these states (default: completed)", commaList)
        .option("--include-archived", "include archived experiments (left out by default)"),
      "experiments",
    ),
  )
    .addHelpText(
      "after",
      `
Examples:
  expflow compare-scores --sort-by pde_mean --gate pde_mean:lt:18.09 --gate train_time_min:lt:60
  expflow compare-scores --registry examples/experiments.jsonl --tags task1 --sort-by seg_total --use-thresholds --json
  expflow compare-scores --sort-by pde_mean --status completed,running,failed,cancelled

Only completed experiments are ranked unless --status names other states; the summary counts
those left out. Exit codes: 0 at least one experiment passes, 1 none does (or none is ranked),
2 usage or input error.`,
    )
    .action(async (opts) => {
      const { compareScoresCommand } = await import("./commands/compare-scores.js");
      exitCode = await compareScoresCommand(opts, ctx);
    });

  const clearml = program.command("clearml").description("experiments on a ClearML server: connection status, task listing, ranking with gates");
  verbose(clearml.command("status").description("the server, its API version, and whether the credentials work (exit 4 when not)").option("--json", "print JSON"))
    .addHelpText(
      "after",
      `
The server and credentials come from CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and
CLEARML_API_SECRET_KEY, else from clearml.conf (CLEARML_CONFIG_FILE, else ~/clearml.conf).`,
    )
    .action(async (opts) => {
      const { clearmlStatusCommand } = await import("./commands/clearml.js");
      exitCode = await clearmlStatusCommand(opts, ctx);
    });
  const clearmlSelection = (cmd: Command): Command =>
    cmd
      .requiredOption("--project <name>", "the ClearML project (exact name; subprojects by full path, e.g. PDEBench/ablations)")
      .option("--tags <a,b>", "only tasks carrying all of these tags", commaList)
      .option("--any-tag", "--tags means any of them rather than all")
      .option("--status <s1,s2>", "only tasks in one of these states (lifecycle states or ClearML statuses)", commaList)
      .option("--include-archived", "include archived tasks (left out by default)")
      .option("--include-subprojects", "include the tasks of the project's subprojects");
  formatOptions(
    verbose(
      rankingOptions(clearmlSelection(clearml.command("compare-scores").description("rank the tasks of a ClearML project by a metric and gate them")), "tasks"),
    ),
  )
    .addHelpText(
      "after",
      `
Examples:
  expflow clearml compare-scores --project PDEBench --tags task1 --sort-by seg_total --gate pde_mean:lt:18.09
  expflow clearml compare-scores --project PDEBench --sort-by pde_mean --use-thresholds --only-passing --json

Only completed tasks (ClearML: completed, published, closed) are ranked unless --status names
other states; the summary counts those left out.
A metric reported under two titles (Score/seg_total and Loss/seg_total) must be named in full.
Exit codes: 0 at least one task passes, 1 none does, 2 usage or input error, 4 ClearML failure.`,
    )
    .action(async (opts) => {
      const { clearmlCompareScoresCommand } = await import("./commands/clearml.js");
      exitCode = await clearmlCompareScoresCommand(opts, ctx);
    });
  formatOptions(verbose(clearmlSelection(clearml.command("tasks").description("list the tasks of a ClearML project with their status and standard metrics")))).action(
    async (opts) => {
      const { clearmlTasksCommand } = await import("./commands/clearml.js");
      exitCode = await clearmlTasksCommand(opts, ctx);
    },
  );

  const metrics = program.command("metrics").description("the metrics registry: standard metrics and your own");
  formatOptions(metrics.command("list").description("list registered metrics").option("--group <group>", "only this group (Score, Loss, PDE, Time, Model, Training, ...)")).action(
    async (opts) => {
      const { metricsListCommand } = await import("./commands/metrics.js");
      exitCode = await metricsListCommand(opts, ctx);
    },
  );
  metrics
    .command("show")
    .description("show one metric's definition")
    .argument("<name>", "metric name or alias")
    .option("--json", "print JSON")
    .action(async (name: string, opts) => {
      const { metricsShowCommand } = await import("./commands/metrics.js");
      exitCode = await metricsShowCommand(name, opts, ctx);
    });

  verbose(metrics.command("report"))
    .description("report metric values to an experiment (or, with --task-id, to a ClearML task), validated through the metrics registry")
    .argument("[id]", "experiment id or unique prefix (not with --task-id)")
    .argument("[name=value...]", "metric values, e.g. pde_mean=16.2 train_time_min=41")
    .option("--task-id <id>", "report to this ClearML task instead, as scalars (metric = the registry group, variant = the name, iteration 0)")
    .option("--registry <file>", "registry file (default: $EXPFLOW_HOME/experiments.jsonl)")
    .option("--json", "print the updated record (or what was sent) as JSON")
    .addHelpText(
      "after",
      `
Examples:
  expflow metrics report exp-1a2b3c4d5e6f pde_mean=16.2 train_time_min=41
  expflow metrics report --task-id 4f2c0e... seg_total=0.81 pde_mean=16.2

A value the registry refuses (unknown name, not a finite number) is exit 2 and nothing is sent.`,
    )
    .action(async (id: string | undefined, pairs: string[], opts) => {
      const { metricsReportCommand } = await import("./commands/metrics-report.js");
      exitCode = await metricsReportCommand(id, pairs, opts, ctx);
    });

  /** `--pin` and `--pin-stdin`: how the guard is given the PIN (`which`: "the PIN", "the current PIN"). */
  const pinChannels = (cmd: Command, which = "the PIN", line = "one line"): Command =>
    cmd
      .addOption(new Option("--pin <pin>", `${which} (visible in the process list: prefer --pin-stdin)`).conflicts("pinStdin"))
      .option("--pin-stdin", `read ${which} from ${line} of standard input`);
  const guarded = (cmd: Command): Command =>
    pinChannels(cmd).option("--force", "proceed without the PIN, only where the PIN owner allowed it (expflow pin policy; logged)");
  const registryOption = (cmd: Command): Command => cmd.option("--registry <file>", "registry file (default: $EXPFLOW_HOME/experiments.jsonl)");

  const runCmd = program.command("run").description("local runs: submit, list, inspect, cancel, archive");
  registryOption(
    runCmd
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
      .option("--allow-pin-env", "with --wait: start even while EXPFLOW_PIN is set (the run can read it from /proc)")
      .option("--json", "print the record as JSON"),
  ).action(async (command: string[], opts) => {
    const { runSubmitCommand } = await import("./commands/run-submit.js");
    exitCode = await runSubmitCommand(command, opts, ctx);
  });
  formatOptions(
    registryOption(
      runCmd
        .command("list")
        .description("list runs")
        .option("--status <s1,s2>", "only runs in one of these states", commaList)
        .option("--project <name>", "only runs of this project")
        .option("--tags <a,b>", "only runs carrying all of these tags", commaList)
        .option("--include-archived", "include archived runs"),
    ),
  ).action(async (opts) => {
    const { runListCommand } = await import("./commands/run.js");
    exitCode = await runListCommand(opts, ctx);
  });
  registryOption(runCmd.command("status").description("a run's record: state, metrics, params and history").argument("<id>", "id or unique prefix").option("--json", "print JSON")).action(
    async (id: string, opts) => {
      const { runStatusCommand } = await import("./commands/run.js");
      exitCode = await runStatusCommand(id, opts, ctx);
    },
  );
  guarded(registryOption(runCmd.command("cancel").description("cancel a run (protected); stops a running local command").argument("<id>", "id or unique prefix"))).action(
    async (id: string, opts) => {
      const { runCancelCommand } = await import("./commands/run-cancel.js");
      exitCode = await runCancelCommand(id, opts, ctx);
    },
  );
  for (const [event, description, isGuarded] of [
    ["archive", "archive a finished run (protected)", true],
    ["restore", "restore an archived run", false],
    ["delete", "delete an archived run permanently (protected)", true],
  ] as const) {
    const cmd = registryOption(runCmd.command(event).description(description).argument("<id>", "id or unique prefix"));
    (isGuarded ? guarded(cmd) : cmd).action(async (id: string, opts) => {
      const { runArchiveCommand } = await import("./commands/run.js");
      exitCode = await runArchiveCommand(event, id, opts, ctx);
    });
  }

  registryOption(
    program
      .command("agent")
      .description("the local runner: take queued runs first-in first-out and run them")
      .option("--queue <queue>", "the queue to serve", "default")
      .option("--once", "drain what is queued, then exit")
      .option("--concurrency <n>", "runs at once", positiveInt, 1)
      .option("--allow-pin-env", "start even while EXPFLOW_PIN is set (its runs can read it from /proc)"),
  ).action(async (opts) => {
    const { agentCommand } = await import("./commands/agent.js");
    exitCode = await agentCommand(opts, ctx);
  });

  const registryCmd = program.command("registry").description("the local registry file");
  registryOption(registryCmd.command("check").description("count records, list damaged lines: exit 0 healthy, 1 damaged").option("--json", "print JSON")).action(async (opts) => {
    const { registryCheckCommand } = await import("./commands/registry.js");
    exitCode = await registryCheckCommand(opts, ctx);
  });
  guarded(registryOption(registryCmd.command("compact").description("rewrite with only the latest snapshot of each run (protected)"))).action(async (opts) => {
    const { registryCompactCommand } = await import("./commands/registry.js");
    exitCode = await registryCompactCommand(opts, ctx);
  });

  const config = program.command("config").description("the layered configuration");
  config
    .command("show")
    .description("show the effective configuration and where each setting comes from")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const { configShowCommand } = await import("./commands/config.js");
      exitCode = await configShowCommand(opts, ctx);
    });

  const pin = program.command("pin").description("the PIN that protects destructive actions");
  const pinInit = pin
    .command("init")
    .description("set the PIN (changing an existing one needs the current PIN)")
    .argument("[PIN]", "the new PIN, 4 to 12 digits (visible in the process list: prefer --new-pin-stdin or the prompt)")
    .option("--new-pin-stdin", "read the new PIN from standard input (after the current one, with --pin-stdin)");
  pinChannels(pinInit, "the current PIN", "the first line")
    .option("--force", "change without the current PIN, only where the PIN owner allowed it")
    .option("--registry <file>", "the registry the PIN protects (default: $EXPFLOW_HOME/experiments.jsonl, or as configured)")
    .action(async (newPin: string | undefined, opts) => {
      const { pinInitCommand } = await import("./commands/pin.js");
      exitCode = await pinInitCommand(newPin, opts, ctx);
    });
  pinChannels(pin.command("check").description("check a PIN: exit 0 right (or no PIN set), 3 wrong, locked or not supplied")).action(async (opts) => {
    const { pinCheckCommand } = await import("./commands/pin.js");
    exitCode = await pinCheckCommand(opts, ctx);
  });
  pinChannels(pin.command("clear").description("remove the PIN and the protection of its registries (needs the current PIN)"), "the current PIN")
    .option("--force", "clear without the PIN, only where the PIN owner allowed it")
    .action(async (opts) => {
      const { pinClearCommand } = await import("./commands/pin.js");
      exitCode = await pinClearCommand(opts, ctx);
    });
  pinChannels(
    pin
      .command("policy")
      .description("show or change whether --force may stand in for the PIN (allowing it needs the PIN)")
      .addOption(new Option("--allow-force", "let --force stand in for the PIN (asks the PIN; logged)"))
      .addOption(new Option("--no-allow-force", "forbid --force again (logged)")),
  )
    .option("--json", "print JSON")
    .action(async (opts) => {
      const { pinPolicyCommand } = await import("./commands/pin.js");
      exitCode = await pinPolicyCommand(opts, ctx);
    });
  pin
    .command("status")
    .description("whether a PIN is active, where its hash comes from, its format and any lockout")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const { pinStatusCommand } = await import("./commands/pin.js");
      exitCode = await pinStatusCommand(opts, ctx);
    });

  const audit = program.command("audit").description("competition-rules audits, and the tamper-evident audit log of protected actions");
  formatOptions(
    verbose(audit.command("validate"))
      .description("check an experiment's status, metrics and parameters against the competition rules: exit 0 all pass, 1 any fails")
      .argument("<experiment-id>", "experiment id or unique prefix (with --task-id: only the report's label)")
      .option("--competition-rules", "check the competition rules (the earlier tool's form; the default)")
      .option("--rules <file>", "a rule pack (YAML); default: audit.rules in config, else the built-in pdebench pack")
      .option("--task-id <id>", "take the status, metrics and parameters from this ClearML task")
      .option("--junit <file>", "also write JUnit XML (one testcase per check) for CI")
      .option("--registry <file>", "registry file (default: $EXPFLOW_HOME/experiments.jsonl)"),
  ).action(async (id: string, opts) => {
    const { auditValidateCommand } = await import("./commands/audit.js");
    exitCode = await auditValidateCommand(id, opts, ctx);
  });
  audit
    .command("rules")
    .description("show the active rule pack")
    .option("--rules <file>", "a rule pack (YAML); default: audit.rules in config, else the built-in pdebench pack")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const { auditRulesCommand } = await import("./commands/audit.js");
      exitCode = await auditRulesCommand(opts, ctx);
    });
  verbose(audit.command("report"))
    .description("a Markdown report of an experiment: its status, the rules' verdict, its parameters and metrics")
    .argument("<experiment-id>", "experiment id or unique prefix (with --task-id: only the report's label)")
    .option("--rules <file>", "a rule pack (YAML); default: audit.rules in config, else the built-in pdebench pack")
    .option("--task-id <id>", "take the status, metrics and parameters from this ClearML task")
    .option("--output <file>", "write the report to this file instead of standard output")
    .option("--registry <file>", "registry file (default: $EXPFLOW_HOME/experiments.jsonl)")
    .action(async (id: string, opts) => {
      const { auditReportCommand } = await import("./commands/audit.js");
      exitCode = await auditReportCommand(id, opts, ctx);
    });
  audit
    .command("log")
    .description("show the audit log, or verify its hash chain with --verify (exit 1 when broken)")
    .option("--json", "print JSON")
    .option("--verify", "verify the hash chain: exit 0 intact, 1 naming the first record altered, removed or inserted")
    .action(async (opts) => {
      const { auditLogCommand } = await import("./commands/audit-log.js");
      exitCode = await auditLogCommand(opts, ctx);
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (caught) {
    // A file-system error of a place the user named (full, read-only, in the way) that a
    // command did not say in its own words is still one line and exit 2 or 4, never a bug.
    const e = !(caught instanceof ExpflowError) && isStorageErrno(caught) ? storageError(caught, caught.path ?? "a file") : caught;
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      // Without --json, commander has already printed the message (through outputError).
      if (json) io.stderr.write(formatErrorJson(commanderErrorJson(e.message)));
      return 2;
    }
    if (e instanceof ExpflowError) {
      if (json) io.stderr.write(formatErrorJson(errorJsonOf(e)));
      else {
        // Library messages name options (`sortBy`); the terminal names flags (`--sort-by`).
        const { message, hint } = terminalWording(e);
        io.stderr.write(`${errColors.red("error:")} ${printable(message)}\n`);
        if (hint) io.stderr.write(`${errColors.dim("hint:")} ${printable(hint)}\n`);
      }
      return e.exitCode;
    }
    const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
    if (json) io.stderr.write(formatErrorJson({ code: "E_INTERNAL", message: e instanceof Error ? e.message : String(e), hint: "a bug in expflow; please report it with this message" }));
    else io.stderr.write(`internal error (a bug in expflow; please report it):\n${printable(message, { multiline: true })}\n`);
    return EXIT_INTERNAL;
  }
}

/** The executable's entry: runs the CLI on the process's arguments and sets its exit code. */
export async function main(): Promise<void> {
  // A reader that goes away early (`expflow ... | head`) is not an error of ours.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  process.exitCode = await run(process.argv.slice(2), {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  });
}
