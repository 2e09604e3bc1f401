import { homedir } from "node:os";
import type { ResolvedConfig } from "../config/load.js";
import { metricRegistryOf } from "../config/load.js";
import type { MetricRegistry } from "../core/metrics/registry.js";
// ClearML's modules are loaded only when a run goes there or comes from there (types only here):
// a local listing does not pay for them.
import type { ClearmlExecutor, DescribeScript } from "../executors/clearml/clearml-executor.js";
import { LocalExecutor } from "../executors/local/local-executor.js";
import { RoutingExecutor } from "../executors/routing-executor.js";
import type { Authorize } from "../security/guarded.js";
import { guardedExecutor, guardedStore } from "../security/guarded.js";
import type { ClearmlClient } from "../stores/clearml/client.js";
import { LocalStore } from "../stores/local/local-store.js";
import type { WarningSink } from "../stores/store.js";

export { isClearmlFailure } from "../stores/clearml/errors.js";

/** ClearML as the backend's runs reach it: opened the first time a run goes there or comes from there. */
export interface ClearmlSide {
  /** Dispatch, cancel (guarded: `run.cancel`), status, sync of runs linked to ClearML tasks. */
  readonly executor: ClearmlExecutor;
  /** The API server. */
  readonly server: string;
}

/** The local registry opened as a backend: its store and its executor, both guarded. */
export interface LocalBackend {
  readonly kind: "local";
  /** The registry file. */
  readonly path: string;
  /** expflow's home. */
  readonly home: string;
  readonly metrics: MetricRegistry;
  /** The registry; `archive` (archive, delete) asks `authorize` first, and reaches a linked run's ClearML task too. */
  readonly store: LocalStore;
  /** The runs' executor: local runs through the local runner and agent, linked runs through ClearML; `cancel` asks `authorize` first. */
  readonly executor: RoutingExecutor;
  /**
   * ClearML, opened on first use (the connection from the environment or clearml.conf).
   *
   * @throws {BackendError} `E_CLEARML_NOT_CONFIGURED` / `E_CLEARML_CONFIG` (exit 4).
   */
  readonly clearml: () => Promise<ClearmlSide>;
}

/** How the ClearML client is opened: the CLI passes its own (with `--verbose` logging and the progress line). */
export type OpenClearmlClient = () => Promise<{ readonly client: ClearmlClient; readonly webServer: string | null }>;

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
  /** Opens the ClearML client when a run needs it. Default: the server and credentials of `env` and clearml.conf. */
  readonly openClearml?: OpenClearmlClient;
  /** Builds a task's `script` from the working directory and the command. Default: `executors/clearml/script.ts`. */
  readonly describeScript?: DescribeScript;
}

function defaultOpenClearml(env: Readonly<Record<string, string | undefined>>, cwd: string): OpenClearmlClient {
  return async () => {
    const [{ ClearmlClient: Client }, { clientOptionsOf, resolveClearmlConnection }] = await Promise.all([import("../stores/clearml/client.js"), import("../stores/clearml/connection.js")]);
    const home = env["HOME"] !== undefined && env["HOME"] !== "" ? env["HOME"] : homedir();
    const connection = resolveClearmlConnection(env, home, { cwd });
    return { client: new Client(clientOptionsOf(connection)), webServer: connection.webServer };
  };
}

const defaultDescribeScript: DescribeScript = async (input) => (await import("../executors/clearml/script.js")).describeScript(input);

/**
 * Opens the configured local registry as a backend in one call: the store and the executor over
 * it, with every destructive operation guarded by construction (`security/guarded.ts`), and
 * ClearML behind them for the runs dispatched there.
 */
export function openLocalBackend(ctx: BackendContext): LocalBackend {
  const path = ctx.config.registry.value;
  const writer = { now: ctx.now, who: ctx.who, createDirectory: ctx.config.registry.source === "default" };
  const metrics = metricRegistryOf(ctx.config);
  let side: Promise<{ executor: ClearmlExecutor; guarded: ClearmlExecutor; server: string }> | undefined;
  const openClearml = ctx.openClearml ?? defaultOpenClearml(ctx.env, ctx.cwd);
  const open = async (): Promise<{ executor: ClearmlExecutor; guarded: ClearmlExecutor; server: string }> => {
    const [{ client, webServer }, { ClearmlExecutor: Executor }, { ClearmlTasks }] = await Promise.all([
      openClearml(),
      import("../executors/clearml/clearml-executor.js"),
      import("../executors/clearml/clearml-tasks.js"),
    ]);
    const executor = new Executor({
      // The executor's own bookkeeping: creating and following records is not destructive.
      store: new LocalStore({ path, onWarning: ctx.warn, writer }),
      tasks: new ClearmlTasks(client),
      webServer,
      who: ctx.who,
      metrics,
      describeScript: ctx.describeScript ?? defaultDescribeScript,
      onWarning: ctx.warn,
      now: ctx.now,
    });
    return { executor, guarded: guardedExecutor(executor, ctx.authorize), server: client.server };
  };
  const clearml = (): Promise<{ executor: ClearmlExecutor; guarded: ClearmlExecutor; server: string }> => {
    // A failed opening (not configured) is not kept: the next call tries again.
    side ??= open().catch((e: unknown) => {
      side = undefined;
      throw e;
    });
    return side;
  };
  const store = new LocalStore({ path, onWarning: ctx.warn, writer, linked: async () => (await clearml()).executor.linkedTasks() });
  const local = new LocalExecutor({ path, home: ctx.config.home, metrics, host: ctx.host, env: ctx.env, cwd: ctx.cwd, writer, onEvent: ctx.onEvent });
  const executor = new RoutingExecutor(local, async () => (await clearml()).executor, store);
  return {
    kind: "local",
    path,
    home: ctx.config.home,
    metrics,
    store: guardedStore(store, ctx.authorize),
    executor: guardedExecutor(executor, ctx.authorize),
    clearml: async () => {
      const s = await clearml();
      return { executor: s.guarded, server: s.server };
    },
  };
}
