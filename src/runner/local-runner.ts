import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { appendFileSync, closeSync, existsSync, openSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { assertValidId, isValidId } from "../core/ids.js";
import type { MetricRegistry } from "../core/metrics/registry.js";
import { nextState } from "../core/lifecycle/lifecycle.js";
import { ensurePrivateDir } from "../util/private-files.js";
import { shellQuote } from "../util/shell.js";
import type { RegistryRecord } from "../stores/local/record.js";
import { linkOf, plainObject, statusOf } from "../stores/local/record.js";
import type { RegistryWriter } from "../stores/local/registry-writer.js";
import { readOne, readRaw } from "../stores/local/registry-writer.js";
import type { MetricsChanges } from "./metrics-file.js";
import { MetricsFileTail, MetricsIngest, MetricsLines } from "./metrics-file.js";
import { DEFAULT_GRACE_MS, groupAlive, signalGroup, stopProcessGroup } from "./process-group.js";
import { runEnvironment } from "./run-env.js";

/** What the runner needs; injected so tests and the CLI control every part. */
export interface RunnerOptions {
  /** The registry writer (its `path` is the registry the runner serves). */
  readonly writer: RegistryWriter;
  /** expflow's home: logs go to `<home>/logs`, metrics files to `<home>/metrics`. */
  readonly home: string;
  /** Validates what runs report. */
  readonly metrics: MetricRegistry;
  /** This machine's host name, recorded in `runner.host`. */
  readonly host: string;
  /**
   * The environment the commands inherit, less the PIN, its hash and other `EXPFLOW_*` secrets
   * (see `run-env.ts`), plus `EXPFLOW_EXPERIMENT_ID` and `EXPFLOW_METRICS_FILE`.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The working directory for runs that recorded none (or whose directory is gone). */
  readonly cwd: string;
  /** Clock (default: the system clock). */
  readonly now?: () => Date;
  /** How often a running run's record is checked for a cancel, in ms (default 500). */
  readonly pollMs?: number;
  /** Time between SIGTERM and SIGKILL when a run is stopped, in ms (default 5000). */
  readonly graceMs?: number;
  /**
   * How often a running run's metrics file is read, in ms (default 2000). What came since the
   * last read is merged into the record at most this often at first; see {@link liveSnapshotInterval}.
   */
  readonly metricsPollMs?: number;
  /** Receives one line for each thing that happens (started, finished, problems). */
  readonly onEvent?: (message: string) => void;
}

/** How a run ended, as the runner saw it. */
export interface RunResult {
  readonly id: string;
  /** The run's state in the registry afterwards: `completed`, `failed` or `cancelled` (or what another process set). */
  readonly status: string;
  /** The command's exit code; `null` when a signal ended it or it never started. */
  readonly exitCode: number | null;
  /** The signal that ended the command, if one did. */
  readonly signal: string | null;
  /** Why the run failed; `null` when it completed (or was cancelled). */
  readonly reason: string | null;
  readonly logPath: string;
  readonly record: RegistryRecord | undefined;
  /** Set when the runner itself failed (the run is failed with this reason where the registry could take it). */
  readonly runnerError?: string;
}

/** A run the runner has started. */
export interface RunHandle {
  readonly id: string;
  /** Settles when the command has exited and the registry records the outcome. Never rejects for the command's failure. */
  readonly done: Promise<RunResult>;
  /**
   * Stops the run (SIGTERM to its process group, SIGKILL after the grace period) and fails it with
   * `reason` (unless it was cancelled meanwhile). Before the command starts, it is not started.
   */
  interrupt(reason: string): void;
  /** Sends SIGKILL to the run's process group now (a second interrupt). */
  kill(): void;
}

/** How a record's command is started. */
export interface Invocation {
  readonly file: string;
  readonly args: readonly string[];
  readonly shell: boolean;
  /** What the log says was run. */
  readonly display: string;
  /** Something the log should say about how it is run. */
  readonly note?: string;
}

/**
 * The log file of a run: `<home>/logs/<id>.log`.
 *
 * @throws {UsageError} `E_BAD_ID` when `id` breaks the id rule: no path is built from it.
 */
export function logPathOf(home: string, id: string): string {
  // Defence in depth: readers already skip such records, but a path is never built from one.
  return join(home, "logs", `${assertValidId(id)}.log`);
}

/**
 * The metrics file of a run (`EXPFLOW_METRICS_FILE`): `<home>/metrics/<id>.jsonl`.
 *
 * @throws {UsageError} `E_BAD_ID` when `id` breaks the id rule: no path is built from it.
 */
export function metricsPathOf(home: string, id: string): string {
  return join(home, "metrics", `${assertValidId(id)}.jsonl`);
}

// One definition, shared with the CLI's hints (`--status ...` to pass).
export { shellQuote };

function stringArray(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.length > 0 && v.every((w) => typeof w === "string") ? (v as string[]) : undefined;
}

/**
 * How to start a record's command:
 *
 * - `shell: true`: `/bin/sh -c <command>` (the recorded command string);
 * - `argv` (expflow's records): run directly, no shell;
 * - only a `command` string (records of the earlier Python tool): through `/bin/sh -c`, with a note.
 *
 * @returns `undefined` when the record holds no command.
 */
export function invocationOf(record: RegistryRecord): Invocation | undefined {
  const argv = stringArray(record["argv"]) ?? stringArray(record.command);
  const text = typeof record.command === "string" && record.command.trim() !== "" ? record.command : undefined;
  if (record["shell"] === true) {
    const script = text ?? argv?.join(" ");
    return script === undefined ? undefined : { file: "/bin/sh", args: ["-c", script], shell: true, display: `/bin/sh -c ${shellQuote(script)}` };
  }
  if (argv !== undefined) return { file: argv[0]!, args: argv.slice(1), shell: false, display: argv.map(shellQuote).join(" ") };
  if (text !== undefined) {
    return {
      file: "/bin/sh",
      args: ["-c", text],
      shell: true,
      display: `/bin/sh -c ${shellQuote(text)}`,
      note: "this record (from the earlier tool) has a command string and no argv, so it runs through /bin/sh -c",
    };
  }
  return undefined;
}

/** The queue a record belongs to (`default` when it names none). */
export function queueOf(r: RegistryRecord): string {
  return typeof r.queue === "string" && r.queue !== "" ? r.queue : "default";
}

/**
 * When a run was queued, in ms since the epoch: its last `queue` history entry, else its
 * `timestamp`. Records with neither (from the earlier tool) count as the oldest.
 */
export function queueTime(r: RegistryRecord): number {
  const history = Array.isArray(r.history) ? r.history : [];
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i] as { event?: unknown; time?: unknown } | null;
    if (h !== null && typeof h === "object" && h.event === "queue" && typeof h.time === "string") {
      const t = Date.parse(h.time);
      if (!Number.isNaN(t)) return t;
    }
  }
  if (typeof r.timestamp === "string") {
    const t = Date.parse(r.timestamp);
    if (!Number.isNaN(t)) return t;
  }
  if (typeof r.timestamp === "number" && Number.isFinite(r.timestamp)) return r.timestamp > 1e12 ? r.timestamp : r.timestamp * 1000;
  return Number.NEGATIVE_INFINITY;
}

