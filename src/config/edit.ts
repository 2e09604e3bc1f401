import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { ConfigError, UsageError } from "../core/errors.js";
import type { Direction, MetricDefinition, MetricOverride } from "../core/metrics/registry.js";
import { customNameProblem } from "../core/metrics/registry.js";
import { replaceFileAtomic, writeAll } from "../util/atomic-file.js";
import { storageError } from "../util/fs-errors.js";
import { realFilePath, withFileLock } from "../util/lock.js";
import { ensurePrivateDir } from "../util/private-files.js";
import type { ConfigEnvironment } from "./load.js";
import { findProjectConfig, loadConfig, metricRegistryOf, parseConfigDocument, toJsBounded } from "./load.js";
import { validateConfigFile } from "./schema.js";

/** A metric to declare (`expflow metrics add`). */
export interface MetricDeclaration {
  readonly name: string;
  readonly direction: Direction;
  /** The value a run must beat, strictly, in the metric's direction. */
  readonly threshold?: number;
  /** Display group (default `Custom`). */
  readonly group?: string;
  readonly unit?: string;
  readonly description?: string;
}

/** What {@link declareMetric} did. */
export interface DeclaredMetric {
  /** The configuration file written. */
  readonly file: string;
  /** Whether the file was created. */
  readonly created: boolean;
  /** The metric as the registry now defines it. */
  readonly definition: MetricDefinition;
}

/**
 * The file a declaration goes to: the nearest `expflow.yaml` at or above the working directory
 * (the project's), else `$EXPFLOW_HOME/config.yaml`.
 */
export function declarationFile(environment: ConfigEnvironment, home: string): string {
  return findProjectConfig(environment.cwd) ?? join(home, "config.yaml");
}

/** The entry as it is written under `metrics:`, fields in the order `metrics show` lists them. */
function entryOf(d: MetricDeclaration): MetricOverride {
  const o: MetricOverride = { direction: d.direction };
  if (d.threshold !== undefined) o.threshold = d.threshold;
  if (d.group !== undefined) o.group = d.group;
  if (d.unit !== undefined) o.unit = d.unit;
  if (d.description !== undefined) o.description = d.description;
  return o;
}

/** The first key's column of a block mapping, from the text it was parsed from. */
function columnOf(text: string, offset: number): number {
  return offset - (text.lastIndexOf("\n", offset - 1) + 1);
}

/**
 * The file's text with `name: entry` added under `metrics:`, everything else as it was, byte for
 * byte, where the file's layout allows an insertion (a block mapping at the top, `metrics:`
 * missing or a block mapping); otherwise re-written through the YAML document, comments kept.
 */
async function withEntry(text: string, name: string, entry: MetricOverride, path: string): Promise<{ text: string; value: unknown }> {
  const yaml = await import("yaml");
  const doc = await parseConfigDocument(text, path);
  const before = toJsBounded(doc, path);
  const beforeObject = before !== null && typeof before === "object" && !Array.isArray(before) ? (before as Record<string, unknown>) : {};
  const metricsBefore = beforeObject["metrics"];
  if (metricsBefore !== null && typeof metricsBefore === "object" && Object.hasOwn(metricsBefore, name)) {
    // Declared meanwhile (another declaration took the file's lock first).
    throw new UsageError("E_METRIC_EXISTS", `'${name}' is already a metric (declared in ${path})`, { field: "name", value: name });
  }
  const expected = {
    ...beforeObject,
    metrics: new Map([...Object.entries(metricsBefore !== null && typeof metricsBefore === "object" ? (metricsBefore as Record<string, unknown>) : {}), [name, entry]]),
  };
  const expectedJs = { ...expected, metrics: Object.fromEntries(expected.metrics) };

  const block = (indent: number): string =>
    yaml
      .stringify(new Map([[name, entry]]), { indent: Math.max(2, indent) })
      .split("\n")
      .map((l) => (l === "" ? l : " ".repeat(indent) + l))
      .join("\n");
  const candidates: string[] = [];
  const top = doc.contents;
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  if (top === null) candidates.push(`${text}${sep}metrics:\n${block(2)}`);
  else if (yaml.isMap(top) && !top.flow && top.range !== undefined && columnOf(text, top.range[0]) === 0) {
    const metrics = top.get("metrics", true);
    if (metrics === undefined) candidates.push(`${text}${sep}metrics:\n${block(2)}`);
    else if (yaml.isMap(metrics) && !metrics.flow && metrics.range != null && metrics.items.length > 0) {
      const at = metrics.range[1];
      const indent = columnOf(text, metrics.range[0]);
      const lead = text.charCodeAt(at - 1) === 0x0a ? "" : "\n";
      candidates.push(`${text.slice(0, at)}${lead}${block(indent)}${text.slice(at)}`);
    }
  }
  // The document's own way: the layout of what was there may change (flow collections' spacing).
  const edited: import("yaml").Document = await parseConfigDocument(text, path);
  if (edited.contents === null) edited.contents = edited.createNode({});
  const node = edited.get("metrics", true);
  if (!yaml.isMap(node)) edited.set("metrics", edited.createNode({}));
  (edited.get("metrics", true) as import("yaml").YAMLMap).set(edited.createNode(name), edited.createNode(entry));
  candidates.push(edited.toString());

  for (const candidate of candidates) {
    const parsed = await parseConfigDocument(candidate, path).catch(() => undefined);
    if (parsed === undefined) continue;
    const value = toJsBounded(parsed, path);
    if (isDeepStrictEqual(value, expectedJs)) return { text: candidate, value };
  }
  // A bug: every file the schema accepts takes an entry one way or the other.
  throw new Error(`could not add metric '${name}' to ${path} and read it back as written`);
}

