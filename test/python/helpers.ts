import { spawn, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { outputOf, ROOT } from "../helpers/cli.js";

/** The package's Python directory: what a user puts on PYTHONPATH to import expflow_log. */
export const PYTHON_DIR = join(ROOT, "python");

/** The helper module itself. */
export const HELPER = join(PYTHON_DIR, "expflow_log.py");

function probe(): string | undefined {
  const r = spawnSync("python3", ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
  if (r.error !== undefined || r.status !== 0) return undefined;
  const [major, minor] = r.stdout.trim().split(".").map(Number);
  return major === 3 && minor !== undefined && minor >= 8 ? r.stdout.trim() : undefined;
}

/** The version of `python3` on PATH when it is 3.8 or newer (what the helper supports), else `undefined`. */
export const PYTHON_VERSION = probe();

/** The title of a suite that needs python3: says why it is skipped when it is. */
export function needsPython(title: string): string {
  return PYTHON_VERSION === undefined ? `${title} (skipped: no python3 3.8 or newer on PATH)` : title;
}

export interface PyResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface PyOptions {
  /** Variables on top of this process's environment; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** All of standard input; default empty. */
  input?: string;
}

/**
 * The environment a Python child gets: this process's, the helper's directory on PYTHONPATH,
 * node's directory on PATH (report_standard(task=...) runs the CLI with `node`), no
 * EXPFLOW_METRICS_FILE unless given, then `overrides`.
 */
export function pyEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    PYTHONPATH: PYTHON_DIR,
    PYTHONDONTWRITEBYTECODE: "1",
    PATH: `${dirname(process.execPath)}:${process.env["PATH"] ?? "/usr/bin:/bin"}`,
  };
  delete env["EXPFLOW_METRICS_FILE"];
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs `python3 -c code` with {@link pyEnv} and waits (blocking: only for code that needs no server of this process). */
export function py(code: string, options: PyOptions = {}): PyResult {
  const r = spawnSync("python3", ["-c", code], { env: pyEnv(options.env), cwd: options.cwd, input: options.input ?? "", encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** {@link py} without blocking this process: for Python that talks to a server running in the test. */
export function pyAsync(code: string, options: PyOptions = {}): Promise<PyResult> {
  return outputOf(spawn("python3", ["-c", code], { env: pyEnv(options.env), cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] }));
}