/** Whether a record is a remote run (dispatched to ClearML, by expflow or the earlier tool): never one for the local agent. */
export function isRemoteRun(r: RegistryRecord): boolean {
  // Any task id at all, valid or not: a run someone sent to ClearML is not run here a second time.
  return r.method === "clearml" || linkOf(r) !== undefined || (typeof r.clearml_task_id === "string" && r.clearml_task_id !== "");
}

/**
 * The queued runs of `queue` in the registry at `path`, first-in first-out (ties: file order).
 * Runs dispatched to ClearML are never among them, whatever queue name they carry.
 * Damaged lines (an id that breaks the id rule among them) are never runs; `onDamaged` hears
 * how many there are.
 */
export function queuedRuns(path: string, queue: string, onDamaged?: (count: number) => void): RegistryRecord[] {
  const found: { r: RegistryRecord; t: number; i: number }[] = [];
  let i = 0;
  const raw = readRaw(path);
  onDamaged?.(raw.damaged.length);
  for (const r of raw.records.values()) {
    i++;
    if (r.deleted === true || r.status !== "queued" || queueOf(r) !== queue || isRemoteRun(r)) continue;
    found.push({ r, t: queueTime(r), i });
  }
  return found.sort((a, b) => a.t - b.t || a.i - b.i).map((x) => x.r);
}

