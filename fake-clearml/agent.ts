/**
 * The fake ClearML server's built-in agent: a worker that does what clearml-agent's daemon does
 * (clearml_agent/commands/worker.py), acting on the server's state directly (no HTTP, nothing in
 * `fake.requests`) and REALLY running each task's command:
 *
 * - registers as a worker on its queue; each poll: a status report, then pops the queue's first
 *   entry (queues.get_next_task) and marks it started ("pulled by agent", forced);
 * - checks the task out as the agent does: `git clone` of script.repository, `git checkout
 *   --force` of version_num, else tag, else origin/<branch> (origin/master, then origin/main);
 *   a diff starting with `diff ` is applied with `git apply --unidiff-zero`, any other diff is a
 *   literal script written to the entry point (without a repository: to a standalone folder);
 * - runs `<binary> -u <entry_point>` for a python binary (the entry point ONE argument unless it
 *   starts with `-m`, then split into words) or `$SHELL -c "<command>"` for bash/sh/zsh with an
 *   entry point `-c <command>` (whitespace collapsed), from `<checkout>/<working_dir>`, in its own
 *   process group, with CLEARML_TASK_ID, CLEARML_API_HOST, CLEARML_API_ACCESS_KEY,
 *   CLEARML_API_SECRET_KEY (and CLEARML_WEB_HOST) set; requirements are recorded, never installed;
 * - every poll while it runs: reads the task (status, status_message) and kills the process
 *   group (SIGTERM, then SIGKILL) when tasks.stop asked ("stopping": then tasks.stopped "task was
 *   stopped by tasks.stop"), when the status was changed from outside to closed, stopped, failed,
 *   published or queued, when the task was reset (created for 5 polls in a row) or deleted (no
 *   status call for these); else a status report (keeps last_worker/last_update fresh);
 * - at exit: 0 -> tasks.completed "worker execution done"; interrupted (SIGINT, -2 or 254) ->
 *   tasks.stopped "user abort"; anything else -> tasks.failed "worker execution exit code N"
 *   (a signal N is -N, as Python reports it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { constants as osConstants, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { FakeBackend } from "./backend.js";
import { ApiError } from "./errors.js";
import type { FakeQueue, FakeTask } from "./model.js";

/** What {@link FakeClearml.startAgent} takes. Everything is optional. */
export interface AgentOptions {
  /** Queue name or id to serve. Default: the default queue (the one tagged `default`). */
  queue?: string;
  /** Milliseconds between two polls (clearml-agent: 5 s). Default 50. */
  pollMs?: number;
  /** Default `fake-agent:<n>`. */
  workerId?: string;
  /** Root of the checkouts (one fresh folder per task). Default: a temporary folder, removed by stop(). */
  workDir?: string;
  /** Environment of the task processes (plus the CLEARML_* variables). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Set as CLEARML_WEB_HOST for the task processes. */
  webHost?: string;
  /** Milliseconds between SIGTERM and SIGKILL when a run is killed. Default 1,000. */
  killGraceMs?: number;
  /** Milliseconds any one git command may take. Default 60,000. */
  gitTimeoutMs?: number;
}

/** Why a run ended early, as clearml-agent's TaskStopReason. */
export type StopReason = "no_stop" | "stopped" | "status_changed" | "exception" | "reset" | "not_found" | "agent_stopped";

/** What the agent did with one task. */
export interface AgentRun {
  task: string;
  /** The queue it was popped from. */
  queue: string;
  /** Where the checkout is (or the standalone folder). */
  dir: string;
  /** The working directory of the process. */
  cwd: string;
  /** argv of the process (empty when the setup failed). */
  command: string[];
  /** `script.requirements`, else the repository's requirements.txt as `{pip}`: recorded, never installed. */
  requirements?: unknown;
  /** Process exit code (a signal N as -N), or null while running or when it never ran. */
  exitCode: number | null;
  /** Why the agent ended it early, or `no_stop`. */
  stopReason: StopReason;
  /** The agent's poll ({@link FakeAgent.polls}) that saw the reason to stop, when it stopped it. */
  stopSeenAtPoll?: number;
  /** The status call the agent made at the end (`completed`, `failed`, `stopped`), or none. */
  outcome?: "completed" | "failed" | "stopped";
  /** The agent's own notes (setup steps, failures), also appended to the task's log. */
  notes: string[];
}

