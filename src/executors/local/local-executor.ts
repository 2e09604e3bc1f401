import { statSync } from "node:fs";
import type { Experiment } from "../../core/experiment.js";
import { isTerminal } from "../../core/lifecycle/lifecycle.js";
import type { MetricRegistry } from "../../core/metrics/registry.js";
import { LocalRunner } from "../../runner/local-runner.js";
import { DEFAULT_GRACE_MS, processIsRun, stopProcessGroup } from "../../runner/process-group.js";
import { newExperimentId } from "../../stores/local/ids.js";
import { LocalStore } from "../../stores/local/local-store.js";
import { statusOf } from "../../stores/local/record.js";
import type { WriterContext } from "../../stores/local/registry-writer.js";
import { RegistryWriter } from "../../stores/local/registry-writer.js";
import type { CancelOutcome, Executor, RunSpec } from "../executor.js";
import type { RunsSnapshot, WatchRunsOptions } from "./registry-watch.js";
import { sleep, watchRegistryRuns } from "./registry-watch.js";

/** Options of {@link LocalExecutor}. */
export interface LocalExecutorOptions {
  /** The registry file. */
  readonly path: string;
  /** expflow's home (logs, metrics files). */
  readonly home: string;
  readonly metrics: MetricRegistry;
  /** This machine's host name. */
  readonly host: string;
  /** The environment runs inherit (less the secrets: see `runner/run-env.ts`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The working directory of runs that recorded none. */
  readonly cwd: string;
  /** Clock, who acts, whether the registry's directory may be made. */
  readonly writer: WriterContext;
  /** Time between SIGTERM and SIGKILL when a run is stopped (ms; default 5 s). */
  readonly graceMs?: number;
  /** How often {@link LocalExecutor.watch} looks (ms; default 500). */
  readonly pollMs?: number;
  /** Receives one line for each thing the runner does. */
  readonly onEvent?: (message: string) => void;
}

/**
 * The embedded executor: runs are records of the local registry, queued for the local agent
 * (`agent()`, `runner`), which runs them as child processes in their own process groups.
 */
export class LocalExecutor implements Executor {
  readonly kind = "local";
  /** The registry the runs are in (unguarded: the executor's own bookkeeping). */
  readonly store: LocalStore;
  /**
   * The runner that claims and runs queued runs (for the agent loop and `run submit --wait`).
   *
   * @internal not part of the package's API.
   */
  readonly runner: LocalRunner;
  private readonly graceMs: number;
  private readonly pollMs: number;

  constructor(private readonly options: LocalExecutorOptions) {
    this.store = new LocalStore({ path: options.path, writer: options.writer });
    this.runner = new LocalRunner({
      writer: new RegistryWriter(options.path, options.writer),
      home: options.home,
      metrics: options.metrics,
      host: options.host,
      env: options.env,
      cwd: options.cwd,
      onEvent: options.onEvent,
      now: options.writer.now,
    });
    this.graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.pollMs = options.pollMs ?? 500;
  }

  /** {@inheritDoc Executor.submit} One snapshot: created, dispatched and queued for `spec.queue`. */
  async submit(spec: RunSpec): Promise<Experiment> {
    const id = newExperimentId();
    return this.store.create({
      id,
      generatedId: true,
      events: ["dispatch", "queue"],
      ...(spec.retry === undefined ? {} : { reason: spec.retry.reason }),
      // In the order the registry has always had them (`status` and `history` are set by create).
      fields: {
        name: spec.name ?? null,
        status: "created",
        queue: spec.queue ?? "default",
        command: spec.display,
        argv: [...spec.argv],
        shell: spec.shell,
        cwd: spec.cwd,
        project: spec.project ?? null,
        tags: [...(spec.tags ?? [])],
        timestamp: this.options.writer.now().toISOString(),
        method: "local",
        clearml_task_id: null,
        metrics: {},
        params: { ...(spec.params ?? {}) },
        history: [],
        archived: false,
        ...(spec.retry === undefined ? {} : { retry_of: spec.retry.of }),
      },
    });
  }

  /**
   * {@inheritDoc Executor.cancel} A run that was running on this host has its process group
   * stopped here at once (SIGTERM, SIGKILL after the grace period), if the recorded group is
   * still this run's (a pid can be reused); its agent notices the cancel too, and is the one that
   * stops it when it runs on another host.
   */
  async cancel(id: string): Promise<CancelOutcome> {
    let from = "created";
    const updated = await this.store.transitionRaw(id, "cancel", {
      fields: (r) => {
        from = statusOf(r);
        return {};
      },
    });
    if (from !== "running") return { kind: "dequeued", id, from };
    const runner = updated["runner"] !== null && typeof updated["runner"] === "object" ? (updated["runner"] as Record<string, unknown>) : {};
    const pgid = typeof runner["pgid"] === "number" && Number.isInteger(runner["pgid"]) && runner["pgid"] > 1 ? runner["pgid"] : undefined;
    const host = typeof runner["host"] === "string" ? runner["host"] : undefined;
    if (pgid === undefined || host === undefined) return { kind: "stop-requested", id, from: "running" };
    if (host !== this.options.host) return { kind: "stop-requested", id, from: "running", host, pgid };
    if (processIsRun(pgid, id) === false) return { kind: "not-running", id, from: "running", pgid };
    try {
      const how = await stopProcessGroup(pgid, this.graceMs);
      return { kind: "stopped", id, from: "running", pgid, how, graceMs: this.graceMs };
    } catch (e) {
      return { kind: "not-running", id, from: "running", pgid, problem: (e as Error).message };
    }
  }

  /** {@inheritDoc Executor.status} */
  status(id: string): Promise<Experiment> {
    return this.store.require(id);
  }

  /**
   * {@inheritDoc Executor.watch} Polls the registry: the run's lines are read again only when the
   * file changed since the last look (an idle poll is one `stat`). A run deleted while it is
   * watched ends the iteration with `E_EXPERIMENT_NOT_FOUND`.
   */
  async *watch(id: string, options: { intervalMs?: number; signal?: AbortSignal } = {}): AsyncIterable<Experiment> {
    const interval = options.intervalMs ?? this.pollMs;
    let last: string | undefined;
    let seen = "";
    for (;;) {
      if (options.signal?.aborted === true) return;
      const signature = registrySignature(this.store.location);
      if (signature !== seen) {
        seen = signature;
        const now = await this.store.require(id);
        if (now.status !== last) {
          last = now.status;
          yield now;
        }
        if (isTerminal(now.status)) return;
      }
      await sleep(interval, options.signal);
    }
  }

  /**
   * Several runs at once, with every change of their records (state, metrics): see
   * {@link watchRegistryRuns}. Without `ids`, every local run that is running or queued.
   *
   * @internal not part of the package's API (what `run watch` reads, through `app/logs.ts`).
   */
  watchRuns(options: WatchRunsOptions = {}): AsyncGenerator<RunsSnapshot> {
    return watchRegistryRuns(this.store, { intervalMs: this.pollMs, ...options });
  }
}

/** A fingerprint of the registry file that changes with every append or rewrite. */
function registrySignature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}
