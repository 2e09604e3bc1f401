import type { ExpflowError } from "../../core/errors.js";
import { declareMetricHint } from "../../core/metrics/registry.js";
import { shellQuote } from "../../util/shell.js";

/**
 * The terminal's words for what the library says in its own. Library messages name the options
 * of its calls (`unknown metric 'x' in sortBy`, `force is not allowed`) and carry the input at
 * fault as data (`field`, `value`, `suggestion`); the CLI says the same with the flags and
 * commands that fix it (`in --sort-by`, `--force is not allowed`). Human output and `--json`
 * errors both pass through {@link terminalWording}, so they agree.
 */

/** The flag that sets each library field, where the CLI has one. */
export const FLAG_OF_FIELD: Readonly<Record<string, string>> = Object.freeze({
  sortBy: "--sort-by",
  pareto: "--pareto",
  thenBy: "--then-by",
  gates: "--gate",
  useThresholds: "--use-thresholds",
  onlyPassing: "--only-passing",
  max: "--max",
  x: "--x",
  y: "--y",
  axes: "--axes",
  historyRuns: "--history",
  statuses: "--status",
  rules: "--rules",
  registry: "--registry",
  force: "--force",
  pin: "--pin",
  pinStdin: "--pin-stdin",
  tools: "--tools",
});

/** The flag that sets `field`, or `undefined` when the CLI has none. */
export function flagOf(field: string | undefined): string | undefined {
  return field !== undefined && Object.hasOwn(FLAG_OF_FIELD, field) ? FLAG_OF_FIELD[field] : undefined;
}

/** A phrase of a library message, and the terminal's words for it. */
interface Phrase {
  /** Only in errors of this code; any text (a prompt) when absent. */
  readonly code?: string;
  /** Where the phrase stands in the message, so that data around it (a path) is never touched. */
  readonly at: "start" | "end" | "within";
  readonly library: string;
  readonly terminal: string;
}

/** What the guard calls the `pin.policy` action, in prompts and messages. */
const POLICY_ACTION: Phrase = { at: "within", library: "let force stand in for the PIN", terminal: "let --force stand in for the PIN" };

const MESSAGE_PHRASES: readonly Phrase[] = [
  {
    code: "E_FORCE_DISALLOWED",
    at: "start",
    library: "force is not allowed: the PIN owner has not allowed it (allow_force in the PIN file's policy), ",
    terminal: "--force is not allowed: the PIN owner has not allowed it (expflow pin policy --allow-force), ",
  },
  { code: "E_FORCE_DISALLOWED", at: "start", library: "force is not allowed: ", terminal: "--force is not allowed: " },
  {
    code: "E_CONFIG",
    at: "end",
    library: "a configuration file can only forbid force in place of the PIN (false); allowing it is the PIN owner's choice",
    terminal: "a configuration file can only forbid --force (false); allowing it is the PIN owner's choice",
  },
  POLICY_ACTION,
];

const LIBRARY_CHANNELS = "EXPFLOW_PIN in the environment, the pinStdin option (one line on standard input), the pin option, or a prompt on a terminal";
const TERMINAL_CHANNELS = "EXPFLOW_PIN in the environment, --pin-stdin (one line on standard input), --pin PIN, or run it on a terminal to be asked";

/** Library hints the terminal says in its own words, whole: [code, library, terminal]. */
const HINTS: readonly (readonly [code: string, library: string, terminal: string])[] = [
  ["E_PIN_REQUIRED", `supply it with ${LIBRARY_CHANNELS}`, `supply it with ${TERMINAL_CHANNELS}`],
  [
    "E_FORCE_DISALLOWED",
    `supply the PIN instead: ${LIBRARY_CHANNELS}`,
    `without a terminal, pass the PIN as EXPFLOW_PIN in the environment or on standard input with --pin-stdin (printf '%s\\n' "$PIN" | expflow ... --pin-stdin)`,
  ],
  [
    "E_PROTECTION_BROKEN",
    "the damage is now recorded there; verifyAudit shows it. Restore the log from a backup, or run the command again to go on with the log as it is",
    "the damage is now recorded there; `expflow audit log --verify` shows it. Restore the log from a backup, or run the command again to go on with the log as it is",
  ],
  [
    "E_CONFIG",
    "remove the key, or set it to false; the PIN owner allows force in the PIN file's policy (allow_force), a change that asks the PIN",
    "remove the key, or set it to false; the PIN owner allows --force with `expflow pin policy --allow-force` (asks the PIN)",
  ],
  [
    "E_REGISTRY_NOT_FOUND",
    "check the path; the configured registry is `registry:` in expflow.yaml, else EXPFLOW_REGISTRY, else experiments.jsonl in EXPFLOW_HOME",
    "pass --registry FILE, set `registry:` in expflow.yaml or EXPFLOW_REGISTRY, or point EXPFLOW_HOME at the directory holding experiments.jsonl",
  ],
  ["E_APPROVAL_NOT_FOUND", "list the requests (every one, decided ones too) to find its id", "`expflow approvals --all` lists every request, decided ones too"],
  [
    "E_TASK_NOT_FOUND",
    "check the task id (the ID in the ClearML web app's task info); listing the tasks of its project shows them",
    "check the task id (the ID in the ClearML web app's task info); `expflow clearml tasks --project P` lists them",
  ],
];

