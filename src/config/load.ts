import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "../core/errors.js";
import type { MetricOverride } from "../core/metrics/registry.js";
import { MetricRegistry } from "../core/metrics/registry.js";
import type { ConfigFileContent } from "./schema.js";

/** Where a setting came from. */
export type Provenance = "default" | "env" | "flag" | string;

/** A setting with the layer that set it. */
export interface Sourced<T> {
  readonly value: T;
  readonly source: Provenance;
}

/** The effective configuration after every layer. */
export interface ResolvedConfig {
  /** expflow's home directory (`EXPFLOW_HOME`, default `~/.expflow`). */
  readonly home: string;
  /** Configuration files read, lowest layer first. */
  readonly files: readonly string[];
  /** The local registry file. */
  readonly registry: Sourced<string>;
  /** Merged `metrics:` overrides, field by field (a higher layer wins per field). */
  readonly metrics: Readonly<Record<string, MetricOverride>>;
  /** For each overridden metric, the file that last set one of its fields. */
  readonly metricSources: Readonly<Record<string, string>>;
  /**
   * `metrics.strict`: refuse unregistered metrics (`true`) or keep them as custom metrics
   * (`false`, the default). The highest file that sets it wins.
   */
  readonly metricsStrict: Sourced<boolean>;
  /**
   * The first file that says `pin.allow_force: false`, if any. Files can only forbid `--force`:
   * allowing it is the PIN owner's choice, recorded with the PIN (`expflow pin policy`).
   */
  readonly forceForbiddenBy: string | undefined;
  /** `pin.hash` from a file (the lowest-precedence hash source), with that file. */
  readonly pinHash: { value: string; source: string } | undefined;
  /** `audit.rules`: the default rule pack file (relative paths resolved against their file). */
  readonly auditRules: Sourced<string> | undefined;
}

/** What {@link loadConfig} reads from; injected so tests control it. */
export interface ConfigEnvironment {
  /** Environment variables (`process.env`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Directory to search up from for `expflow.yaml`. */
  cwd: string;
  /** The user's home directory, for the default `~/.expflow`. */
  userHome?: string;
}

/** Flags that override configuration (the last layer). */
export interface ConfigFlags {
  registry?: string;
}

/** Name of the project configuration file, searched for upwards from the working directory. */
export const PROJECT_CONFIG_NAME = "expflow.yaml";

/** `$EXPFLOW_HOME`, or `~/.expflow`. */
export function expflowHome(env: Readonly<Record<string, string | undefined>>, userHome: string = homedir()): string {
  const h = env["EXPFLOW_HOME"];
  return h !== undefined && h.trim() !== "" ? resolve(h) : join(userHome, ".expflow");
}

/** The nearest `expflow.yaml` at or above `cwd`, or `undefined`. */
export function findProjectConfig(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (;;) {
    const candidate = join(dir, PROJECT_CONFIG_NAME);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

async function readConfigFile(path: string): Promise<ConfigFileContent> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(path, undefined, `cannot read the file: ${(e as Error).message}`);
  }
  if (text.trim() === "") return {};
  // YAML and the schema library are loaded only when a file exists, to keep start-up fast.
  const [doc, { validateConfigFile }] = await Promise.all([parseConfigDocument(text, path), import("./schema.js")]);
  return validateConfigFile(toJsBounded(doc, path), path);
}

/**
 * Parses the text of a configuration file as a YAML document (comments and layout kept, for an
 * edit), refusing duplicate keys.
 *
 * @throws {ConfigError} naming the file, line and column of invalid YAML.
 */
export async function parseConfigDocument(text: string, path: string): Promise<import("yaml").Document.Parsed> {
  const { parseDocument } = await import("yaml");
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const err = doc.errors[0];
  if (err !== undefined) {
    const pos = err.linePos?.[0];
    const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
    throw new ConfigError(path, undefined, `not valid YAML: ${where}${err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`);
  }
  return doc;
}

/** How many times a YAML alias may be expanded in one file (config and rule packs). */
export const MAX_YAML_ALIAS_COUNT = 100;

