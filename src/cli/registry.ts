import { hostname, userInfo } from "node:os";
import { metricRegistryOf } from "../config/load.js";
import { assertValidId } from "../core/ids.js";
import type { MetricRegistry } from "../core/metrics/registry.js";
import { LocalStore } from "../stores/local/local-store.js";
import type { RegistryRecord } from "../stores/local/record.js";
import { readOne, readRaw, RegistryWriter, resolveId } from "../stores/local/registry-writer.js";
import type { CommandContext } from "./context.js";

/** The local registry as the run, metrics and registry commands use it. */
export interface OpenRegistry {
  /** The registry file. */
  readonly path: string;
  /** expflow's home directory. */
  readonly home: string;
  readonly store: LocalStore;
  readonly writer: RegistryWriter;
  readonly metrics: MetricRegistry;
  /** `user@host`, for history entries. */
  readonly who: string;
  /**
   * The full id for an id or unique prefix.
   *
   * @throws {NotFoundError} / {UsageError} (ambiguous, listing the candidates; `E_BAD_ID` for a
   *   prefix that breaks the id rule, the empty one included).
   */
  resolve(prefix: string): string;
  /** The latest raw record of an experiment (after {@link resolve}). */
  record(id: string): RegistryRecord | undefined;
}

/** The user running this process (the account, else USER / LOGNAME, else `unknown`). */
export function currentUser(env: Readonly<Record<string, string | undefined>>): string {
  try {
    return userInfo().username;
  } catch {
    return env["USER"] ?? env["LOGNAME"] ?? "unknown";
  }
}

/** `user@host` of this process. */
export function whoAmI(env: Readonly<Record<string, string | undefined>>): string {
  return `${currentUser(env)}@${hostname()}`;
}

/** Opens the registry named by `--registry`, configuration or the default. */
export async function openRegistry(ctx: CommandContext, registryFlag?: string): Promise<OpenRegistry> {
  const config = await ctx.config({ registry: registryFlag });
  const path = config.registry.value;
  const who = whoAmI(ctx.io.env);
  const writer = new RegistryWriter(path, { now: () => new Date(), who, createDirectory: config.registry.source === "default" });
  return {
    path,
    home: config.home,
    store: new LocalStore({ path, onWarning: ctx.warn }),
    writer,
    metrics: metricRegistryOf(config),
    who,
    resolve: (prefix) => {
      // Before any read: an empty or path-like prefix is exit 2, never "the only run".
      assertValidId(prefix);
      // An exact id needs only the lines that mention it; a prefix needs every id.
      if (readOne(path, prefix) !== undefined) return prefix;
      const ids = [...readRaw(path).records].filter(([, r]) => r.deleted !== true).map(([id]) => id);
      return resolveId(ids, prefix, path);
    },
    record: (id) => readOne(path, id),
  };
}
