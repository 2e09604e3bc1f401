/**
 * The `script` section of a ClearML task, built from a working directory and a command so that
 * clearml-agent can run the command where it checks the repository out: what `clearml-task
 * --folder` fills in, with the agent's handling of each field taken into account.
 *
 * What the agent does with the section (clearml-agent 1.9, `clearml_agent/commands/worker.py`
 * and `clearml_agent/helper/base.py`), which shapes every rule here:
 *
 * - `entry_point` and `working_dir` are loaded through `expanduser`, `expandvars` (its own
 *   environment's `$NAME` and `${NAME}`, wherever they stand, quotes or not) and `normpath`
 *   (`a//b`, `a/./b`, `a/../b` and a trailing `/` rewritten) before anything else.
 * - A `python*` binary runs `python -u <entry_point>` with the entry point as ONE argument, unless
 *   it starts with `-m`: then it is split into words as a POSIX shell would (`shlex.split`).
 * - A `bash`/`sh`/`zsh` binary with an entry point `-c <line>` runs `$SHELL -c <line>` (its own
 *   `$SHELL`, default `/bin/bash`), where `<line>` is the entry point's words after `-c` joined by
 *   single spaces: every run of whitespace (Python's `str.split`, Unicode spaces included) becomes
 *   one space, inside quotes too. Nothing puts the venv's `bin` first on `PATH` for it; the agent
 *   only sets `PYTHONPATH` to its environment's paths.
 * - It clones `repository`, checks out `version_num` (else the tag, else the branch), applies
 *   `diff` with `git apply --unidiff-zero` at the repository root, and runs in
 *   `<root>/<working_dir>`. With no repository it runs in an empty directory of its own.
 * - Requirements come from `script.requirements.pip` when the key is present (even empty), else
 *   from each `requirements.txt` between the repository root and the entry point's directory.
 *
 * POSIX paths only (the agent wants `/` separators).
 */
import { spawn } from "node:child_process";
import { open, realpath, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { BackendError, NotFoundError, UsageError } from "../../core/errors.js";
import { shellQuote } from "../../util/shell.js";

/** The `script` section of `tasks.create`, as clearml-agent reads it. */
export interface ScriptSpec {
  /** The remote's URL, with no credentials (ssh `git@host:path` URLs as they are). Absent with `noRepo`. */
  repository?: string;
  /** The current branch, as the remote names it; absent on a detached HEAD and with `noRepo`. */
  branch?: string;
  /** The full commit id of HEAD, which the agent checks out. Absent with `noRepo`. */
  version_num?: string;
  /** What the agent runs: a script path relative to `working_dir`, `-m module args`, or `-c <shell line>`. */
  entry_point: string;
  /** The working directory relative to the repository root, `.` at the root (and with `noRepo`). */
  working_dir: string;
  /** `python`, `python3`, `python3.11` (the agent picks that Python version), or `/bin/bash`. */
  binary: string;
  /** The uncommitted changes of tracked files against `version_num`, binary-safe; absent when there are none. */
  diff?: string;
  /** The text of the `requirements.txt` the agent would install; absent when none is sent. */
  requirements?: { pip: string };
}

/** What {@link describeScript} returns. */
export interface ScriptDescription {
  /** The task's `script` section. */
  script: ScriptSpec;
  /** The command as the user gave it (the argv shell-quoted; with `shell`, the words joined as given). */
  display: string;
  /** What the user should know about how the agent will run it, one sentence each. */
  notes: string[];
}

/** One git call's outcome. */
export interface GitResult {
  /** The exit code; `null` when a signal ended git (a timeout among them). */
  code: number | null;
  /** Standard output, at most the `maxStdoutBytes` asked for. */
  stdout: Buffer;
  /** How many bytes git wrote to standard output in all (more than `stdout` holds when it was cut). */
  stdoutBytes: number;
  /** Set when git wrote so much that it was stopped: `stdoutBytes` is then a lower bound. */
  stdoutStopped?: boolean;
  /** Standard error, decoded, cut at 64 KiB. */
  stderr: string;
  /** Set when git was killed at the timeout. */
  timedOut?: boolean;
}

/** How one git call is made. */
export interface GitCallOptions {
  /** The directory git runs in. */
  cwd: string;
  /** Standard output kept beyond this many bytes is dropped (and counted). */
  maxStdoutBytes: number;
  /** Git is killed (SIGKILL) after this long. */
  timeoutMs: number;
}

/**
 * Runs `git <args>` (no shell). May reject with a Node error whose `code` is `ENOENT` when git is
 * not installed; {@link describeScript} turns that into `E_GIT_MISSING`.
 */
export type GitRunner = (args: readonly string[], options: GitCallOptions) => Promise<GitResult>;

/** Reads at most `maxBytes + 1` bytes of a regular file; `undefined` when there is no such file. */
export type BoundedFileReader = (path: string, maxBytes: number) => Promise<Uint8Array | undefined>;

/** What {@link describeScript} needs. */
export interface DescribeScriptInput {
  /** The directory the command runs in locally. */
  cwd: string;
  /** The command, its first word the program, the parameters (`--k v`) included. */
  argv: readonly string[];
  /** The words form one shell command line, joined by spaces as given (not quoted). */
  shell: boolean;
  /** Send nothing of git: the agent runs the command in a fresh, empty directory. */
  noRepo: boolean;
  /** Runs git (default: {@link spawnGit} with `env`). */
  git?: GitRunner;
  /** Reads `requirements.txt` (default: the file system, bounded). */
  readFile?: BoundedFileReader;
  /** The environment git runs with, before expflow's own settings (default: `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** The largest diff sent, in bytes of UTF-8 (default {@link DEFAULT_MAX_DIFF_BYTES}). */
  maxDiffBytes?: number;
  /** The largest `requirements.txt` sent, in bytes (default {@link DEFAULT_MAX_REQUIREMENTS_BYTES}). */
  maxRequirementsBytes?: number;
  /** The time one git call may take, in ms (default {@link DEFAULT_GIT_TIMEOUT_MS}). */
  gitTimeoutMs?: number;
}

/**
 * The largest diff sent with a task: 500,000 bytes, the figure of the ClearML SDK
 * (`ScriptInfo.max_diff_size_bytes`), which stores no larger diff in a task either (it stores a
 * placeholder and uploads the diff as an artifact; expflow refuses instead).
 */
export const DEFAULT_MAX_DIFF_BYTES = 500_000;

/** The largest `requirements.txt` sent: 512 KiB, the SDK's bound on the requirements it stores (`ScriptRequirements._max_requirements_size`). */
export const DEFAULT_MAX_REQUIREMENTS_BYTES = 512 * 1024;

/** How long one git call may take by default: 30 s. */
export const DEFAULT_GIT_TIMEOUT_MS = 30_000;

/** Output kept from git calls other than the diff and the status. */
const SMALL_OUTPUT_BYTES = 1024 * 1024;
/** Output kept from `git status` (to count untracked files). */
const STATUS_OUTPUT_BYTES = 16 * 1024 * 1024;
/** Git is stopped once it has written this much, whatever is kept: enough to say how large a diff is. */
const HARD_OUTPUT_BYTES = 256 * 1024 * 1024;
const STDERR_CHARS = 64 * 1024;

// Git's long options are spelled through opt(): the library's string literals are checked for
// expflow's command-line flags (test/library-messages.test.ts), and git's arguments are not ones.
function opt(name: string): string {
  return "--" + name;
}

const DIFF_HEADER = `diff ${opt("git")} `;

/** What git runs with: no prompt, no pager, C messages, no optional index writes by `git status`. */
function gitEnvironment(base: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  return { ...env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", GIT_PAGER: "cat", PAGER: "cat", GIT_OPTIONAL_LOCKS: "0" };
}

/**
 * The default {@link GitRunner}: spawns `git --no-pager <args>` without a shell, standard input
 * closed, with `GIT_TERMINAL_PROMPT=0`, `LC_ALL=C`, `GIT_PAGER=cat` and `GIT_OPTIONAL_LOCKS=0` over
 * `env` (default `process.env`). Standard output beyond `maxStdoutBytes` is counted, not kept;
 * past 256 MiB git is stopped. At `timeoutMs` git is killed and `timedOut` set.
 *
 * @throws (rejects) the spawn error when git cannot be started (`code` `ENOENT`: not installed).
 */
export function spawnGit(args: readonly string[], options: GitCallOptions & { env?: Readonly<Record<string, string | undefined>> }): Promise<GitResult> {
  return new Promise((settle, fail) => {
    let done = false;
    const child = spawn("git", [opt("no-pager"), ...args], {
      cwd: options.cwd,
      env: gitEnvironment(options.env ?? process.env),
      stdio: ["ignore", "pipe", "pipe"],
      shell: false,
    });
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let total = 0;
    let stopped = false;
    let timedOut = false;
    let stderr = "";
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      total += chunk.length;
      if (keptBytes < options.maxStdoutBytes) {
        const part = chunk.subarray(0, options.maxStdoutBytes - keptBytes);
        kept.push(part);
        keptBytes += part.length;
      }
      if (total > HARD_OUTPUT_BYTES && !stopped) {
        stopped = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < STDERR_CHARS) stderr += chunk.toString("utf8").slice(0, STDERR_CHARS - stderr.length);
    });
    child.on("error", (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      fail(e);
    });
    child.on("close", (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      settle({ code, stdout: Buffer.concat(kept), stdoutBytes: total, stderr, ...(stopped ? { stdoutStopped: true } : {}), ...(timedOut ? { timedOut: true } : {}) });
    });
  });
}

