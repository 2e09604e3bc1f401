/**
 * What every command definition shares: the options several commands take (declared here once,
 * so their names, descriptions and conflicts cannot drift apart), the small argument parsers, and
 * the types a definition is written against.
 *
 * Each option helper takes a command and returns it with the options added; with
 * `@commander-js/extra-typings` the returned command's type carries the options, so the action's
 * `opts` (and a definition's exported options type) includes them. Options appear in `--help` in
 * the order they are added.
 */
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";
import type { Command, OptionValues } from "@commander-js/extra-typings";
import type { CommandContext } from "../context.js";

/** Records the exit code of the command that ran (`main.ts` returns it). */
export type SetExit = (code: number) => void;

/**
 * A command definition: adds one command (or one command group) to `program`; its action loads
 * the implementation on demand, runs it with `ctx` and hands the exit code to `setExit`.
 */
export type Definition = (program: Command, ctx: CommandContext, setExit: SetExit) => void;

/** The options a declared command parses, as its action receives them (`C` is the command's type). */
export type OptionsOf<C extends { opts(): OptionValues }> = ReturnType<C["opts"]>;

/** Repeatable option: each occurrence adds its value to the list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Repeatable comma-separated list (`--tags a,b --tags c`); blanks are dropped. */
export function commaList(value: string, previous: string[] | undefined): string[] {
  return [
    ...(previous ?? []),
    ...value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  ];
}

/**
 * A positive whole number (1, 2, ...).
 *
 * @throws {InvalidArgumentError} anything else (commander reports it: exit 2).
 */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new InvalidArgumentError(`expected a positive whole number, got '${value}'.`);
  }
  return Number(value);
}

/** What `--since` asks for: a time (epoch milliseconds), or a span back from the time the command runs. */
export type Since = { readonly at: number } | { readonly ago: number };

const SPAN_UNITS: Readonly<Record<string, number>> = Object.freeze({ s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 });
/** `2026-10-01`, `2026-10-01T09:30`, `2026-10-01 09:30:15.250`, each optionally with `Z` or `+02:00`. */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * `--since WHEN`: an ISO 8601 date or date and time (`2026-10-01`, `2026-10-01T09:30:00Z`;
 * without a zone, local time, as a date alone is: its midnight) or a span back from now: a
 * whole number and a unit, `s`, `m` (minutes), `h`, `d` or `w` (`90m`, `2h`, `3d`).
 *
 * @throws {InvalidArgumentError} anything else, or a date that is not in the calendar
 *   (`2026-02-30`) (commander reports it: exit 2).
 */