/**
 * The plain value of a parsed YAML document, refusing alias bombs: an alias that expands to more
 * than {@link MAX_YAML_ALIAS_COUNT} nodes (the `yaml` package's `maxAliasCount`).
 *
 * @throws {ConfigError} (exit 2) naming the file.
 */
export function toJsBounded(doc: { toJS(options?: { maxAliasCount?: number }): unknown }, path: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (e) {
    if (e instanceof ReferenceError) {
      throw new ConfigError(path, undefined, `its aliases expand too far (more than ${MAX_YAML_ALIAS_COUNT} nodes for one alias): refused as a resource-exhaustion attack`);
    }
    throw e;
  }
}

/**
 * Loads configuration in layers: defaults < `$EXPFLOW_HOME/config.yaml` < the nearest
 * `expflow.yaml` up from the working directory < `EXPFLOW_*` environment < flags.
 *
 * A relative `registry` in a file is taken relative to that file's directory.
 *
 * @throws {ConfigError} naming the file (or variable) and the key at fault.
 */
export async function loadConfig(environment: ConfigEnvironment, flags: ConfigFlags = {}): Promise<ResolvedConfig> {
  const { env, cwd } = environment;
  const home = expflowHome(env, environment.userHome);
  const files: string[] = [];
  let registry: Sourced<string> = { value: join(home, "experiments.jsonl"), source: "default" };
  const metrics: Record<string, MetricOverride> = {};
  const metricSources: Record<string, string> = {};
  let metricsStrict: Sourced<boolean> = { value: false, source: "default" };
  let forceForbiddenBy: string | undefined;
  let pinHash: { value: string; source: string } | undefined;
  let auditRules: Sourced<string> | undefined;

  const layers = [join(home, "config.yaml"), findProjectConfig(cwd)].filter(
    (p, i, all): p is string => p !== undefined && existsSync(p) && all.indexOf(p) === i,
  );
  for (const file of layers) {
    const content = await readConfigFile(file);
    files.push(file);
    if (content.registry !== undefined) registry = { value: resolve(dirname(file), content.registry), source: file };
    for (const [name, override] of Object.entries(content.metrics ?? {})) {
      metrics[name] = { ...metrics[name], ...override };
      metricSources[name] = file;
    }
    if (content.metricsStrict !== undefined) metricsStrict = { value: content.metricsStrict, source: file };
    const force = content.pin?.allow_force;
    if (force === true) {
      throw new ConfigError(file, "pin.allow_force", "a configuration file can only forbid force in place of the PIN (false); allowing it is the PIN owner's choice", {
        hint: "remove the key, or set it to false; the PIN owner allows force in the PIN file's policy (allow_force), a change that asks the PIN",
      });
    }
    if (force === false) forceForbiddenBy ??= file;
    if (content.pin?.hash !== undefined) pinHash = { value: content.pin.hash, source: file };
    if (content.audit?.rules !== undefined) auditRules = { value: resolve(dirname(file), content.audit.rules), source: file };
  }
  const envRegistry = env["EXPFLOW_REGISTRY"];
  if (envRegistry !== undefined && envRegistry.trim() !== "") registry = { value: resolve(cwd, envRegistry), source: "env" };
  if (flags.registry !== undefined) registry = { value: resolve(cwd, flags.registry), source: "flag" };
  return { home, files, registry, metrics, metricSources, metricsStrict, forceForbiddenBy, pinHash, auditRules };
}

/**
 * The metrics registry of a configuration: the standard metrics with the user's overrides, strict
 * when `metrics.strict` is set.
 *
 * @throws {ConfigError} naming the file and key of an invalid definition.
 */
export function metricRegistryOf(config: Pick<ResolvedConfig, "metrics" | "metricSources"> & { readonly metricsStrict?: Sourced<boolean> }): MetricRegistry {
  return MetricRegistry.create(config.metrics, (name) => config.metricSources[name] ?? "config", { strict: config.metricsStrict?.value === true });
}