/** The default {@link BoundedFileReader}: a regular file's first `maxBytes + 1` bytes; `undefined` when missing or not a file. */
async function readBounded(path: string, maxBytes: number): Promise<Uint8Array | undefined> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

function isMissing(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}

// ---------------------------------------------------------------------------------------------
// What survives the agent's handling of an entry point

/** The characters Python's `str.split()` and `str.strip()` treat as whitespace. */
const PY_WHITESPACE = "\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";
const PY_WHITESPACE_RUN = new RegExp(`[${PY_WHITESPACE}]+`, "u");

/** `" ".join(s.split())` in Python: runs of whitespace made one space, none at the ends. */
function collapseWhitespace(s: string): string {
  return s
    .split(PY_WHITESPACE_RUN)
    .filter((w) => w !== "")
    .join(" ");
}

/** Python's `posixpath.normpath`, which the agent applies to entry points and working directories. */
function normpath(p: string): string {
  if (p === "") return ".";
  const leading = p.startsWith("//") && !p.startsWith("///") ? 2 : p.startsWith("/") ? 1 : 0;
  const parts: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") {
        parts.pop();
        continue;
      }
      if (leading > 0) continue;
    }
    parts.push(part);
  }
  const out = "/".repeat(leading) + parts.join("/");
  return out === "" ? "." : out;
}

