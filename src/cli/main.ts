import { Command, CommanderError } from "@commander-js/extra-typings";
import { loadConfig } from "../config/load.js";
import type { ResolvedConfig } from "../config/load.js";
import { ExpflowError } from "../core/errors.js";
import { isStorageErrno, storageError } from "../util/fs-errors.js";
import type { CliIO, CommandContext } from "./context.js";
import { defineAgent } from "./define/agent.js";
import { defineApprovals } from "./define/approvals.js";
import { defineAudit } from "./define/audit.js";
import { defineClearml } from "./define/clearml.js";
import { defineCompareScores } from "./define/compare-scores.js";
import { defineCompletion } from "./define/completion.js";
import { defineConfig } from "./define/config.js";
import { defineMcp } from "./define/mcp.js";
import { defineMetrics } from "./define/metrics.js";
import type { Definition, SetExit } from "./define/options.js";
import { definePin } from "./define/pin.js";
import { defineRegistry } from "./define/registry.js";
import { defineReport } from "./define/report.js";
import { defineRun } from "./define/run.js";
import { colors, shouldColor } from "./output/color.js";
import { commanderErrorJson, errorJsonOf, formatErrorJson } from "./output/error-json.js";
import { guardStream, ownSequences, printable } from "./output/sanitize.js";
import { terminalWording } from "./output/terminal-words.js";

/** Exit code for an unexpected internal error (a bug): EX_SOFTWARE. */
export const EXIT_INTERNAL = 70;

/** Every command and command group (`define/`), in the order of the help's command list. */
const DEFINITIONS: readonly Definition[] = [defineCompareScores, defineReport, defineClearml, defineMetrics, defineRun, defineAgent, defineRegistry, defineConfig, definePin, defineApprovals, defineAudit, defineMcp, defineCompletion];

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

  const setExit: SetExit = (code) => {
    exitCode = code;
  };
  for (const define of DEFINITIONS) define(program, ctx, setExit);

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
    // Made when first read: process.stdin opens a stream on descriptor 0, which most commands never read.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  });
}