/** What the agent needs from the fake server. */
export interface AgentHost {
  readonly backend: FakeBackend;
  readonly tasks: FakeTask[];
  readonly queues: FakeQueue[];
  readonly url: string;
  readonly accessKey: string;
  readonly secretKey: string;
  /** task id -> captured output. */
  readonly logs: Map<string, string>;
  /** Called once the agent has stopped. */
  readonly onStopped?: (agent: FakeAgent) => void;
}

const STOP_STATUSES = ["closed", "stopped", "failed", "published", "queued"];
/** clearml-agent's TaskStopSignal._number_of_consecutive_reset_tests. */
const RESET_TESTS = 4;
/** The most output kept per task (the rest is dropped with a note). */
const MAX_LOG_CHARS = 4 * 1024 * 1024;

/** Splits words as Python's shlex.split does for the usual cases: whitespace, quotes, backslashes. */
export function shlexSplit(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && i + 1 < s.length && ['"', "\\", "$", "`"].includes(s[i + 1] as string)) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error("No closing quotation");
  if (inWord) out.push(cur);
  return out;
}

/** Whether `script.diff` is a literal script rather than a git diff (clearml-agent's LiteralScriptManager.is_literal_script). */
export function isLiteralScript(diff: string | undefined): boolean {
  if (!diff) return false;
  const head = diff.trimStart().toLowerCase();
  if (head.startsWith("diff ")) return false;
  const lines = diff.split(/\r?\n/);
  if (head.startsWith("submodule ") && (lines[1] ?? "").trimStart().toLowerCase().startsWith("diff ")) return false;
  return true;
}

/**
 * The argv clearml-agent runs for a script (worker.py, the end of `execute`).
 * `shell` is the agent's $SHELL (default /bin/bash).
 */
export function commandFor(binary: string | undefined, entryPoint: string, shell: string): string[] {
  const bin = (binary ?? "").trim();
  const base = bin.split("/").pop() ?? "";
  const isPython = base.startsWith("python");
  const isShell = !isPython && ["bash", "zsh", "sh"].includes(base);
  const words = entryPoint.trim().split(/\s+/);
  if (isShell) {
    if (words[0] === "-c") return [shell, "-c", words.slice(1).join(" ")];
    return [shell, entryPoint];
  }
  // An unknown (or empty) binary: the agent warns and runs python.
  const python = isPython ? bin : "python";
  if (words[0] === "-m") return [python, "-u", ...shlexSplit(entryPoint)];
  return [python, "-u", entryPoint];
}

interface Running {
  run: AgentRun;
  child?: ChildProcess;
  exited?: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A running built-in agent. Start it with {@link FakeClearml.startAgent}. */
export class FakeAgent {
  /** The worker id it registered. */
  readonly workerId: string;
  /** The id of the queue it serves. */
  readonly queueId: string;
  /** Every task it took, in order. */
  readonly runs: AgentRun[] = [];
  /** Errors the loop met (a bug of the fake, or a state a test made impossible); it keeps polling. */
  readonly errors: string[] = [];
  /** How many times it has read its running task's status and status_message (once per poll while a task runs, as TaskStopSignal.test). */
  polls = 0;

  private readonly pollMs: number;
  private readonly killGraceMs: number;
  private readonly gitTimeoutMs: number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly webHost: string | undefined;
  private workDir: string | undefined;
  private readonly ownWorkDir: boolean;
  private stopping = false;
  private current: Running | undefined;
  private readonly wakers = new Set<() => void>();
  private loop: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private gitChild: ChildProcess | undefined;
  private readonly onExit = (): void => this.killNow("SIGKILL");