/** Where `expandvars` may replace text with the agent's environment: `$` then a name character or `{`. */
const EXPANDABLE = /\$[A-Za-z0-9_{]/;

/** Whether the agent's loading (`expanduser`, `expandvars`, `normpath`) leaves `value` exactly as it is, whatever its environment. */
function survivesLoading(value: string): boolean {
  return !value.startsWith("~") && !EXPANDABLE.test(value) && normpath(value) === value;
}

function describeChar(c: string): string {
  const names: Record<string, string> = { "\t": "tab", "\n": "newline", "\r": "carriage return", "\u000b": "vertical tab", "\u000c": "form feed", "\u00a0": "no-break space" };
  const code = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  return names[c] === undefined ? code : `${code} (${names[c]})`;
}

/** Words a shell (sh, dash, bash, zsh) reads as themselves: no `=` first (zsh), no `^` (zsh), no `~`. */
const AGENT_SAFE_WORD = /^[A-Za-z0-9_+.,:@%/-][A-Za-z0-9_+.,:@%/=-]*$/;

/**
 * One word, quoted for a POSIX shell line that the agent loads and that `sh -c` or `shlex.split`
 * then reads back as exactly `word`. Single quotes, with the quote closed and reopened (`''`,
 * which adds nothing) where the agent would otherwise rewrite the text: after a `$` followed by a
 * name character or `{` (expandvars), after a `/` followed by `/` or `.` (normpath), and between
 * two spaces (the agent's whitespace collapsing, which keeps single spaces).
 */
function quoteWordForAgent(word: string): string {
  if (AGENT_SAFE_WORD.test(word) && !/\/[/.]/.test(word) && !word.endsWith("/")) return word;
  let out = "'";
  for (let i = 0; i < word.length; i++) {
    const c = word[i]!;
    const next = word[i + 1];
    if (c === "'") out += `'\\''`;
    else if (c === "$" && next !== undefined && /[A-Za-z0-9_{]/.test(next)) out += "$''";
    else if (c === "/" && (next === "/" || next === ".")) out += "/''";
    else if (c === " " && next === " ") out += " ''";
    else out += c;
  }
  return `${out}'`;
}

/** Throws for what no quoting carries through the agent: NUL anywhere; for a `-c` line, whitespace other than spaces. */
function checkWords(argv: readonly string[], collapsing: boolean): void {
  argv.forEach((word, i) => {
    if (word.includes("\0")) {
      throw new UsageError("E_COMMAND_NOT_PORTABLE", `argument ${i} of the command holds a NUL character, which no command line can carry`, { field: "argv", value: word.replace(/\0/g, "\\0") });
    }
    if (!collapsing) return;
    const bad = [...word].find((c) => c !== " " && PY_WHITESPACE.includes(c));
    if (bad !== undefined) {
      throw new UsageError(
        "E_COMMAND_NOT_PORTABLE",
        `argument ${i} of the command (${JSON.stringify(word)}) holds a ${describeChar(bad)}: clearml-agent joins the words of a shell command with single spaces, so it would not reach the program as it is`,
        { hint: "put the value in a file of the repository and pass the file's path, or run the command from a script in the repository", field: "argv", value: word },
      );
    }
  });
}

/**
 * The argv as one POSIX shell line that survives clearml-agent's handling of a `-c` entry point
 * (whitespace collapsed, `$NAME` expanded, paths normalised) and of a `-m` one (`shlex.split`):
 * `sh -c <line>` (or `shlex.split(<line>)`) gives back exactly `argv`.
 *
 * @param forShellLine `true` (default) for a `-c` line: whitespace other than spaces is refused,
 *   since the agent turns it into spaces; `false` for a `-m` entry point, which `shlex` splits
 *   with quotes respected.
 * @throws {UsageError} `E_COMMAND_NOT_PORTABLE` (exit 2) for a NUL character, or (for a shell
 *   line) a tab, newline or other whitespace than a space in a word.
 */
export function quoteForAgent(argv: readonly string[], forShellLine = true): string {
  checkWords(argv, forShellLine);
  const line = argv.map(quoteWordForAgent).join(" ");
  // The quoting's own guarantee, checked: the agent's rewrites leave the line as it is.
  const entryPoint = `${forShellLine ? "-c" : "-m"} ${line}`;
  if (!survivesLoading(entryPoint) || (forShellLine && agentShellLine(entryPoint) !== line)) {
    throw new Error(`internal: the quoted command ${JSON.stringify(line)} would not survive clearml-agent`);
  }
  return line;
}

// ---------------------------------------------------------------------------------------------
// The command: Python script, Python module, or anything else

const PYTHON_PROGRAM = /^python(\d+(\.\d+)?)?$/;
const MODULE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Modules a Python interpreter may have imported before `-m` looks its name up (CPython 3.11 with
 * the usual site hooks): `-m <name>` would run the loaded one, not a script of that name.
 */
const PRELOADED_MODULES = new Set(
  (
    "abc atexit binascii bisect builtins bz2 codecs collections contextlib copyreg encodings enum errno fnmatch functools " +
    "genericpath importlib io ipaddress itertools keyword lzma marshal math ntpath operator os pathlib posix posixpath random " +
    "re reprlib runpy shutil site sitecustomize usercustomize stat struct sys tempfile threading time types typing urllib " +
    "warnings weakref zipfile zipimport zlib"
  ).split(" "),
);

type Shape =
  | { kind: "script"; python: string; script: string; args: string[]; bare: boolean }
  | { kind: "module"; python: string; module: string; args: string[] }
  | { kind: "command" };

/** What kind of command `argv` is: `python[X[.Y]] file.py ...`, `python -m pkg ...`, a bare `file.py ...`, or any other. */
function shapeOf(argv: readonly string[], shell: boolean): Shape {
  if (shell) return { kind: "command" };
  const program = basename(argv[0]!);
  if (PYTHON_PROGRAM.test(program)) {
    const first = argv[1];
    if (first !== undefined && !first.startsWith("-") && first.toLowerCase().endsWith(".py")) {
      return { kind: "script", python: program, script: first, args: argv.slice(2), bare: false };
    }
    if (first === "-m" && argv[2] !== undefined && MODULE_NAME.test(argv[2])) return { kind: "module", python: program, module: argv[2], args: argv.slice(3) };
    return { kind: "command" };
  }
  if (argv[0]!.toLowerCase().endsWith(".py") && !argv[0]!.startsWith("-")) return { kind: "script", python: "python3", script: argv[0]!, args: argv.slice(1), bare: true };
  return { kind: "command" };
}

interface Launch {
  binary: string;
  entry_point: string;
}

const SHELL_BINARY = "/bin/bash";

function shellLaunch(argv: readonly string[], shell: boolean, notes: string[]): Launch {
  return { binary: SHELL_BINARY, entry_point: `-c ${shell ? shellLine(argv, notes) : quoteForAgent(argv)}` };
}

/** What the agent makes of a `-c` entry point: loaded (`normpath`), then the words after `-c` joined by single spaces. */
function agentShellLine(entryPoint: string): string {
  return collapseWhitespace(normpath(entryPoint)).split(" ").slice(1).join(" ");
}

/** A `shell` command's line, as given, if it reaches the shell unchanged. */
function shellLine(argv: readonly string[], notes: string[]): string {
  checkWords(argv, false);
  const line = argv.join(" ").replace(/^ +| +$/g, "");
  const agentLine = agentShellLine(`-c ${line}`);
  if (agentLine !== line) {
    const why =
      collapseWhitespace(line) !== line
        ? "joins the words of a shell command with single spaces (tabs, newlines and runs of spaces turned into one space, inside quotes too)"
        : "normalises an entry point as a path (a//b, a/./b and a/../b shortened, a trailing / dropped)";
    throw new UsageError("E_COMMAND_NOT_PORTABLE", `clearml-agent ${why}, so it would run ${JSON.stringify(agentLine)} instead of ${JSON.stringify(line)}`, {
      hint: "give the command as separate words rather than one shell line, so that each word is quoted to survive, or run it from a script in the repository",
      field: "argv",
      value: line,
    });
  }
  if (EXPANDABLE.test(line)) {
    notes.push("clearml-agent replaces $NAME and ${NAME} in the command with its own environment's values before the shell reads it, inside single quotes too; names it does not have are left to the shell");
  }
  return line;
}

/** `python -u <entry point>` for a script run with no arguments, if the agent reads the path as it is. */
function scriptEntryPoint(path: string): string | undefined {
  if (path === "" || path.startsWith("-") || !survivesLoading(path) || path.trim() !== path) return undefined;
  return path;
}

function moduleLaunch(python: string, module: string, args: readonly string[]): Launch {
  return { binary: python, entry_point: `-m ${module}${args.length > 0 ? ` ${quoteForAgent(args, false)}` : ""}` };
}

const VIA_SHELL_NOTE =
  "this Python command runs through the agent's shell, so its python is the first on the agent's PATH, not the one of the virtual environment the agent builds (whose packages reach it through PYTHONPATH, which works when both are the same Python version)";

/** How the agent's run of `launch` reads, for notes: `python3 -u train.py`, `$SHELL -c '...'`. */
function agentCommand(launch: Launch): string {
  if (launch.binary === SHELL_BINARY) return `$SHELL -c ${shellQuote(launch.entry_point.slice(3))}`;
  return `${launch.binary} -u ${launch.entry_point.startsWith("-m ") ? launch.entry_point : shellQuote(launch.entry_point)}`;
}

// ---------------------------------------------------------------------------------------------
// git

interface Context {
  git: GitRunner;
  timeoutMs: number;
}

/** `scheme://user:password@host/...` with the user information removed (https, http...), or the password only (ssh). */
export function stripCredentials(url: string): { url: string; stripped: boolean } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(url);
  if (m === null) return { url, stripped: false };
  const [, scheme = "", authority = "", rest = ""] = m;
  const at = authority.lastIndexOf("@");
  if (at < 0) return { url, stripped: false };
  const userinfo = authority.slice(0, at);
  const host = authority.slice(at + 1);
  if (/^ssh:\/\/$|^git\+ssh:\/\/$|^ssh\+git:\/\/$/i.test(scheme)) {
    const colon = userinfo.indexOf(":");
    return colon < 0 ? { url, stripped: false } : { url: `${scheme}${userinfo.slice(0, colon)}@${host}${rest}`, stripped: true };
  }
  return { url: `${scheme}${host}${rest}`, stripped: true };
}

/** Removes credentials from any URL in a text (git's messages may quote a remote's URL). */
function redact(text: string): string {
  return text.replace(/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s'"]+/g, (u) => stripCredentials(u).url);
}

function firstLines(text: string): string {
  const lines = redact(text).split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const joined = lines.slice(0, 3).join(" / ");
  return joined.length > 500 ? `${joined.slice(0, 500)}...` : joined;
}

async function git(ctx: Context, args: readonly string[], cwd: string, maxStdoutBytes = SMALL_OUTPUT_BYTES): Promise<GitResult> {
  let result: GitResult;
  try {
    result = await ctx.git(args, { cwd, maxStdoutBytes, timeoutMs: ctx.timeoutMs });
  } catch (e) {
    if ((e as { code?: unknown } | null)?.code === "ENOENT") {
      throw new UsageError("E_GIT_MISSING", "git is not installed (or not on PATH): the task's repository, commit and changes are read with it", {
        hint: "install git, or set noRepo to send no repository (the command must then be self-contained)",
        cause: e,
      });
    }
    throw e;
  }
  if (result.timedOut === true) {
    throw new BackendError("E_GIT_TIMEOUT", `git ${args[0] ?? ""} did not finish within ${Math.round(ctx.timeoutMs / 1000)} s in ${cwd}`, {
      hint: "check that the repository's disk answers and that no other git command holds it; a larger timeout can be given",
    });
  }
  return result;
}

function gitFailed(args: readonly string[], result: GitResult, cwd: string): UsageError {
  return new UsageError("E_GIT_FAILED", `git ${args[0] ?? ""} failed in ${cwd} (exit ${result.code ?? "by signal"}): ${firstLines(result.stderr) || "no message"}`, {
    hint: "run git status there to see what git says about the repository",
  });
}

/** Standard output as text, one trailing newline removed. */
function text(result: GitResult): string {
  const s = result.stdout.toString("utf8");
  return s.endsWith("\n") ? s.slice(0, -1) : s;
}

async function gitText(ctx: Context, args: readonly string[], cwd: string): Promise<string> {
  const result = await git(ctx, args, cwd);
  if (result.code !== 0) throw gitFailed(args, result, cwd);
  return text(result);
}

const NO_REPO_HINT = "run it from a clone of a repository the agent can reach, or set noRepo to send no repository (the command must then be self-contained)";

interface Repository {
  root: string;
  workingDir: string;
  workingDirAbs: string;
  remote: string;
  url: string;
  branch: string | undefined;
  commit: string;
}

async function repositoryOf(ctx: Context, cwd: string, notes: string[]): Promise<Repository> {
  const top = await git(ctx, ["rev-parse", opt("show-toplevel")], cwd);
  if (top.code !== 0) {
    if (/not a git repository/i.test(top.stderr)) {
      throw new UsageError("E_NO_REPOSITORY", `${cwd} is not in a git repository: clearml-agent runs a task from a clone of its repository`, { hint: NO_REPO_HINT });
    }
    throw gitFailed(["rev-parse"], top, cwd);
  }
  const root = text(top);
  const prefix = await gitText(ctx, ["rev-parse", opt("show-prefix")], cwd);
  const workingDir = prefix === "" ? "." : prefix.replace(/\/$/, "");
  if (!survivesLoading(workingDir) || workingDir.trim() !== workingDir) {
    throw new UsageError("E_WORKING_DIR_NOT_PORTABLE", `the working directory ${JSON.stringify(workingDir)} (relative to the repository root) would be rewritten by clearml-agent, which expands $NAME and normalises paths`, {
      hint: "run the command from a directory whose path has no $ and no leading ~",
    });
  }

  const head = await git(ctx, ["rev-parse", opt("verify"), "-q", "HEAD^{commit}"], root);
  if (head.code !== 0) {
    throw new UsageError("E_NO_COMMIT", `the repository at ${root} has no commit yet: clearml-agent checks a commit out`, { hint: "commit (and push) the code first" });
  }
  const commit = text(head);

  const symbolic = await git(ctx, ["symbolic-ref", "-q", "HEAD"], root);
  const localBranch = symbolic.code === 0 && text(symbolic).startsWith("refs/heads/") ? text(symbolic).slice("refs/heads/".length) : undefined;

  let upstream: { remote: string; branch: string | undefined; ref: string } | undefined;
  if (localBranch !== undefined) {
    const line = await gitText(ctx, ["for-each-ref", `${opt("format")}=%(upstream:remotename)%00%(upstream:remoteref)%00%(upstream)`, `refs/heads/${localBranch}`], root);
    const [remote = "", remoteRef = "", trackingRef = ""] = line.split("\0");
    if (remote !== "" && remote !== ".") upstream = { remote, branch: remoteRef.startsWith("refs/heads/") ? remoteRef.slice("refs/heads/".length) : undefined, ref: trackingRef };
  }

  const remotes = (await gitText(ctx, ["remote"], root)).split("\n").filter((r) => r !== "");
  let remote: string;
  if (upstream !== undefined && remotes.includes(upstream.remote)) remote = upstream.remote;
  else if (remotes.includes("origin")) remote = "origin";
  else if (remotes.length === 1) remote = remotes[0]!;
  else if (remotes.length === 0) {
    throw new UsageError("E_NO_REMOTE", `the repository at ${root} has no remote: clearml-agent clones the task's repository from its remote`, {
      hint: "add one and push (git remote add origin URL, then git push -u origin HEAD), or set noRepo to send no repository (the command must then be self-contained)",
    });
  } else {
    throw new UsageError("E_AMBIGUOUS_REMOTE", `the repository at ${root} has several remotes (${remotes.join(", ")}), none named origin nor the upstream of ${localBranch === undefined ? "HEAD" : `'${localBranch}'`}: which one the agent should clone is not clear`, {
      hint: `set the branch's upstream (git push -u REMOTE ${localBranch ?? "BRANCH"})`,
    });
  }

  const rawUrl = await gitText(ctx, ["remote", "get-url", remote], root);
  const { url: cleanUrl, stripped } = stripCredentials(rawUrl);
  if (stripped) notes.push(`the URL of remote '${remote}' carries credentials: they are left out of the task, and the agent clones with its own git credentials`);
  let url = cleanUrl;
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url);
  const scpLike = !hasScheme && /^[^/]+:/.test(url);
  if (!hasScheme && !scpLike) {
    url = resolve(root, url);
    notes.push(`remote '${remote}' is a local path (${url}): only an agent that sees the same path can clone it`);
  } else if (/^file:\/\//i.test(url)) {
    notes.push(`remote '${remote}' is a local path (${url}): only an agent that sees the same path can clone it`);
  }

  const branch = upstream !== undefined && upstream.remote === remote ? (upstream.branch ?? localBranch) : localBranch;

  const containing = await git(ctx, ["for-each-ref", `${opt("count")}=1`, opt("contains"), commit, `${opt("format")}=%(refname)`, `refs/remotes/${remote}/`], root);
  if (containing.code === 0 && text(containing) === "") {
    let ahead = "";
    if (upstream !== undefined && upstream.remote === remote && upstream.ref !== "") {
      const count = await git(ctx, ["rev-list", opt("count"), `${upstream.ref}..${commit}`], root);
      const n = Number(text(count));
      if (count.code === 0 && Number.isInteger(n) && n > 0) {
        ahead = `; '${localBranch ?? "HEAD"}' is ${n} commit${n === 1 ? "" : "s"} ahead of '${upstream.ref.replace(/^refs\/remotes\//, "")}'`;
      }
    }
    notes.push(
      `commit ${commit.slice(0, 12)} is on no branch of remote '${remote}' (as of the last fetch)${ahead}: clearml-agent clones ${url} and cannot check out a commit the remote does not have, so the task will fail unless it is pushed first (git push)`,
    );
  } else if (containing.code !== 0) {
    throw gitFailed(["for-each-ref"], containing, root);
  }

  return { root, workingDir, workingDirAbs: workingDir === "." ? root : join(root, workingDir), remote, url, branch, commit };
}

/** Untracked files and changed submodules, from `git status`. */
async function leftOut(ctx: Context, root: string): Promise<{ untracked: number; atLeast: boolean; submodules: number }> {
  const args = ["status", opt("porcelain=v2"), "-z", opt("untracked-files=all"), opt("ignore-submodules=none")];
  const result = await git(ctx, args, root, STATUS_OUTPUT_BYTES);
  if (result.code !== 0) throw gitFailed(args, result, root);
  const cut = result.stdoutBytes > result.stdout.length || result.stdoutStopped === true;
  const entries = result.stdout.toString("utf8").split("\0");
  if (cut) entries.pop(); // the last entry may be cut short
  let untracked = 0;
  let submodules = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.startsWith("? ")) untracked++;
    else if (e.startsWith("1 ") || e.startsWith("2 ") || e.startsWith("u ")) {
      if (e.split(" ")[2]?.startsWith("S") === true) submodules++;
      if (e.startsWith("2 ")) i++; // a rename's original path follows as its own entry
    }
  }
  return { untracked, atLeast: cut, submodules };
}

