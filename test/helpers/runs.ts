import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI } from "./cli.js";

/** The latest snapshot of experiment `id` in a registry file (raw, as written). */
export function latest(registry: string, id: string): Record<string, unknown> | undefined {
  if (!existsSync(registry)) return undefined;
  let found: Record<string, unknown> | undefined;
  for (const line of readFileSync(registry, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    const r = JSON.parse(line) as Record<string, unknown>;
    if (r["experiment_id"] === id) found = r;
  }
  return found;
}

/** Every snapshot line of a registry file. */
export function snapshots(registry: string): Record<string, unknown>[] {
  if (!existsSync(registry)) return [];
  return readFileSync(registry, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Polls `check` every 50 ms until it returns a value other than `undefined`/`false`; fails after `timeoutMs` (a guard, not a timing assertion). */
export async function waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Whether process `pid` is alive. A zombie (exited, not reaped: PID 1 of a container may never
 * reap) counts as dead.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return existsSync(`/proc/self`) ? false : true;
  }
}

/** Writes a small Node script into `dir` and returns its path. */
export function script(dir: string, name: string, code: string): string {
  const path = join(dir, name);
  writeFileSync(path, code);
  return path;
}

/** A CLI process running in the background, as a user's second terminal would run it. */
export interface BackgroundCli {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  output(): string;
}

/** Spawns `node dist/cli.js ...args` without waiting for it. */
export function spawnCli(args: readonly string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): BackgroundCli {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, exited, output: () => stdout + stderr };
}

/** What {@link envDumpScript} recorded. */
export interface EnvDump {
  /** The run's own environment. */
  readonly env: Record<string, string>;
  /** Its parent's initial environment, from `/proc/<ppid>/environ`; `null` without `/proc`. */
  readonly parent: Record<string, string> | null;
}

/**
 * Writes a Node script into `dir` that records in `out` (JSON, an {@link EnvDump}) its own
 * environment and, where there is a `/proc`, what it can read of its parent's: what a run that
 * goes looking for secrets would find.
 */
export function envDumpScript(dir: string, out: string): string {
  return script(
    dir,
    "env-dump.cjs",
    `const fs = require("fs");
let parent = null;
try {
  parent = Object.fromEntries(fs.readFileSync("/proc/" + process.ppid + "/environ", "latin1").split("\\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
} catch {}
fs.writeFileSync(${JSON.stringify(out)}, JSON.stringify({ env: process.env, parent }));`,
  );
}

/** Reads what {@link envDumpScript} wrote. */
export function readEnvDump(out: string): EnvDump {
  return JSON.parse(readFileSync(out, "utf8")) as EnvDump;
}

/**
 * The `count` pids a run's script wrote, space-separated, to `pidFile`, once the file is whole: a
 * read can come between the file's truncation and its write, and an empty or half-written file
 * would give no pid or `0` (which `kill(0)` reads as this process group).
 */
export function waitForPids(pidFile: string, count: number, what = "the run to start"): Promise<number[]> {
  return waitFor(() => {
    const found = existsSync(pidFile) ? readFileSync(pidFile, "utf8").split(" ").map(Number) : [];
    return found.length === count && found.every((p) => Number.isInteger(p) && p > 1) && found;
  }, what);
}