/** A cheap fingerprint of the registry file: it changes with every append or rewrite. */
function fileSignature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}

function historyOf(r: RegistryRecord): unknown[] {
  return Array.isArray(r.history) ? r.history : [];
}

/** The longest time between two live snapshots of a run's metrics, in ms: 60 s. */
export const MAX_LIVE_SNAPSHOT_MS = 60_000;

/**
 * The least time between two snapshots of a running run's live metrics, in ms: `pollMs` while
 * the run is young, then a thirtieth of its age, at most {@link MAX_LIVE_SNAPSHOT_MS}. Each
 * snapshot appends the whole record to the registry, so a run that logs every step for ten
 * hours appends about 700 snapshots, not one every two seconds (18,000). Pure.
 */
export function liveSnapshotInterval(ageMs: number, pollMs = 2_000): number {
  return Math.min(Math.max(pollMs, ageMs / 30), Math.max(pollMs, MAX_LIVE_SNAPSHOT_MS));
}

/**
 * A record with a metrics ingest's changes merged in: the metrics that got entries take their
 * latest values (the others, a report made meanwhile included, stay), `metric_history` is the
 * run's, and `rejected_metrics` every refused entry so far.
 */
export function mergeMetricsChanges(r: RegistryRecord, changes: MetricsChanges): RegistryRecord {
  return {
    ...r,
    metrics: { ...(plainObject(r.metrics) ?? {}), ...changes.metrics },
    metric_history: { ...(plainObject(r["metric_history"]) ?? {}), ...changes.history },
    ...(changes.rejected !== undefined && changes.rejected.length > 0 ? { rejected_metrics: changes.rejected } : {}),
  };
}

/** Thrown inside a claim's update when the run is no longer there to take; never escapes. */
class ClaimLost extends Error {}

type Exit = { code: number | null; signal: NodeJS.Signals | null } | { error: Error };

/**
 * The embedded local executor: claims queued runs of the registry and runs their commands as
 * child processes, each leading its own process group, with output to `<home>/logs/<id>.log`.
 * See `src/runner/README.md` for the contract.
 */
export class LocalRunner {
  private readonly now: () => Date;
  private readonly pollMs: number;
  private readonly graceMs: number;
  private readonly metricsPollMs: number;
  private idleSignature: string | undefined;
  /** How many damaged lines the last read of the registry found (told once per change). */
  private damagedSeen = 0;

  constructor(private readonly opts: RunnerOptions) {
    this.now = opts.now ?? (() => new Date());
    this.pollMs = opts.pollMs ?? 500;
    this.graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
    this.metricsPollMs = opts.metricsPollMs ?? 2_000;
  }

  private event(message: string): void {
    this.opts.onEvent?.(message);
  }

  /**
   * Moves run `id` from queued to running (event `start`) under the registry lock, if it is still
   * queued (and in `queue`, when given).
   *
   * @returns the running record, or `undefined` when another process took it, cancelled it, it
   *   is not queued, or it is dispatched to ClearML.
   * @throws {NotFoundError} when the run does not exist; {BackendError} `E_LOCK_TIMEOUT`.
   */
  async claim(id: string, queue?: string): Promise<RegistryRecord | undefined> {
    const { writer } = this.opts;
    try {
      return await writer.update(id, (r) => {
        // A ClearML run's queue is a ClearML queue: its clearml-agent runs it, never this one.
        if (r.status !== "queued" || (queue !== undefined && queueOf(r) !== queue) || isRemoteRun(r)) throw new ClaimLost();
        const to = nextState("queued", "start", id);
        return { ...r, status: to, history: [...historyOf(r), writer.entry("start", "queued", to)] };
      });
    } catch (e) {
      if (e instanceof ClaimLost) return undefined;
      throw e;
    }
  }

  /**
   * Claims the oldest queued run of `queue` (first-in first-out by queue time). The registry is
   * read again only when the file changed since the last time nothing was queued.
   *
   * @returns the running record, or `undefined` when nothing is queued.
   */
  async claimNext(queue: string): Promise<RegistryRecord | undefined> {
    const path = this.opts.writer.path;
    const signature = fileSignature(path);
    if (signature === this.idleSignature) return undefined;
    const queued = queuedRuns(path, queue, (count) => {
      if (count > 0 && count !== this.damagedSeen) this.event(`${path}: ${count} damaged line${count === 1 ? "" : "s"} skipped (\`expflow registry check\` lists them)`);
      this.damagedSeen = count;
    });
    for (const r of queued) {
      // The registry's readers passed the id (a number from the earlier tool reads as its text).
      const claimed = await this.claim(String(r.experiment_id), queue);
      if (claimed !== undefined) return claimed;
    }
    this.idleSignature = signature;
    return undefined;
  }