/** The uncommitted changes of tracked files against HEAD, as `git apply` (the agent's) takes them. */
async function diffOf(ctx: Context, root: string, maxBytes: number): Promise<string | undefined> {
  // Binary-safe (--binary: base85 patches that git apply takes) and immune to the user's
  // configuration: colour, external diff tools, textconv filters and prefix settings all make
  // output that git apply refuses. Submodules are left out (see the note): their entries would
  // not start with a diff header, and the agent treats such a diff as a script to run.
  const args = ["diff", opt("binary"), opt("no-color"), opt("no-ext-diff"), opt("no-textconv"), `${opt("src-prefix")}=a/`, `${opt("dst-prefix")}=b/`, opt("ignore-submodules=all"), "HEAD", "--"];
  const result = await git(ctx, args, root, maxBytes + 1);
  if (result.stdoutBytes > maxBytes || result.stdoutStopped === true) {
    throw new UsageError(
      "E_DIFF_TOO_LARGE",
      `the uncommitted changes in ${root} make a diff of ${result.stdoutStopped === true ? "more than " : ""}${result.stdoutBytes.toLocaleString("en-US")} bytes, more than the ${maxBytes.toLocaleString("en-US")} a task carries`,
      { hint: "commit and push the changes the run needs (git diff HEAD shows them all), and stash or discard the others" },
    );
  }
  if (result.code !== 0) throw gitFailed(args, result, root);
  if (result.stdout.length === 0) return undefined;
  let diff: string;
  try {
    diff = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(result.stdout);
  } catch {
    throw new UsageError("E_DIFF_NOT_UTF8", `the uncommitted changes ${whereNotUtf8(result.stdout)} hold text that is not UTF-8: a task stores its diff as UTF-8 text, so it cannot carry it`, {
      hint: "commit and push that change, or mark the file binary in .gitattributes (a line: PATH binary) so that the diff carries it encoded",
    });
  }
  if (!diff.startsWith(DIFF_HEADER)) {
    // clearml-agent runs a diff that does not start with a diff header as a script.
    throw new UsageError("E_GIT_FAILED", `git diff in ${root} wrote something else than a diff (${JSON.stringify(diff.slice(0, 40))}...)`, { hint: "check the repository's git configuration (diff settings)" });
  }
  return diff;
}