  /** @internal Use {@link FakeClearml.startAgent}. */
  constructor(
    private readonly host: AgentHost,
    options: AgentOptions,
    index: number,
  ) {
    const b = host.backend;
    let queue: FakeQueue | undefined;
    if (options.queue === undefined) queue = b.defaultQueue();
    else queue = b.findQueue(options.queue) ?? b.queueByName(options.queue);
    if (!queue) throw new Error(`fake ClearML agent: no queue '${options.queue ?? ""}' (by id or name)`);
    this.queueId = queue.id;
    this.workerId = options.workerId ?? `fake-agent:${index}`;
    this.pollMs = options.pollMs ?? 50;
    this.killGraceMs = options.killGraceMs ?? 1_000;
    this.gitTimeoutMs = options.gitTimeoutMs ?? 60_000;
    this.env = options.env ?? process.env;
    this.webHost = options.webHost;
    this.workDir = options.workDir;
    this.ownWorkDir = options.workDir === undefined;
    b.registerWorker(this.workerId, { queues: [this.queueId] });
  }

  /** @internal Starts the poll loop. */
  start(): void {
    process.on("exit", this.onExit);
    this.loop = this.pollLoop();
  }

  /** The task it is running (from pop to its end), or undefined. */
  get running(): string | undefined {
    return this.current?.run.task;
  }

  /** Whether it runs nothing and its queue holds nothing. */
  isIdle(): boolean {
    const q = this.host.queues.find((x) => x.id === this.queueId);
    return this.current === undefined && (q?.entries.length ?? 0) === 0;
  }

