import { hostname, userInfo } from "node:os";
import type { LocalBackend } from "../app/backend.js";
import { openLocalBackend } from "../app/backend.js";
import type { ResolvedConfig } from "../config/load.js";
import { loadConfig, metricRegistryOf } from "../config/load.js";
import { DeniedError } from "../core/errors.js";
import type { MetricRegistry } from "../core/metrics/registry.js";
import type { AuditActor } from "../security/audit-log.js";
import type { ClearmlStore } from "../stores/clearml/clearml-store.js";

/** What the server is started with: injected, so tests control it. */
export interface McpOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** The registry file, as `--registry` names it (default: configuration's). */
  readonly registry?: string;
  /** How long an approval request stays pending, in milliseconds. */
  readonly approvalTtlMs: number;
  readonly now: () => Date;
  /** Where warnings go (standard error: standard output carries only the protocol). */
  readonly warn: (message: string) => void;
}

/** What a tool call gets: the configuration, the backends (opened on demand), who acts, where warnings go. */
export interface ToolContext {
  readonly options: McpOptions;
  readonly config: () => Promise<ResolvedConfig>;
  readonly metrics: () => Promise<MetricRegistry>;
  /** The local registry; its destructive operations are refused: the server never performs one. */
  readonly local: () => Promise<LocalBackend>;
  /** A ClearML store over the connection of the environment and clearml.conf. */
  readonly clearml: (options?: { listParams?: boolean }) => Promise<ClearmlStore>;
  /** The MCP client, `name/version` as its initialize request gave them. */
  readonly client: () => string;
  readonly actor: AuditActor;
  /** Collects a warning for this call's result (and writes it to standard error). */
  readonly warn: (message: string) => void;
}

/** The OS user running the server. */
function currentUser(env: Readonly<Record<string, string | undefined>>): string {
  try {
    return userInfo().username;
  } catch {
    return env["USER"] ?? env["LOGNAME"] ?? "unknown";
  }
}

/**
 * The context of one tool call. The backend's `authorize` refuses every protected action: a
 * destructive tool creates an approval request instead, and only `expflow approve` (a human, with
 * the PIN) performs it. Reaching the guard from here is a bug this refusal contains.
 */
export function toolContext(options: McpOptions, client: () => string, warnings: string[]): ToolContext {
  let config: Promise<ResolvedConfig> | undefined;
  const loaded = (): Promise<ResolvedConfig> => (config ??= loadConfig({ env: options.env, cwd: options.cwd }, { registry: options.registry }));
  const user = currentUser(options.env);
  const host = hostname();
  const warn = (message: string): void => {
    warnings.push(message);
    options.warn(message);
  };
  return {
    options,
    config: loaded,
    metrics: async () => metricRegistryOf(await loaded()),
    local: async () =>
      openLocalBackend({
        config: await loaded(),
        authorize: async (action, target) => {
          throw new DeniedError("E_APPROVAL_REQUIRED", `${action} on ${target} is not performed by the MCP server`, { hint: "request it through its tool: a human approves it with `expflow approve ID`" });
        },
        env: options.env,
        cwd: options.cwd,
        host,
        who: `${user}@${host}`,
        now: options.now,
        warn,
      }),
    clearml: async (o = {}) => {
      const [{ ClearmlClient }, { clientOptionsOf, resolveClearmlConnection }, { ClearmlStore }] = await Promise.all([
        import("../stores/clearml/client.js"),
        import("../stores/clearml/connection.js"),
        import("../stores/clearml/clearml-store.js"),
      ]);
      const home = options.env["HOME"] !== undefined && options.env["HOME"] !== "" ? options.env["HOME"] : (await import("node:os")).homedir();
      const connection = resolveClearmlConnection(options.env, home, { cwd: options.cwd });
      const client = new ClearmlClient(clientOptionsOf(connection));
      return new ClearmlStore({ client, onWarning: warn, listParams: o.listParams });
    },
    client,
    actor: { now: options.now, user, host },
    warn,
  };
}