/** `in a/x.txt` for the first file section of a diff that is not UTF-8. */
function whereNotUtf8(diff: Buffer): string {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const marker = Buffer.from(`\n${DIFF_HEADER}`);
  const starts = [0];
  for (let i = diff.indexOf(marker); i >= 0; i = diff.indexOf(marker, i + 1)) starts.push(i + 1);
  for (let k = 0; k < starts.length; k++) {
    const section = diff.subarray(starts[k], starts[k + 1] ?? diff.length);
    try {
      decoder.decode(section);
    } catch {
      const header = section.subarray(0, Math.max(0, section.indexOf(10))).toString("utf8");
      return `to ${JSON.stringify(header.slice(DIFF_HEADER.length))}`;
    }
  }
  return "";
}

async function isTracked(ctx: Context, root: string, repoPath: string): Promise<boolean> {
  const out = await gitText(ctx, ["ls-files", "-z", opt("cached"), "--", `:(literal)${repoPath}`], root);
  return out !== "";
}

// ---------------------------------------------------------------------------------------------
// requirements.txt

const REFERENCE_OPTIONS = new Set(["-r", "-c", "-e", opt("requirement"), opt("constraint"), opt("editable")]);

/** Whether a requirements file names files or directories relative to itself (`-r base.txt`, `-e .`, `./pkg`, `file:../x`). */
function namesRelativeFiles(requirements: string): boolean {
  for (const raw of requirements.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") continue;
    const option = /^(-[rce]|--[a-z]+)(?:\s*=\s*|\s+|(?=\S))(\S+)/.exec(line);
    const target = option !== null && REFERENCE_OPTIONS.has(option[1]!) ? option[2]! : line.split(/\s/)[0]!;
    if (target === "." || target.startsWith("./") || target.startsWith("../") || /^file:(?!\/)/.test(target)) return true;
    const fileOption = option !== null && option[1] !== "-e" && option[1] !== opt("editable") && REFERENCE_OPTIONS.has(option[1]!);
    if (fileOption && !target.startsWith("/") && !target.includes("://")) return true;
  }
  return false;
}