/** Phrases of library hints, said with the flag (`noRepo`: `--no-repo`), in the errors of their codes. */
const HINT_PHRASES: readonly Phrase[] = [
  ...["E_NO_REPOSITORY", "E_NO_REMOTE", "E_GIT_MISSING"].map((code) => ({
    code,
    at: "within" as const,
    library: "set noRepo to send no repository",
    terminal: "pass --no-repo to send no repository",
  })),
  // The library's words are app/audit.ts's RULES_CONFIG_HINT_END (not imported: this module loads at start-up).
  { code: "E_CONFIG", at: "end", library: "fix it there, or name another rule file with the rules option", terminal: "fix it there, or pass --rules FILE" },
  { code: "E_METRIC_DIRECTION", at: "start", library: "rank it with the ascending (lowest first) or descending option", terminal: "pass --ascending (lowest first) or --descending" },
];

function swap(text: string, phrase: Phrase): string {
  const { library, terminal } = phrase;
  if (phrase.at === "start") return text.startsWith(library) ? terminal + text.slice(library.length) : text;
  if (phrase.at === "end") return text.endsWith(library) ? text.slice(0, text.length - library.length) + terminal : text;
  const i = text.indexOf(library);
  return i < 0 ? text : text.slice(0, i) + terminal + text.slice(i + library.length);
}

/** Replaces the first `from` in `text` (literally: no `$` patterns, no regular expression). */
function replaceFirst(text: string, from: string, to: string): string {
  const i = text.indexOf(from);
  return i < 0 ? text : text.slice(0, i) + to + text.slice(i + from.length);
}

/** How the terminal shows a qualified metric name in use, by the field that named the ambiguous one. */
function ambiguousExample(field: string, qualified: string): string | undefined {
  if (field === "gates") return `--gate '${qualified}:...'`;
  if (field === "pareto") return `--pareto '${qualified}:...'`;
  if (field === "rules") return `a rule pack (--rules FILE) whose metric rule has name: ${qualified}`;
  const flag = flagOf(field);
  return flag === undefined ? undefined : `${flag} '${qualified}'`;
}

/** The terminal's words for declaring a metric: the command that does it. */
export function declareMetricCommand(name = "NAME"): string {
  return `declare it: \`expflow metrics add ${name === "NAME" ? name : shellQuote(name)} --direction lower|higher\``;
}

/** The codes whose hints say how to declare a metric ({@link declareMetricHint}). */
const DECLARING_CODES = new Set(["E_UNKNOWN_METRIC", "E_METRIC_VALIDATION", "E_METRIC_DIRECTION"]);

/** `text` with the library's words for declaring a metric (named `value`, or `NAME`) said with the command. */
function declaring(text: string, value: string | undefined): string {
  for (const name of value === undefined ? ["NAME"] : [value, "NAME"]) text = replaceFirst(text, declareMetricHint(name), declareMetricCommand(name));
  return text;
}

/**
 * The message and hint of a library error as the terminal says them: the field at fault named by
 * its flag (`unknown metric 'x' in --sort-by`), the library's phrases for the force policy, the
 * PIN channels and the audit log's verification said with the flags and commands that do them.
 * Anything else passes through as the library worded it.
 */
export function terminalWording(e: ExpflowError): { message: string; hint: string | undefined } {
  let message = e.message;
  let hint = e.hint;
  const flag = flagOf(e.field);
  if (flag !== undefined && e.value !== undefined) message = replaceFirst(message, `'${e.value}' in ${e.field}`, `'${e.value}' in ${flag}`);
  for (const phrase of MESSAGE_PHRASES) if (phrase.code === undefined || phrase.code === e.code) message = swap(message, phrase);
  if (e.code === "E_METRIC_AMBIGUOUS" && e.field !== undefined && e.suggestion !== undefined) {
    const example = ambiguousExample(e.field, e.suggestion);
    if (example !== undefined) hint = `name one of them instead, e.g. ${example}`;
  }
  for (const [code, library, terminal] of HINTS) if (code === e.code && hint === library) hint = terminal;
  if (DECLARING_CODES.has(e.code) && hint !== undefined) hint = declaring(hint, e.value);
  for (const phrase of HINT_PHRASES) if (hint !== undefined && phrase.code === e.code) hint = swap(hint, phrase);
  return { message, hint };
}

/** A prompt of the guard (`PIN to let force stand in for the PIN:`) as the terminal says it. */
export function terminalPrompt(text: string): string {
  return swap(text, POLICY_ACTION);
}