  /**
   * Resolves when it runs nothing and its queue is empty.
   * @throws {Error} after `timeoutMs` (default 30,000), naming what it still runs.
   */
  async idle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isIdle()) {
      if (Date.now() > deadline) throw new Error(`fake ClearML agent ${this.workerId}: not idle after ${timeoutMs} ms (running ${this.running ?? "nothing"}, errors: ${this.errors.join("; ") || "none"})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Stops polling, kills the running process group (SIGTERM, SIGKILL after the grace), waits for
   * the loop to end, unregisters the worker and removes its temporary folder. The task it was
   * running stays in_progress, as when a real agent is killed. Idempotent.
   */
  stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    this.wake();
    this.gitChild?.kill("SIGKILL");
    this.stopped = (async () => {
      const cur = this.current;
      if (cur?.child) {
        cur.run.stopReason = "agent_stopped";
        await this.killGroup(cur);
      }
      await this.loop;
      process.off("exit", this.onExit);
      this.host.backend.unregisterWorker(this.workerId);
      if (this.ownWorkDir && this.workDir) await rm(this.workDir, { recursive: true, force: true });
      this.host.onStopped?.(this);
    })();
    return this.stopped;
  }

  // ---------------------------------------------------------------- the loop

  private wake(): void {
    for (const w of this.wakers) w();
    this.wakers.clear();
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolveSleep) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolveSleep();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private note(run: AgentRun, line: string): void {
    run.notes.push(line);
    this.appendLog(run.task, `[clearml-agent] ${line}\n`);
  }

  private appendLog(taskId: string, text: string): void {
    const prev = this.host.logs.get(taskId) ?? "";
    if (prev.length >= MAX_LOG_CHARS) return;
    const next = prev + text;
    this.host.logs.set(taskId, next.length > MAX_LOG_CHARS ? `${next.slice(0, MAX_LOG_CHARS)}\n[fake ClearML agent: output truncated at ${MAX_LOG_CHARS} characters]\n` : next);
  }

  private get changeMessage(): string {
    return `Changed by clearml-agent ${this.workerId}`;
  }

  /** A status call the way the agent makes it: failures are noted, never thrown (the agent carries on). */
  private call(run: AgentRun, what: string, fn: () => unknown): boolean {
    try {
      fn();
      return true;
    } catch (e) {
      this.note(run, `${what} failed: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  private report(taskId?: string): void {
    try {
      this.host.backend.statusReport(this.workerId, { queues: [this.queueId], ...(taskId === undefined ? {} : { task: taskId, queue: this.queueId }) });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
    }
  }

  private async pollLoop(): Promise<void> {
    while (!this.stopping) {
      try {
        this.report();
        const popped = this.host.queues.some((q) => q.id === this.queueId) ? this.host.backend.getNextTask(this.queueId) : undefined;
        if (popped) {
          await this.runTask(popped.entry.task);
          continue;
        }
      } catch (e) {
        this.errors.push(e instanceof Error ? e.message : String(e));
      }
      await this.sleep(this.pollMs);
    }
  }

  private async runTask(taskId: string): Promise<void> {
    const run: AgentRun = { task: taskId, queue: this.queueId, dir: "", cwd: "", command: [], exitCode: null, stopReason: "no_stop", notes: [] };
    this.runs.push(run);
    const cur: Running = { run };
    this.current = cur;
    try {
      this.note(run, `task ${taskId} pulled from ${this.queueId} by worker ${this.workerId}`);
      if (!this.call(run, "tasks.started", () => this.host.backend.setStatus("started", { task: taskId, status_message: "pulled by agent", force: true }))) return;
      this.report(taskId);
      const prepared = await this.prepare(run);
      if (!prepared || this.stopping) return;
      // A stop asked during the checkout is acted on before anything runs.
      const early = this.testStop(run, { resets: 0 });
      if (early !== "no_stop") {
        run.stopReason = early;
        this.terminated(run, null, early);
        return;
      }
      await this.execute(cur);
    } finally {
      this.current = undefined;
    }
  }

  // ---------------------------------------------------------------- checkout

  private async git(run: AgentRun, args: string[], cwd: string, input?: string): Promise<void> {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolveGit) => {
      const child = spawn("git", args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" }, stdio: ["pipe", "pipe", "pipe"] });
      this.gitChild = child;
      let out = "";
      const collect = (b: Buffer): void => {
        if (out.length < 64 * 1024) out += b.toString("utf8");
      };
      child.stdout.on("data", collect);
      child.stderr.on("data", collect);
      const timer = setTimeout(() => child.kill("SIGKILL"), this.gitTimeoutMs);
      child.on("error", (e) => {
        clearTimeout(timer);
        resolveGit({ code: -1, output: e.message });
      });
      child.on("close", (c) => {
        clearTimeout(timer);
        this.gitChild = undefined;
        resolveGit({ code: c, output: out });
      });
      // git may exit before reading its input (a failed clone or apply): that is not an error here.
      child.stdin.on("error", () => undefined);
      child.stdin.end(input ?? "");
    });
    if (code !== 0) throw new Error(`git ${args[0] ?? ""} failed (exit ${String(code)}): ${output.trim()}`);
  }

  /** Checks the task out and computes the command; false (after the status call) when the setup failed. */
  private async prepare(run: AgentRun): Promise<boolean> {
    const task = this.host.tasks.find((t) => t.id === run.task);
    if (!task) {
      this.note(run, "task not found");
      return false;
    }
    const script = structuredClone(task.script ?? {});
    this.workDir ??= await mkdtemp(join(tmpdir(), "fake-clearml-agent-"));
    await mkdir(this.workDir, { recursive: true });
    const dir = await mkdtemp(join(this.workDir, `task-${task.id.slice(0, 12)}-`));
    run.dir = dir;
    const repository = (script.repository ?? "").trim();
    const diff = script.diff;
    const literal = isLiteralScript(diff);
    let entryPoint = (script.entry_point ?? "").trim();
    let workingDir = (script.working_dir ?? "").trim();
    let cwd: string;
    let root: string | undefined;
    if (repository) {
      root = join(dir, "repo");
      try {
        this.note(run, `cloning ${repository}`);
        await this.git(run, ["clone", "--quiet", repository, root], dir);
        const revisions = script.version_num ? [script.version_num] : script.tag ? [script.tag] : script.branch ? [`origin/${script.branch}`] : ["origin/master", "origin/main"];
        let checkedOut = false;
        let lastError: unknown;
        for (const rev of revisions) {
          try {
            await this.git(run, ["checkout", "--quiet", "--force", rev], root);
            checkedOut = true;
            break;
          } catch (e) {
            lastError = e;
          }
        }
        if (!checkedOut) throw lastError instanceof Error ? lastError : new Error("checkout failed");
      } catch (e) {
        this.note(run, `Repository cloning failed: ${e instanceof Error ? e.message : String(e)}`);
        this.call(run, "tasks.failed", () => this.host.backend.setStatus("failed", { task: run.task, status_reason: "failed cloning repository", status_message: this.changeMessage }));
        run.outcome = "failed";
        return false;
      }
      if (diff && !literal) {
        try {
          this.note(run, "Applying uncommitted changes");
          await this.git(run, ["apply", "--unidiff-zero", "-"], root, diff);
        } catch (e) {
          this.note(run, `Failed applying git diff: ${e instanceof Error ? e.message : String(e)}`);
          this.processEnded(run, 1);
          return false;
        }
      }
      cwd = resolve(root, workingDir || ".");
    } else {
      cwd = join(dir, "standalone");
      await mkdir(cwd, { recursive: true });
      if (!literal) this.note(run, "WARNING: running a task without repository or literal script in `script.diff`");
    }
    if (literal && diff !== undefined) {
      // LiteralScriptManager.create_notebook_file: the diff is the script.
      const moduleCall = entryPoint.startsWith("-m ") || entryPoint.startsWith("-c ");
      let target = moduleCall ? (entryPoint.startsWith("-c ") ? "untitled.sh" : "untitled.py") : undefined;
      if (moduleCall && workingDir.includes(":")) {
        const [wd, file] = [workingDir.slice(0, workingDir.indexOf(":")), workingDir.slice(workingDir.indexOf(":") + 1)];
        workingDir = wd;
        target = file;
      }
      if (root) cwd = resolve(root, workingDir || ".");
      else if (!entryPoint) entryPoint = "untitled.py";
      else if (!moduleCall) entryPoint = basename(entryPoint);
      await mkdir(cwd, { recursive: true });
      const name = target ?? entryPoint;
      const full = resolve(cwd, name);
      if (existsSync(full) && !moduleCall) {
        // The agent keeps a file that is already there and runs it as the entry point.
      } else {
        await writeFile(full, diff, "utf8");
        if (!moduleCall) entryPoint = full;
      }
    }
    run.cwd = cwd;
    if (script.requirements !== undefined && Object.keys(script.requirements).length > 0) run.requirements = script.requirements;
    else if (root && existsSync(join(root, "requirements.txt"))) run.requirements = { pip: await readFile(join(root, "requirements.txt"), "utf8") };
    if (run.requirements !== undefined) this.note(run, "requirements recorded, not installed (the fake agent is offline)");
    run.command = commandFor(script.binary, entryPoint, this.env["SHELL"] || "/bin/bash");
    this.note(run, `[${workingDir || "."}]$ ${run.command.join(" ")}`);
    return true;
  }

  // ---------------------------------------------------------------- running

  private async execute(cur: Running): Promise<void> {
    const { run } = cur;
    const env: NodeJS.ProcessEnv = {
      ...this.env,
      CLEARML_TASK_ID: run.task,
      CLEARML_API_HOST: this.host.url,
      CLEARML_API_ACCESS_KEY: this.host.accessKey,
      CLEARML_API_SECRET_KEY: this.host.secretKey,
      ...(this.webHost === undefined ? {} : { CLEARML_WEB_HOST: this.webHost }),
    };
    const [file, ...args] = run.command as [string, ...string[]];
    let child: ChildProcess;
    try {
      child = spawn(file, args, { cwd: run.cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      this.note(run, `could not start ${file}: ${e instanceof Error ? e.message : String(e)}`);
      this.processEnded(run, 1);
      return;
    }
    cur.child = child;
    child.stdout?.on("data", (b: Buffer) => this.appendLog(run.task, b.toString("utf8")));
    child.stderr?.on("data", (b: Buffer) => this.appendLog(run.task, b.toString("utf8")));
    cur.exited = new Promise((resolveExit) => {
      child.once("error", (e) => {
        this.note(run, `could not start ${file}: ${e.message}`);
        resolveExit({ code: 1, signal: null });
      });
      child.once("exit", (code, signal) => resolveExit({ code, signal }));
    });
    let exited = false;
    void cur.exited.then(() => {
      exited = true;
      this.wake();
    });
    const state = { resets: 0 };
    for (;;) {
      if (this.stopping) {
        await this.killGroup(cur);
        return;
      }
      const reason = this.testStop(run, state);
      if (reason !== "no_stop") {
        run.stopReason = reason;
        this.note(run, `stopping task (${reason})`);
        const { code, signal } = await this.killGroup(cur);
        run.exitCode = exitCodeOf(code, signal);
        this.terminated(run, run.exitCode, reason);
        return;
      }
      if (exited) break;
      this.report(run.task);
      await this.sleep(this.pollMs);
      if (exited) break;
    }
    const { code, signal } = await cur.exited;
    // Whatever the leader left behind in its group goes too (the agent's final kill_all_child_processes).
    signalGroup(child, "SIGKILL");
    await groupGone(child);
    this.processEnded(run, exitCodeOf(code, signal));
  }

  /** TaskStopSignal.test: the reason to stop the run now, or no_stop. */
  private testStop(run: AgentRun, state: { resets: number }): StopReason {
    const reason = this.readStop(run, state);
    if (reason !== "no_stop") run.stopSeenAtPoll = this.polls;
    return reason;
  }

  private readStop(run: AgentRun, state: { resets: number }): StopReason {
    this.polls += 1;
    const task = this.host.tasks.find((t) => t.id === run.task);
    if (!task) return "not_found";
    if (task.status === "in_progress" && (task.status_message ?? "").includes("stopping")) return "stopped";
    if (STOP_STATUSES.includes(task.status)) return task.status === "failed" ? "exception" : "status_changed";
    if (task.status === "created") {
      if (state.resets >= RESET_TESTS) return "reset";
      state.resets += 1;
      this.note(run, `Warning: Task ${run.task} was reset! if state is consistent we shall terminate (${state.resets}/${RESET_TESTS}).`);
    } else state.resets = 0;
    return "no_stop";
  }

  /** handle_task_termination for an early stop: only a tasks.stop request makes a status call. */
  private terminated(run: AgentRun, _exitCode: number | null, reason: StopReason): void {
    if (reason !== "stopped") return;
    this.note(run, "Process aborted by user");
    if (this.call(run, "tasks.stopped", () => this.host.backend.setStatus("stopped", { task: run.task, status_reason: "task was stopped by tasks.stop", status_message: this.changeMessage }))) run.outcome = "stopped";
  }

  /** handle_task_process_termination: the status call for a process that ended by itself. */
  private processEnded(run: AgentRun, exitCode: number): void {
    run.exitCode = exitCode;
    const b = this.host.backend;
    if (exitCode === 0) {
      this.note(run, "Process completed successfully");
      if (this.call(run, "tasks.completed", () => b.setStatus("completed", { task: run.task, status_reason: "worker execution done", status_message: this.changeMessage }))) run.outcome = "completed";
    } else if (exitCode === -2 || exitCode === 254) {
      this.note(run, "Process terminated by user");
      if (this.call(run, "tasks.stopped", () => b.setStatus("stopped", { task: run.task, status_reason: "user abort", status_message: this.changeMessage }))) run.outcome = "stopped";
    } else {
      this.note(run, `Process failed, exit code ${exitCode}`);
      if (this.call(run, "tasks.failed", () => b.setStatus("failed", { task: run.task, status_reason: `worker execution exit code ${exitCode}`, status_message: this.changeMessage }))) run.outcome = "failed";
    }
  }

  /** SIGTERM to the process group, SIGKILL after the grace (and always at the end: nothing of the group survives). */
  private async killGroup(cur: Running): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = cur.child;
    if (!child || !cur.exited) return { code: null, signal: null };
    signalGroup(child, "SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), this.killGraceMs);
    });
    const first = await Promise.race([cur.exited, grace]);
    clearTimeout(timer);
    signalGroup(child, "SIGKILL");
    const exit = first === "timeout" ? await cur.exited : first;
    await groupGone(child);
    return exit;
  }

  /** At process exit (a test runner dying): no task process may outlive it. */
  private killNow(signal: NodeJS.Signals): void {
    const child = this.current?.child;
    if (child) signalGroup(child, signal);
    this.gitChild?.kill(signal);
  }
}

/** Sends a signal to the child's whole process group (it leads its own: detached). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** Whether a process group still has a live (not zombie) member. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  // Zombies still count for kill(); on Linux, look for a live member.
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return true;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") return true;
    } catch {
      // The process went away while we looked.
    }
  }
  return false;
}

/** Waits (up to 5 s) until the child's process group has no live member left, after a SIGKILL. */
async function groupGone(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  const deadline = Date.now() + 5_000;
  while (groupAlive(child.pid) && Date.now() < deadline) {
    signalGroup(child, "SIGKILL");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An exit as Python's Popen.returncode reports it: the code, or -N for a signal N. */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal === null ? undefined : osConstants.signals[signal];
  return n === undefined ? -1 : -n;
}
