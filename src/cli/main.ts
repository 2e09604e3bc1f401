import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { loadConfig } from "../config/load.js";
import type { ResolvedConfig } from "../config/load.js";
import { ExpflowError } from "../core/errors.js";
import type { CliIO, CommandContext } from "./context.js";
import { colors, shouldColor } from "./output/color.js";

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

function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

function jsonError(code: string, message: string): string {
  return `${JSON.stringify({ error: { code, message } })}\n`;
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code:
 * 0 ok, 1 negative verdict, 2 usage or input error, 3 denied, 4 backend failure,
 * 70 internal error. Never exits the process itself.
 */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const json = wantsJson(argv);
  const colorFlag = !argv.includes("--no-color");
  let exitCode = 0;
  let configPromise: Promise<ResolvedConfig> | undefined;
  const ctx: CommandContext = {
    io,
    colors: colors(shouldColor(io.stdout, io.env, colorFlag)),
    config: (flags = {}) => (configPromise ??= loadConfig({ env: io.env, cwd: io.cwd }, flags)),
    warn: (message) => {
      const c = colors(shouldColor(io.stderr, io.env, colorFlag));
      io.stderr.write(`${c.yellow("warning:")} ${message}\n`);
    },
  };
  const errColors = colors(shouldColor(io.stderr, io.env, colorFlag));

  const program = new Command("expflow")
    .description("Governance for machine-learning experiment workflows: metrics registry, ranking with gates, PIN-protected actions.")
    .version(__EXPFLOW_VERSION__, "-V, --version", "print the version")
    .option("--no-color", "never colour the output (colour is used only on a terminal, and never with NO_COLOR)")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError(true)
    .showHelpAfterError("(add --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(json ? jsonError("E_USAGE", s.replace(/^error: /, "").trim()) : s),
    })
    .addHelpText(
      "after",
      `
Exit codes: 0 ok, 1 negative verdict (nothing passes), 2 usage or input error,
3 denied by governance, 4 backend failure.
Environment: EXPFLOW_HOME (default ~/.expflow), EXPFLOW_REGISTRY, EXPFLOW_PIN, EXPFLOW_PIN_HASH, NO_COLOR.`,
    );
  program.configureHelp({ showGlobalOptions: true });

  formatOptions(
    program
      .command("compare-scores")
      .description("rank experiments of the local registry by a metric and gate them")
      .option("--registry <file>", "registry file (default: $EXPFLOW_HOME/experiments.jsonl)")
      .option("--project <name>", "only experiments of this project (exact name)")
      .option("--tags <a,b>", "only experiments carrying all of these tags", commaList)
      .option("--status <s1,s2>", "only experiments in one of these states", commaList)
      .requiredOption("--sort-by <metric>", "metric to rank by")
      .addOption(new Option("--ascending", "lowest value first").conflicts("descending"))
      .addOption(new Option("--descending", "highest value first").conflicts("ascending"))
      .option("--then-by <metric>", "tie-breaker, in its registered direction (repeatable)", collect)
      .option("--gate <metric:op:value>", "gate, e.g. pde_mean:lt:18.09; ops lt le gt ge eq ne (repeatable)", collect)
      .option("--use-thresholds", "gate every registered metric that has a threshold")
      .option("--only-passing", "show only experiments passing every gate")
      .option("--max <n>", "show at most n rows, after ordering", positiveInt),
  )
    .addHelpText(
      "after",
      `
Examples:
  expflow compare-scores --sort-by pde_mean --gate pde_mean:lt:18.09 --gate train_time_min:lt:60
  expflow compare-scores --registry examples/experiments.jsonl --tags task1 --sort-by seg_total --use-thresholds --json

Exit codes: 0 at least one experiment passes, 1 none does, 2 usage or input error.`,
    )
    .action(async (opts) => {
      const { compareScoresCommand } = await import("./commands/compare-scores.js");
      exitCode = await compareScoresCommand(opts, ctx);
    });

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
  pin
    .command("init")
    .description("set the PIN (changing an existing one needs the current PIN)")
    .argument("[PIN]", "the new PIN, 4 digits (visible in the process list: prefer --new-pin-stdin or the prompt)")
    .option("--new-pin-stdin", "read the new PIN from standard input (after the current one, with --pin-stdin)")
    .addOption(new Option("--pin <pin>", "the current PIN (visible in the process list: prefer --pin-stdin)").conflicts("pinStdin"))
    .option("--pin-stdin", "read the current PIN from the first line of standard input")
    .option("--force", "change without the current PIN, where pin.allow_force permits")
    .action(async (newPin: string | undefined, opts) => {
      const { pinInitCommand } = await import("./commands/pin.js");
      exitCode = await pinInitCommand(newPin, opts, ctx);
    });
  pin
    .command("check")
    .description("check a PIN: exit 0 right (or no PIN set), 3 wrong, locked or not supplied")
    .addOption(new Option("--pin <pin>", "the PIN (visible in the process list: prefer --pin-stdin)").conflicts("pinStdin"))
    .option("--pin-stdin", "read the PIN from one line of standard input")
    .action(async (opts) => {
      const { pinCheckCommand } = await import("./commands/pin.js");
      exitCode = await pinCheckCommand(opts, ctx);
    });
  pin
    .command("clear")
    .description("remove the PIN (needs the current PIN)")
    .addOption(new Option("--pin <pin>", "the current PIN (visible in the process list: prefer --pin-stdin)").conflicts("pinStdin"))
    .option("--pin-stdin", "read the current PIN from one line of standard input")
    .option("--force", "clear without the PIN, where pin.allow_force permits")
    .action(async (opts) => {
      const { pinClearCommand } = await import("./commands/pin.js");
      exitCode = await pinClearCommand(opts, ctx);
    });
  pin
    .command("status")
    .description("whether a PIN is active, where its hash comes from, its format and any lockout")
    .option("--json", "print JSON")
    .action(async (opts) => {
      const { pinStatusCommand } = await import("./commands/pin.js");
      exitCode = await pinStatusCommand(opts, ctx);
    });

  const audit = program.command("audit").description("the tamper-evident audit log of protected actions");
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
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
      // Commander has already printed the message (through outputError).
      return 2;
    }
    if (e instanceof ExpflowError) {
      if (json) io.stderr.write(jsonError(e.code, e.hint ? `${e.message}\n${e.hint}` : e.message));
      else {
        io.stderr.write(`${errColors.red("error:")} ${e.message}\n`);
        if (e.hint) io.stderr.write(`${errColors.dim("hint:")} ${e.hint}\n`);
      }
      return e.exitCode;
    }
    const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
    if (json) io.stderr.write(jsonError("E_INTERNAL", String(e instanceof Error ? e.message : e)));
    else io.stderr.write(`internal error (a bug in expflow; please report it):\n${message}\n`);
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