/**
 * Declares a metric in the nearest configuration file ({@link declarationFile}; created, 0600,
 * when missing), keeping the rest of the file as it was, comments included. The result is
 * validated as configuration is (the file's schema, and the registry of every layer with the new
 * metric) before anything is written; the write is atomic, under the file's lock, so two
 * declarations at once both land.
 *
 * @throws {UsageError} `E_METRIC_EXISTS` (exit 2) when the name is already a metric or an alias
 *   (standard or declared), `E_METRIC_NAME` for a name that cannot be a metric's.
 * @throws {ConfigError} (exit 2) a configuration file that is invalid already, or a definition
 *   it refuses (a non-finite threshold, an empty group).
 * @throws {BackendError} (exit 4) when the file cannot be written.
 */
export async function declareMetric(environment: ConfigEnvironment, declaration: MetricDeclaration): Promise<DeclaredMetric> {
  const { name } = declaration;
  const problem = customNameProblem(name);
  if (problem !== null) throw new UsageError("E_METRIC_NAME", `cannot declare ${JSON.stringify(name)}: ${problem}`, { field: "name", value: name });
  const config = await loadConfig(environment);
  const registry = metricRegistryOf(config);
  const existing = registry.get(name);
  if (existing !== undefined) {
    const where = existing.standard ? "a standard metric" : `declared in ${config.metricSources[existing.name] ?? "the configuration"}`;
    throw new UsageError(
      "E_METRIC_EXISTS",
      existing.name === name ? `'${name}' is already a metric (${where})` : `'${name}' is already an alias of '${existing.name}' (${where})`,
      {
        hint: `change its fields under metrics: in ${existing.standard ? "a configuration file" : (config.metricSources[existing.name] ?? "the configuration")} instead (fields: direction, threshold, group, unit, description, aliases)`,
        field: "name",
        value: name,
      },
    );
  }
  const entry = entryOf(declaration);
  const file = declarationFile(environment, config.home);
  // The registry of every layer with the new metric: what the next command will build.
  const definition = metricRegistryOf({ ...config, metrics: { ...config.metrics, [name]: entry }, metricSources: { ...config.metricSources, [name]: file } }).get(name)!;
  if (dirname(file) === config.home) ensurePrivateDir(config.home);
  const target = realFilePath(file);
  return withFileLock(`${target}.lock`, async () => {
    // Read under the lock: a declaration made meanwhile is kept.
    const created = !existsSync(target);
    let text = "";
    let mode = 0o600;
    if (!created) {
      try {
        text = readFileSync(target, "utf8");
        mode = statSync(target).mode & 0o7777;
      } catch (e) {
        throw new ConfigError(file, undefined, `cannot read the file: ${(e as Error).message}`);
      }
    }
    const { text: next, value } = await withEntry(text, name, entry, file);
    const content = validateConfigFile(value, file);
    if (content.metricsStrict !== undefined && name === "strict") {
      throw new UsageError("E_METRIC_EXISTS", `'strict' under metrics: in ${file} is the metrics.strict setting`, { field: "name", value: name });
    }
    try {
      replaceFileAtomic(target, (fd) => writeAll(fd, next), { mode });
    } catch (e) {
      throw storageError(e, file);
    }
    return { file, created, definition };
  });
}
