import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

/** The built executable, run as a user runs it. */
export const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** How a test runs the CLI: the same options whether it is spawned or run in this process. */
export interface CliOptions {
  /** Variables set on top of this process's environment; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /** The working directory; default a fresh temporary directory. */
  cwd?: string;
  /** All of standard input (then its end); default empty. */
  input?: string;
}

/** The environment a CLI run sees: this process's, with `overrides` applied. */
function envOf(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/**
 * Why `args` cannot run in this process, or `undefined` when it can. The agent and
 * `run submit --wait` start child processes and take SIGINT/SIGTERM over for as long as they
 * run, and record this process's pid as the agent's: they get a process of their own.
 */
export function needsOwnProcess(args: readonly string[]): string | undefined {
  const end = args.indexOf("--");
  const own = end < 0 ? args : args.slice(0, end);
  if (own[0] === "agent") return "the agent runs child processes and handles signals";
  if (own[0] === "run" && own[1] === "submit" && own.includes("--wait")) return "run submit --wait runs a child process and handles signals";
  return undefined;
}

/**
 * Runs the CLI in this process, through `run(argv, io)` of src/cli/main.ts (the code of src/, no
 * build), with the same environment, working directory and standard input {@link runCli} gives a
 * child: this process's environment with `options.env` on top (so EXPFLOW_HOME is this test
 * file's temporary home unless the caller sets it), standard input `options.input` then its end,
 * standard output and error captured (neither a TTY). The lock directories a process keeps for a
 * second after a release, which a spawned CLI removes at its exit, are removed when it returns.
 * What else src/util/lock.ts keeps per process (the once-a-minute sweep of dead processes'
 * leftovers beside a lock) lasts for the test file; no CLI test relies on a CLI run sweeping.
 * Throws for a command that needs its own process ({@link needsOwnProcess}): spawn those with
 * {@link runCliAsync}, or use {@link runInProcessOrSpawn}.
 */
export async function runInProcess(args: readonly string[], options: CliOptions = {}): Promise<CliResult & { code: number }> {
  const why = needsOwnProcess(args);
  if (why !== undefined) throw new Error(`expflow ${args.join(" ")} cannot run in the test process (${why}): spawn it with runCliAsync`);
  // Loaded on first use: most test files importing these helpers never run the CLI in-process.
  const [{ run }, { dropKeptLocks }] = await Promise.all([import("../../src/cli/main.js"), import("../../src/util/lock.js")]);
  let stdout = "";
  let stderr = "";
  const input = options.input ?? "";
  try {
    const code = await run(args, {
      // Bytes, as a pipe delivers them.
      stdin: Readable.from(input === "" ? [] : [Buffer.from(input, "utf8")]),
      stdout: { write: (text: string) => ((stdout += text), true) },
      stderr: { write: (text: string) => ((stderr += text), true) },
      env: envOf(options.env),
      cwd: options.cwd ?? tempDir(),
    });
    return { code, stdout, stderr };
  } finally {
    dropKeptLocks();
  }
}

/**
 * {@link runInProcess}, or {@link runCliAsync} (spawned) for a command that needs its own process
 * ({@link needsOwnProcess}): for files whose cases mix the two, e.g. `run submit` then `agent --once`.
 */
export function runInProcessOrSpawn(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return needsOwnProcess(args) === undefined ? runInProcess(args, options) : runCliAsync(args, options);
}

/**
 * Spawns `node dist/cli.js ...args`. EXPFLOW_HOME is this test file's temporary home unless the
 * caller sets it; nothing reaches the real ~/.expflow. Standard input is empty (not a TTY).
 */
export function runCli(args: readonly string[], options: CliOptions = {}): CliResult {
  const env = envOf(options.env);
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (vitest's global setup builds it)`);
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? tempDir(),
    env,
    input: options.input ?? "",
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * {@link runCli} without blocking this process: for tests whose CLI talks to a server running in
 * the test itself (the fake ClearML server), which a synchronous spawn would starve.
 */
export function runCliAsync(args: readonly string[], options: CliOptions & { timeoutMs?: number } = {}): Promise<CliResult> {
  const env = envOf(options.env);
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (vitest's global setup builds it)`);
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? tempDir(), env, stdio: ["pipe", "pipe", "pipe"] });
  const result = outputOf(child, options.timeoutMs ?? 60_000);
  child.stdin.end(options.input ?? "");
  return result;
}

/**
 * What a spawned child (with piped standard output and error) printed, and its exit code, once
 * it has closed; killed with SIGKILL after `timeoutMs`.
 */
export function outputOf(child: ChildProcess, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh temporary directory. */
export function tempDir(prefix = "expflow-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes records (objects, or raw strings for damaged lines) as a registry file; returns its path. */
export function writeRegistry(lines: readonly (Record<string, unknown> | string)[], dir = tempDir()): string {
  const path = join(dir, "experiments.jsonl");
  writeFileSync(path, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + (lines.length > 0 ? "\n" : ""));
  return path;
}

/** A registry record with sensible defaults. */
export function record(id: string, metrics: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    experiment_id: id,
    name: `run-${id}`,
    status: "completed",
    queue: "default",
    command: "python train.py",
    project: "P",
    tags: ["task1"],
    timestamp: "2026-10-01T00:00:00",
    method: "fno",
    clearml_task_id: null,
    metrics,
    params: {},
    ...extra,
  };
}
