import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/**
 * Spawns `node dist/cli.js ...args`. EXPFLOW_HOME is this test file's temporary home unless the
 * caller sets it; nothing reaches the real ~/.expflow. Standard input is empty (not a TTY).
 */
export function runCli(args: readonly string[], options: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {}): CliResult {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it for you)`);
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
export function runCliAsync(args: readonly string[], options: { env?: Record<string, string | undefined>; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it for you)`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? tempDir(), env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
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