async function readRequirements(read: BoundedFileReader, path: string, maxBytes: number): Promise<string | undefined> {
  const bytes = await read(path, maxBytes);
  if (bytes === undefined) return undefined;
  if (bytes.length > maxBytes) {
    throw new UsageError("E_REQUIREMENTS_TOO_LARGE", `${path} is larger than the ${maxBytes.toLocaleString("en-US")} bytes a task's requirements carry`, { hint: "list only the packages the run needs" });
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError("E_REQUIREMENTS_NOT_UTF8", `${path} is not UTF-8 text`, { hint: "save it as UTF-8" });
  }
}

/**
 * The requirements to send in a repository: the agent installs every `requirements.txt` from the
 * root down to the working directory when the task has none. One such file is sent as it is
 * (it then shows in the task, and goes even when it is not committed); with several, or one in a
 * subdirectory that names files relative to itself (the agent installs a task's requirements from
 * the root), none is sent and the agent reads them from its checkout.
 */
async function repositoryRequirements(read: BoundedFileReader, repo: Repository, maxBytes: number, notes: string[]): Promise<{ pip: string } | undefined> {
  const dirs = [repo.root];
  if (repo.workingDir !== ".") {
    let dir = repo.root;
    for (const part of repo.workingDir.split("/")) dirs.push((dir = join(dir, part)));
  }
  const found: { dir: string; text: string }[] = [];
  for (const dir of dirs) {
    const t = await readRequirements(read, join(dir, "requirements.txt"), maxBytes);
    if (t !== undefined) found.push({ dir, text: t });
  }
  if (found.length === 0) return undefined;
  const names = found.map((f) => toPosix(relative(repo.root, join(f.dir, "requirements.txt"))));
  if (found.length > 1) {
    notes.push(`${names.join(", ")}: clearml-agent installs each of them from its checkout of the repository, so none is sent with the task (an uncommitted or untracked one must be committed for the agent to have it)`);
    return undefined;
  }
  const only = found[0]!;
  if (only.dir !== repo.root && namesRelativeFiles(only.text)) {
    notes.push(`${names[0]} names files relative to itself: clearml-agent installs it from its checkout of the repository, so it is not sent with the task`);
    return undefined;
  }
  return { pip: only.text };
}

