import type { ResolvedConfig } from "../config/load.js";
import { metricRegistryOf } from "../config/load.js";
import type { MetricRegistry } from "../core/metrics/registry.js";
import { LocalExecutor } from "../executors/local/local-executor.js";
import type { Authorize } from "../security/guarded.js";
import { guardedExecutor, guardedStore } from "../security/guarded.js";
import { LocalStore } from "../stores/local/local-store.js";
import type { WarningSink } from "../stores/store.js";

export { isClearmlFailure } from "../stores/clearml/errors.js";

/** The local registry opened as a backend: its store and its executor, both guarded. */
export interface LocalBackend {
  readonly kind: "local";
  /** The registry file. */
  readonly path: string;
  /** expflow's home. */
  readonly home: string;
  readonly metrics: MetricRegistry;
  /** The registry; `archive` (archive, delete) asks `authorize` first. */
  readonly store: LocalStore;
  /** The local runner and agent; `cancel` asks `authorize` first. */
  readonly executor: LocalExecutor;
}

/** What opening a backend needs from outside: injected so tests control it. */
export interface BackendContext {
  readonly config: ResolvedConfig;
  /** Asks for the right to do a protected action (the guard with the caller's PIN channels). */
  readonly authorize: Authorize;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly host: string;
  /** `user@host`, for history entries. */
  readonly who: string;
  readonly now: () => Date;
  readonly warn: WarningSink;
  /** Receives one line for each thing the local runner does (the agent prints them). */
  readonly onEvent?: (message: string) => void;
}

/**
 * Opens the configured local registry as a backend in one call: the store and the executor over
 * it, with every destructive operation guarded by construction (`security/guarded.ts`).
 */
export function openLocalBackend(ctx: BackendContext): LocalBackend {
  const path = ctx.config.registry.value;
  const writer = { now: ctx.now, who: ctx.who, createDirectory: ctx.config.registry.source === "default" };
  const metrics = metricRegistryOf(ctx.config);
  const store = new LocalStore({ path, onWarning: ctx.warn, writer });
  const executor = new LocalExecutor({ path, home: ctx.config.home, metrics, host: ctx.host, env: ctx.env, cwd: ctx.cwd, writer, onEvent: ctx.onEvent });
  return {
    kind: "local",
    path,
    home: ctx.config.home,
    metrics,
    store: guardedStore(store, ctx.authorize),
    executor: guardedExecutor(executor, ctx.authorize),
  };
}