  /**
   * Starts a claimed (running) run's command. Never throws: every problem ends in the result
   * (a command that cannot start fails the run, with the reason).
   */
  start(record: RegistryRecord): RunHandle {
    const id = record.experiment_id;
    const state: { child?: ChildProcess; interrupt?: string; stopping?: Promise<unknown> } = {};
    const stop = (): void => {
      const pid = state.child?.pid;
      if (pid !== undefined && state.stopping === undefined) {
        state.stopping = stopProcessGroup(pid, this.graceMs).catch((e: Error) => this.event(`${id}: could not stop process group ${pid}: ${e.message}`));
      }
    };
    const done = this.execute(record, state, stop).catch((e: Error) => this.failOnRunnerError(id, e, stop));
    return {
      id,
      done,
      interrupt: (reason) => {
        state.interrupt ??= reason;
        stop();
      },
      kill: () => {
        const pid = state.child?.pid;
        if (pid !== undefined) {
          try {
            signalGroup(pid, "SIGKILL");
          } catch {
            // not ours to kill any more
          }
        }
      },
    };
  }

  /**
   * A runner error never leaves a run `running`: its process group is stopped and the run is
   * failed with the reason `runner error: ...` (unless it left `running` meanwhile).
   */
  private async failOnRunnerError(id: string, e: Error, stop: () => void): Promise<RunResult> {
    const { writer, home } = this.opts;
    const reason = `runner error: ${e.message}`;
    // Claimed runs have valid ids; should one not, no path is built from it (and nothing throws here).
    const logPath = isValidId(id) ? logPathOf(home, id) : "";
    this.event(`${id}: ${reason}`);
    stop();
    let record: RegistryRecord | undefined;
    try {
      record = await writer.update(id, (r) => {
        if (r.status !== "running") throw new ClaimLost();
        const to = nextState("running", "fail", id);
        return { ...r, status: to, reason, finished_at: this.now().toISOString(), history: [...historyOf(r), writer.entry("fail", "running", to, reason)] };
      });
    } catch (e2) {
      if (!(e2 instanceof ClaimLost)) this.event(`${id}: could not record the failure: ${(e2 as Error).message}`);
      record = readOne(writer.path, id);
    }
    try {
      if (logPath !== "") appendFileSync(logPath, `[${this.now().toISOString()}] expflow: run ${String(record?.status ?? "unknown")}: ${reason}\n`, { mode: 0o600 });
    } catch {
      // the log is best effort here; the registry holds the reason
    }
    return { id, status: String(record?.status ?? "unknown"), exitCode: null, signal: null, reason, logPath, record, runnerError: reason };
  }

  /**
   * When the command (the group's leader) has exited, processes it left in its process group are
   * stopped: SIGTERM, SIGKILL after the grace period. The log says what was done.
   */
  private async stopLeftovers(pgid: number, log: (line: string) => void): Promise<void> {
    if (!groupAlive(pgid)) return;
    log(`processes are left in the run's process group ${pgid} after the command ended: stopping them (SIGTERM, SIGKILL after ${this.graceMs / 1000} s)`);
    try {
      const outcome = await stopProcessGroup(pgid, this.graceMs);
      log(outcome === "killed" ? "left-over processes killed (SIGKILL)" : outcome === "terminated" ? "left-over processes terminated (SIGTERM)" : "left-over processes were gone");
    } catch (e) {
      log(`could not stop the left-over processes of group ${pgid}: ${(e as Error).message}`);
    }
  }