function toPosix(p: string): string {
  return sep === "/" ? p : p.split(sep).join("/");
}

// ---------------------------------------------------------------------------------------------

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The launch of a Python script inside the repository (the script exists and is tracked). */
async function repositoryScriptLaunch(shape: Extract<Shape, { kind: "script" }>, argv: readonly string[], realScript: string, repo: Repository, notes: string[]): Promise<Launch> {
  const entry = toPosix(relative(repo.workingDirAbs, realScript));
  if (shape.args.length === 0) {
    const single = scriptEntryPoint(entry);
    if (single !== undefined) return { binary: shape.python, entry_point: single };
  } else if (!entry.includes("/") && entry.endsWith(".py")) {
    const stem = entry.slice(0, -".py".length);
    if (IDENTIFIER.test(stem) && !PRELOADED_MODULES.has(stem) && !(await isDirectory(join(dirname(realScript), stem)))) {
      notes.push(
        `clearml-agent hands python a script's path as one argument, so a script with arguments cannot run as one; ${entry} is in the working directory, so it runs as the module ${stem} (python -m ${stem} ...), which imports the same modules`,
      );
      return moduleLaunch(shape.python, stem, shape.args);
    }
  }
  notes.push(VIA_SHELL_NOTE);
  return shellLaunch(argv, false, notes);
}

/**
 * Builds the `script` section of a ClearML task that runs `argv` as the local run would, from the
 * git repository of `cwd` (or, with `noRepo`, from nothing of it).
 *
 * The repository: the remote is the current branch's upstream remote, else `origin`, else the
 * only one; its URL (with `insteadOf` rules applied) loses any `user:password@` (https) or
 * password (ssh URLs), a relative local path is made absolute. `branch` is the current branch as
 * its upstream names it (none on a detached HEAD), `version_num` the full id of HEAD, `diff` the
 * changes of tracked files against HEAD (staged or not; `git diff --binary HEAD`, immune to
 * colour, external-diff, textconv and prefix settings), `working_dir` the directory relative to
 * the root. A commit no remote-tracking branch of the remote contains is noted, not refused.
 * Untracked files and changed submodules are left out, with a note saying how many.
 *
 * The command:
 * - `python[X[.Y]] script.py` (or a bare `script.py`) with no arguments: binary `pythonX.Y` (the
 *   one named; `python3` for a bare script), entry point the script's path relative to
 *   `working_dir`. The script must be tracked (or staged).
 * - with arguments, the agent cannot pass them to a script (it hands python the entry point as one
 *   argument): a script in the working directory runs as `-m <name> args` (which the agent splits
 *   into words); any other runs through the shell (with a note: the agent's PATH python).
 * - `python -m pkg args`: binary python, entry point `-m pkg args`, each argument quoted.
 * - anything else, and every `shell` command: binary `/bin/bash`, entry point `-c <line>`, the
 *   line being the argv quoted to come through the agent unchanged (or, with `shell`, the words
 *   joined as given, refused when the agent would change it).
 *
 * Requirements: the one `requirements.txt` between the root and the working directory (in the
 * working directory with `noRepo`) as `{pip: text}`; see the notes when several are found.
 *
 * @returns the section, how the command is displayed, and notes for the user.
 * @throws {UsageError} (exit 2) `E_USAGE` for an empty command; `E_NO_DIRECTORY` when `cwd` is
 *   not a directory; `E_NO_REPOSITORY` outside a git repository and `E_NO_REMOTE` in one without
 *   a remote (both unless `noRepo`); `E_AMBIGUOUS_REMOTE` with several remotes and none chosen;
 *   `E_NO_COMMIT` before the first commit; `E_GIT_MISSING` when git is not installed (exit 2, not
 *   4: the user's machine lacks a tool, no backend failed, and `noRepo` is a way out);
 *   `E_GIT_FAILED` when git fails otherwise; `E_DIFF_TOO_LARGE` beyond `maxDiffBytes`;
 *   `E_DIFF_NOT_UTF8`; `E_COMMAND_NOT_PORTABLE` for an argument the agent cannot pass on (a NUL,
 *   or a tab, newline or other non-space whitespace in a shell command) or a `shell` line it would
 *   change; `E_WORKING_DIR_NOT_PORTABLE`; `E_SCRIPT_UNTRACKED`; `E_SCRIPT_NOT_SENT` for a
 *   relative script path with `noRepo`; `E_REQUIREMENTS_TOO_LARGE`, `E_REQUIREMENTS_NOT_UTF8`.
 *   {@link NotFoundError} `E_SCRIPT_NOT_FOUND` (exit 2) for `python x.py` without `x.py`.
 *   {@link BackendError} `E_GIT_TIMEOUT` (exit 4) when a git call outlasts `gitTimeoutMs`.
 */
