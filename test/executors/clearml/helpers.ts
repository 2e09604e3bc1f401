import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ScriptSpec } from "../../../src/executors/clearml/script.js";

const made: string[] = [];

/** A new empty directory under the system's temporary directory; {@link removeTemporary} deletes them all. */
export function temporary(prefix = "expflow-script-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTemporary(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * The environment of the git commands the tests run: no system or global configuration (HOME is
 * already a temporary directory, see test/setup-home.ts), and git never looks above the
 * temporary directory for a repository.
 */
export function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CEILING_DIRECTORIES: tmpdir(), GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" };
}

/** Runs git in `cwd` and returns its standard output; throws when it fails. */
export function git(cwd: string, ...args: string[]): string {
  const r = spawnSync("git", args, { cwd, env: gitEnv(), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed in ${cwd}: ${r.stderr}`);
  return r.stdout;
}

/** Writes `files` (path relative to `dir` -> content) and makes their directories. */
export function write(dir: string, files: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** A bare repository as the remote, and a clone of it with `files` committed on `main` and pushed. */
export function pushedRepo(files: Record<string, string | Buffer> = { "README.md": "hello\n" }): { remote: string; work: string } {
  const base = temporary();
  const remote = join(base, "remote.git");
  git(base, "init", "-q", "--bare", "-b", "main", remote);
  const work = join(base, "work");
  git(base, "init", "-q", "-b", "main", work);
  git(work, "config", "user.name", "Test");
  git(work, "config", "user.email", "test@example.com");
  git(work, "remote", "add", "origin", remote);
  write(work, files);
  git(work, "add", "-A");
  git(work, "commit", "-q", "-m", "first");
  git(work, "push", "-q", "-u", "origin", "main");
  return { remote, work };
}

/**
 * What clearml-agent does before it runs a task with a repository: a fresh clone of
 * `script.repository`, the commit checked out, the diff applied at the root with
 * `git apply --unidiff-zero` from standard input (followed by one more newline, as the agent
 * sends it). Returns the clone's root.
 */
export function agentCheckout(script: ScriptSpec): string {
  const dir = join(temporary("expflow-agent-"), "repo");
  git(dirname(dir), "clone", "-q", script.repository!, dir);
  git(dir, "checkout", "-q", script.version_num!);
  if (script.diff !== undefined) {
    const r = spawnSync("git", ["apply", "--unidiff-zero"], { cwd: dir, env: gitEnv(), input: `${script.diff}\n`, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`git apply failed: ${r.stderr}`);
  }
  return dir;
}

/** One task for {@link runAsAgent}: its script section and the directory the agent runs it in. */
export interface AgentCase {
  binary: string;
  entry_point: string;
  cwd: string;
}

/** What the agent started, and what came of it. */
export interface AgentRun {
  argv: string[];
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A stand-in for clearml-agent's last steps, in Python so that the Python library functions the
 * agent relies on are the real ones. Behaviour taken from clearml-agent 1.9
 * (clearml_agent/helper/base.py: ExecutionInfo loads entry_point through expanduser,
 * expandvars and normpath; clearml_agent/commands/worker.py: a python binary gets `-u` and the
 * entry point as one argument unless its first word is `-m`, which is split with shlex after
 * expandvars when it holds a `$`; a bash/sh/zsh binary with a first word `-c` runs
 * `$SHELL -c` with the remaining words joined by single spaces). The interpreter standing in
 * for the task's virtual environment is this Python.
 */
const AGENT = String.raw`
import json, os, shlex, subprocess, sys

def as_loaded(value):
    if not value:
        return value
    return os.path.normpath(os.path.expandvars(os.path.expanduser(value)))

def command(binary, entry_point):
    program = (binary or "").split("/")[-1]
    entry = as_loaded(entry_point)
    words = entry.strip().split()
    if program.startswith("python"):
        if words and words[0] == "-m":
            return [sys.executable, "-u"] + shlex.split(os.path.expandvars(entry) if "$" in entry else entry)
        return [sys.executable, "-u", entry]
    if program in ("bash", "sh", "zsh"):
        shell = os.environ.get("SHELL", "/bin/bash")
        if words and words[0] == "-c":
            return [shell, "-c", " ".join(words[1:])]
        return [shell, entry]
    raise SystemExit("unsupported binary " + binary)

out = []
for case in json.load(sys.stdin):
    argv = command(case["binary"], case["entry_point"])
    done = subprocess.run(argv, cwd=case["cwd"], capture_output=True)
    out.append({"argv": argv, "code": done.returncode,
                "stdout": done.stdout.decode("utf-8", "replace"), "stderr": done.stderr.decode("utf-8", "replace")})
json.dump(out, sys.stdout)
`;

/** Whether python3 is here to stand in for the agent. */
export const HAS_PYTHON = spawnSync("python3", ["-c", "print(1)"], { encoding: "utf8" }).stdout?.trim() === "1";

/**
 * Runs each case as clearml-agent would, with `shell` as the agent's `$SHELL` and `env` over the
 * test's environment, in one Python process.
 */
export function runAsAgent(cases: readonly AgentCase[], options: { shell?: string; env?: Record<string, string> } = {}): AgentRun[] {
  const r = spawnSync("python3", ["-c", AGENT], {
    input: JSON.stringify(cases),
    env: { ...process.env, SHELL: options.shell ?? "/bin/bash", ...options.env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`the agent stand-in failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as AgentRun[];
}

/** A Python program that prints its arguments as one JSON array. */
export const PRINT_ARGS = "import json, sys\nprint(json.dumps(sys.argv[1:]))\n";