  private async execute(record: RegistryRecord, state: { child?: ChildProcess; interrupt?: string; stopping?: Promise<unknown> }, stop: () => void): Promise<RunResult> {
    const { writer, home, host } = this.opts;
    const id = record.experiment_id;
    const logPath = logPathOf(home, id);
    const metricsPath = metricsPathOf(home, id);
    ensurePrivateDir(join(home, "logs"));
    ensurePrivateDir(join(home, "metrics"));
    rmSync(metricsPath, { force: true });
    const log = (line: string): void => appendFileSync(logPath, `[${this.now().toISOString()}] expflow: ${line}\n`, { mode: 0o600 });

    const invocation = invocationOf(record);
    let cwd = this.opts.cwd;
    if (typeof record["cwd"] === "string") {
      if (existsSync(record["cwd"])) cwd = record["cwd"];
      else log(`the run's working directory ${record["cwd"]} is gone; running in ${cwd}`);
    }
    log(`run ${id} on ${host}, queue ${queueOf(record)}, in ${cwd}`);
    if (invocation?.note !== undefined) log(invocation.note);

    let exit: Exit;
    let startedMs = 0;
    const ingest = new MetricsIngest(this.opts.metrics);
    const tail = new MetricsFileTail(metricsPath, new MetricsLines(ingest));
    const readProblems = new Set<string>();
    const readMetrics = (options: { final?: boolean } = {}): boolean => {
      try {
        const read = tail.read(options);
        for (const note of read.notes) log(note);
        return read.more;
      } catch (e) {
        const problem = `could not read ${metricsPath}: ${(e as Error).message}`;
        if (!readProblems.has(problem)) ingest.reject(null, null, problem);
        readProblems.add(problem);
        return false;
      }
    };
    const current = readOne(writer.path, id);
    if (invocation === undefined) {
      exit = { error: new Error("the record holds no command") };
    } else if (current?.status !== "running") {
      log(`not started: the run is ${current?.status ?? "gone"}`);
      return { id, status: String(current?.status ?? "unknown"), exitCode: null, signal: null, reason: null, logPath, record: current };
    } else if (state.interrupt !== undefined) {
      exit = { error: new Error(state.interrupt) };
    } else {
      log(`${invocation.shell ? "command (shell)" : "command (no shell)"}: ${invocation.display}`);
      // The PIN guards destructive actions; a training script has no business holding it or
      // any other expflow secret (and tools that record a run's environment would keep them).
      const env = runEnvironment(this.opts.env, id, metricsPath);
      const fd = openSync(logPath, "a", 0o600);
      let child: ChildProcess;
      try {
        child = spawn(invocation.file, [...invocation.args], { cwd, env, detached: true, stdio: ["ignore", fd, fd] });
      } finally {
        closeSync(fd);
      }
      state.child = child;
      startedMs = Date.now();
      const exited = new Promise<Exit>((resolve) => {
        child.once("exit", (code, signal) => resolve({ code, signal }));
        child.once("error", (error) => {
          if (child.pid === undefined) resolve({ error });
        });
      });
      if (child.pid !== undefined) {
        const pid = child.pid;
        this.event(`${id}: started pid ${pid}: ${invocation.display}`);
        try {
          await writer.update(id, (r) => ({ ...r, runner: { pid, pgid: pid, host, started_at: this.now().toISOString(), agent_pid: process.pid } }));
        } catch (e) {
          log(`could not record the process in the registry: ${(e as Error).message}`);
        }
      }
      // Live metrics: the file is read while the run goes, and what came is merged into the
      // record (nothing is appended when nothing came), so `run status` shows progress.
      let lastSnapshot = startedMs;
      let snapshotting: Promise<void> | undefined;
      const snapshotProblems = new Set<string>();
      const live = setInterval(() => {
        if (snapshotting !== undefined) return;
        readMetrics();
        const now = Date.now();
        if (now - lastSnapshot < liveSnapshotInterval(now - startedMs, this.metricsPollMs)) return;
        const changes = ingest.takeChanges();
        if (changes === undefined) return;
        lastSnapshot = now;
        snapshotting = writer
          .updateIf(id, (r) => (r.status === "running" ? mergeMetricsChanges(r, changes) : undefined))
          .then(
            (written) => {
              // Not running any more: the final merge carries these.
              if (written === undefined) ingest.restoreChanges(changes);
            },
            (e: Error) => {
              ingest.restoreChanges(changes);
              if (!snapshotProblems.has(e.message)) log(`could not record live metrics (they are recorded at the end): ${e.message}`);
              snapshotProblems.add(e.message);
            },
          )
          .finally(() => {
            snapshotting = undefined;
          });
      }, this.metricsPollMs);
      let lastSignature = "";
      const watch = setInterval(() => {
        if (state.interrupt !== undefined) return stop();
        const signature = fileSignature(writer.path);
        if (signature === lastSignature) return;
        lastSignature = signature;
        const now = readOne(writer.path, id);
        if (now?.status !== "running") {
          log(`the run became ${now?.status ?? "deleted"} elsewhere: stopping its process group`);
          stop();
        }
      }, this.pollMs);
      if (state.interrupt !== undefined) stop();
      try {
        exit = await exited;
      } finally {
        clearInterval(watch);
        clearInterval(live);
      }
      if (state.stopping !== undefined) await state.stopping;
      else if (!("error" in exit) && child.pid !== undefined) await this.stopLeftovers(child.pid, log);
      // A live snapshot still being written lands before the final one.
      while (snapshotting !== undefined) await snapshotting;
    }

    const wallMinutes = startedMs > 0 && !("error" in exit) ? Math.round(((Date.now() - startedMs) / 60_000) * 1000) / 1000 : null;
    let reason: string | null;
    let exitCode: number | null = null;
    let signal: string | null = null;
    if ("error" in exit) {
      reason = state.interrupt ?? `could not start ${invocation === undefined ? "the run" : shellQuote(invocation.file)}: ${exit.error.message}`;
    } else {
      exitCode = exit.code;
      signal = exit.signal;
      if (state.interrupt !== undefined) reason = state.interrupt;
      else if (exit.signal !== null) reason = `killed by signal ${exit.signal}`;
      else if (exit.code !== 0) reason = `exit code ${exit.code}`;
      else reason = null;
    }
    log("error" in exit ? `did not run: ${reason}` : `command ended: ${signal !== null ? `signal ${signal}` : `exit code ${exitCode}`}${wallMinutes !== null ? ` after ${wallMinutes} min` : ""}`);

    // The rest of the file, to its end (its last line too, without a line break): the run is
    // over. Read in bounded looks, letting the agent's other runs go on between them.
    while (readMetrics({ final: true })) await new Promise((resolve) => setImmediate(resolve));
    const accepted = ingest.accepted();
    const rejected = ingest.rejected();
    const custom = ingest.customNames();
    const changes = ingest.takeChanges();
    if (Object.keys(accepted).length > 0) log(`metrics: ${Object.entries(accepted).map(([k, v]) => `${k}=${v}`).join(" ")}`);
    if (custom.length > 0) {
      const note = ingest.customNote(custom);
      log(`note: ${note}`);
      this.event(`${id}: note: ${note}`);
    }
    for (const r of rejected) log(`rejected metric ${r.name === null ? "entry" : `'${r.name}'`} (${JSON.stringify(r.value)}): ${r.reason}`);
    const rejectedCount = ingest.rejectedCount;
    if (rejectedCount > 0) this.event(`${id}: warning: ${rejectedCount} metrics entr${rejectedCount === 1 ? "y" : "ies"} rejected (see ${logPath})`);

    const event = reason === null ? "complete" : "fail";
    const finished = await writer.update(id, (r) => {
      const from = statusOf(r);
      const merged = changes === undefined ? r : mergeMetricsChanges(r, changes);
      const metrics: Record<string, unknown> = { ...(plainObject(merged.metrics) ?? {}) };
      if (wallMinutes !== null && this.opts.metrics.has("train_time_min") && !Object.hasOwn(metrics, "train_time_min")) metrics["train_time_min"] = wallMinutes;
      const next: RegistryRecord = {
        ...merged,
        metrics,
        exit_code: exitCode,
        signal,
        finished_at: this.now().toISOString(),
        ...(rejected.length > 0 ? { rejected_metrics: rejected } : {}),
      };
      // Cancelled (or ended by someone else) meanwhile: its state stands; the metrics still count.
      if (from !== "running") return next;
      const to = nextState(from, event, id);
      return { ...next, status: to, ...(reason === null ? {} : { reason }), history: [...historyOf(r), writer.entry(event, from, to, reason ?? undefined)] };
    });
    const status = String(finished.status);
    log(`run ${status}${status === "failed" && reason !== null ? `: ${reason}` : ""}`);
    this.event(`${id}: ${status}${status === "failed" && reason !== null ? ` (${reason})` : ""}`);
    return { id, status, exitCode, signal, reason: status === "failed" ? reason : null, logPath, record: finished };
  }
}