export function parseSince(value: string): Since {
  const text = value.trim();
  const span = /^(\d{1,9})([smhdw])$/.exec(text);
  if (span !== null) return { ago: Number(span[1]) * SPAN_UNITS[span[2]!]! };
  const iso = ISO_TIME.exec(text);
  if (iso !== null) {
    const [, y, mo, d, h = "00", mi = "00", sec = "00", fraction = "", zone = ""] = iso;
    // Date.parse reads a date alone as UTC but a date and time without a zone as local time: one rule for both.
    const offset = zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
    const at = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}${fraction.slice(0, 4)}${offset}`);
    const day = new Date(0);
    day.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
    const real = day.getUTCFullYear() === Number(y) && day.getUTCMonth() === Number(mo) - 1 && day.getUTCDate() === Number(d) && Number(h) < 24 && Number(mi) < 60 && Number(sec) < 60;
    if (real && !Number.isNaN(at)) return { at };
  }
  throw new InvalidArgumentError(`expected an ISO 8601 date or time (2026-10-01, 2026-10-01T09:30:00Z) or a span back from now (30m, 2h, 3d, 1w), got '${value}'.`);
}

/**
 * The options of a command that prints a table: `--wide` (nothing cut or left out to fit the
 * terminal) and `--columns` (the columns to show, by key, in that order; with a table, CSV or
 * Markdown: never with `--json`, whose shape is a contract).
 */
export function tableOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return wideOption(cmd).addOption(new Option("--columns <a,b>", "show these columns, in this order, by key (table, CSV, Markdown)").argParser(commaList).conflicts("json"));
}

/** `--wide`: nothing cut or left out to fit the terminal (of a table whose columns are not chosen by key). */
export function wideOption<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return cmd.option("--wide", "show every column whole, however wide the terminal (tables only)");
}

/** `--json` of a command that prints one thing (`description` default: "print JSON"). */
export function jsonOption<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>, description = "print JSON") {
  return cmd.option("--json", description);
}

/** `--json`, `--csv`, `--markdown` (at most one) of the commands that print rows. */
export function formatOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return cmd
    .addOption(new Option("--json", "print JSON (a stable contract: see the README)").conflicts(["csv", "markdown"]))
    .addOption(new Option("--csv", "print CSV").conflicts(["json", "markdown"]))
    .addOption(new Option("--markdown", "print a Markdown table").conflicts(["json", "csv"]));
}

/** `--verbose` of every command that may talk to ClearML. */
export function verboseOption<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return cmd.option("--verbose", "log every ClearML request to standard error (endpoint, status, time; never credentials)");
}

/**
 * The ranking flags shared by `compare-scores`, `clearml compare-scores` (and every command that
 * ranks): `--sort-by` and `--pareto` (at least one of them: the command checks it, since
 * commander cannot say "one of two"), `--ascending`/`--descending` (of `--sort-by`), `--then-by`,
 * `--gate`, `--use-thresholds`, `--only-passing`, `--max`. `things` names what is ranked in the
 * help ("experiments", "tasks").
 */
export function rankingOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>, things: string) {
  return cmd
    .option("--sort-by <metric>", "metric to rank by (required unless --pareto; with it, orders each front)")
    .option("--pareto <m1:min,m2:max>", `rank ${things} by Pareto fronts of two or more objectives, e.g. pde_mean:min,train_time_min:min`)
    .addOption(new Option("--ascending", "lowest --sort-by value first").conflicts("descending"))
    .addOption(new Option("--descending", "highest --sort-by value first").conflicts("ascending"))
    .option("--then-by <metric>", "tie-breaker, in its registered direction (repeatable)", collect)
    .option("--gate <metric:op:value>", "gate, e.g. pde_mean:lt:18.09; ops lt le gt ge eq ne (repeatable)", collect)
    .option("--use-thresholds", "gate every registered metric that has a threshold")
    .option("--only-passing", `show only ${things} passing every gate`)
    .option("--max <n>", "show at most n rows, after ordering", positiveInt);
}

/**
 * The task selection of the ClearML listing commands: `--project` (required), `--tags`,
 * `--any-tag`, `--status`, `--include-archived`, `--include-subprojects`.
 */
export function clearmlSelectionOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return cmd
    .requiredOption("--project <name>", "the ClearML project (exact name; subprojects by full path, e.g. PDEBench/ablations)")
    .option("--tags <a,b>", "only tasks carrying all of these tags", commaList)
    .option("--any-tag", "--tags means any of them rather than all")
    .option("--status <s1,s2>", "only tasks in one of these states (lifecycle states or ClearML statuses)", commaList)
    .option("--include-archived", "include archived tasks (left out by default)")
    .option("--include-subprojects", "include the tasks of the project's subprojects");
}

/** `--registry <file>`, the local registry a command reads or changes. */
export function registryOption<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  cmd: Command<A, O, G>,
  description = "registry file (default: $EXPFLOW_HOME/experiments.jsonl)",
) {
  return cmd.option("--registry <file>", description);
}

/**
 * `--pin` and `--pin-stdin` (at most one): how the guard is given the PIN. `which` names the PIN
 * in the help (default "the PIN"; "the current PIN" where a PIN is replaced or removed), `line`
 * which line of standard input holds it (default "one line").
 */
export function pinChannelOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>, which = "the PIN", line = "one line") {
  return cmd
    .addOption(new Option("--pin <pin>", `${which} (visible in the process list: prefer --pin-stdin)`).conflicts("pinStdin"))
    .option("--pin-stdin", `read ${which} from ${line} of standard input`);
}

/** `--force`: go ahead without the PIN where the PIN owner's policy allows it. */
export function forceOption<A extends unknown[], O extends OptionValues, G extends OptionValues>(
  cmd: Command<A, O, G>,
  description = "proceed without the PIN, only where the PIN owner allowed it (expflow pin policy; logged)",
) {
  return cmd.option("--force", description);
}

/** The options of a protected action: the PIN channels, then `--force`. */
export function guardedOptions<A extends unknown[], O extends OptionValues, G extends OptionValues>(cmd: Command<A, O, G>) {
  return forceOption(pinChannelOptions(cmd));
}