export async function describeScript(input: DescribeScriptInput): Promise<ScriptDescription> {
  const argv = [...input.argv];
  if (argv.length === 0 || argv[0]!.trim() === "") throw new UsageError("E_USAGE", "no command to run", { field: "argv" });
  checkWords(argv, false);
  if (!(await isDirectory(input.cwd))) throw new UsageError("E_NO_DIRECTORY", `the working directory ${input.cwd} does not exist (or is not a directory)`, { hint: "run it from an existing directory" });
  const env = input.env ?? process.env;
  const ctx: Context = { git: input.git ?? ((args, options) => spawnGit(args, { ...options, env })), timeoutMs: input.gitTimeoutMs ?? DEFAULT_GIT_TIMEOUT_MS };
  const read = input.readFile ?? readBounded;
  const maxRequirements = input.maxRequirementsBytes ?? DEFAULT_MAX_REQUIREMENTS_BYTES;
  const display = input.shell ? argv.join(" ") : argv.map(shellQuote).join(" ");
  const notes: string[] = [];
  const shape = shapeOf(argv, input.shell);

  if (input.noRepo) {
    let launch: Launch;
    if (shape.kind === "module") launch = moduleLaunch(shape.python, shape.module, shape.args);
    else if (shape.kind === "script" && !isAbsolute(shape.script) && (!shape.bare || (await isFile(resolve(input.cwd, shape.script))))) {
      throw new UsageError("E_SCRIPT_NOT_SENT", `${shape.script} is a file of this machine, and with noRepo nothing of ${input.cwd} is sent: the agent runs the command in a fresh, empty directory, where it does not exist`, {
        hint: "commit and push it and leave noRepo off, or name a path that exists on the agent's machine",
      });
    } else if (shape.kind === "script" && shape.args.length === 0 && scriptEntryPoint(shape.script) !== undefined) launch = { binary: shape.python, entry_point: shape.script };
    else {
      if (shape.kind === "script") notes.push(VIA_SHELL_NOTE);
      launch = shellLaunch(argv, input.shell, notes);
    }
    const requirements = await readRequirements(read, join(input.cwd, "requirements.txt"), maxRequirements);
    notes.push(`nothing of ${input.cwd} is sent (noRepo): clearml-agent runs ${agentCommand(launch)} in a fresh, empty working directory, so the command must find everything it needs on the agent's machine (its PATH, its image, the requirements)`);
    if (requirements !== undefined && namesRelativeFiles(requirements)) notes.push("requirements.txt names files relative to itself, which the agent will not have");
    const script: ScriptSpec = { entry_point: launch.entry_point, working_dir: ".", binary: launch.binary, ...(requirements === undefined ? {} : { requirements: { pip: requirements } }) };
    return { script, display, notes };
  }

  const repo = await repositoryOf(ctx, input.cwd, notes);

  let launch: Launch | undefined;
  if (shape.kind === "module") launch = moduleLaunch(shape.python, shape.module, shape.args);
  else if (shape.kind === "script") {
    const abs = resolve(input.cwd, shape.script);
    if (!(await isFile(abs))) {
      // A bare name.py that is no file here is a program on PATH: an ordinary command.
      if (!shape.bare) throw new NotFoundError("E_SCRIPT_NOT_FOUND", `the script ${shape.script} does not exist in ${input.cwd}`, { hint: "check the path (relative to the working directory)" });
    } else {
      const real = join(await realpath(dirname(abs)), basename(abs));
      const inRepo = toPosix(relative(repo.root, real));
      if (inRepo.startsWith("../") || inRepo === ".." || isAbsolute(inRepo)) {
        notes.push(`${shape.script} is outside the repository: the agent runs it by that path, which must exist on its machine`, VIA_SHELL_NOTE);
      } else if (!(await isTracked(ctx, repo.root, inRepo))) {
        throw new UsageError("E_SCRIPT_UNTRACKED", `${inRepo} is not tracked by git: neither the commit nor the diff of uncommitted changes would bring it to the agent`, {
          hint: `git add ${shellQuote(inRepo)} (the diff then carries it), or commit and push it`,
        });
      } else launch = await repositoryScriptLaunch(shape, argv, real, repo, notes);
    }
  }
  launch ??= shellLaunch(argv, input.shell, notes);

  const diff = await diffOf(ctx, repo.root, input.maxDiffBytes ?? DEFAULT_MAX_DIFF_BYTES);
  if (diff !== undefined) {
    const files = diff.split("\n").filter((l) => l.startsWith(DIFF_HEADER)).length;
    notes.push(`uncommitted changes to ${files} file${files === 1 ? "" : "s"} go with the task as a diff against ${repo.commit.slice(0, 12)}, which the agent applies after checking the commit out`);
  }
  const { untracked, atLeast, submodules } = await leftOut(ctx, repo.root);
  if (untracked > 0) {
    notes.push(`${atLeast ? "at least " : ""}${untracked} untracked file${untracked === 1 ? " is" : "s are"} left out (the diff carries changes to tracked files only): git add ${untracked === 1 ? "it" : "them"} to send ${untracked === 1 ? "it" : "them"}`);
  }
  if (submodules > 0) {
    notes.push(`${submodules} submodule${submodules === 1 ? " has" : "s have"} changes (a new commit or changes inside) that are left out: the agent checks out the submodule commits recorded in ${repo.commit.slice(0, 12)}`);
  }
  const requirements = await repositoryRequirements(read, repo, maxRequirements, notes);

  const script: ScriptSpec = {
    repository: repo.url,
    ...(repo.branch === undefined ? {} : { branch: repo.branch }),
    version_num: repo.commit,
    entry_point: launch.entry_point,
    working_dir: repo.workingDir,
    binary: launch.binary,
    ...(diff === undefined ? {} : { diff }),
    ...(requirements === undefined ? {} : { requirements }),
  };
  return { script, display, notes };
}
