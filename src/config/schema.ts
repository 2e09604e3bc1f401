import { z } from "zod";
import { ConfigError } from "../core/errors.js";
import type { MetricOverride } from "../core/metrics/registry.js";
import { didYouMean } from "../core/suggest.js";

const metricOverride = z.strictObject({
  direction: z.enum(["higher", "lower"]).optional(),
  threshold: z.number().finite().nullable().optional(),
  group: z.string().min(1).optional(),
  unit: z.string().nullable().optional(),
  description: z.string().optional(),
  aliases: z.array(z.string().min(1)).optional(),
});

const pinSection = z.strictObject({
  allow_force: z.boolean().optional(),
  hash: z.string().min(1).optional(),
});

const auditSection = z.strictObject({
  rules: z.string().min(1).optional(),
});

const configFile = z.strictObject({
  registry: z.string().min(1).optional(),
  metrics: z.record(z.string(), metricOverride).optional(),
  pin: pinSection.optional(),
  audit: auditSection.optional(),
});

/** One configuration file's content, validated. */
export interface ConfigFileContent {
  registry?: string;
  metrics?: Record<string, MetricOverride>;
  /**
   * `metrics.strict`: `true` refuses metrics the registry does not know (as the earlier tool
   * did); `false` keeps them as custom metrics. A boolean under `metrics:` is this setting; a
   * mapping there is a metric's definition.
   */
  metricsStrict?: boolean;
  pin?: { allow_force?: boolean; hash?: string };
  audit?: { rules?: string };
}

const KNOWN_KEYS: Record<string, readonly string[]> = {
  "": Object.keys(configFile.shape),
  metric: Object.keys(metricOverride.shape),
  pin: Object.keys(pinSection.shape),
  audit: Object.keys(auditSection.shape),
};

/**
 * Validates the parsed content of one configuration file. Pure.
 *
 * @param source the file name, for messages.
 * @throws {ConfigError} naming the file and the dotted key at fault.
 */
export function validateConfigFile(data: unknown, source: string): ConfigFileContent {
  if (data === null || data === undefined) return {};
  let strict: boolean | undefined;
  const metrics = data !== null && typeof data === "object" && !Array.isArray(data) ? (data as Record<string, unknown>)["metrics"] : undefined;
  if (metrics !== null && typeof metrics === "object" && Object.hasOwn(metrics, "__proto__")) {
    // Objects keyed by name would take it for their prototype and drop it without a word.
    throw new ConfigError(source, "metrics.__proto__", "__proto__ cannot be a metric's name");
  }
  if (metrics !== null && typeof metrics === "object" && !Array.isArray(metrics) && Object.hasOwn(metrics, "strict")) {
    const value = (metrics as Record<string, unknown>)["strict"];
    // `strict: {direction: ...}` stays a metric named strict, as it has always been.
    if (value === null || typeof value !== "object") {
      if (typeof value !== "boolean") throw new ConfigError(source, "metrics.strict", `must be true or false, got ${JSON.stringify(value) ?? String(value)}`);
      strict = value;
      const { strict: _setting, ...rest } = metrics as Record<string, unknown>;
      data = { ...(data as Record<string, unknown>), metrics: rest };
    }
  }
  const result = configFile.safeParse(data);
  if (result.success) return { ...(result.data as ConfigFileContent), ...(strict === undefined ? {} : { metricsStrict: strict }) };
  const issue = result.error.issues[0]!;
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0]!;
    const inMetric = path[0] === "metrics" && path.length === 2;
    const known = inMetric ? KNOWN_KEYS["metric"]! : path.length === 0 ? KNOWN_KEYS[""]! : path.join(".") === "pin" ? KNOWN_KEYS["pin"]! : path.join(".") === "audit" ? KNOWN_KEYS["audit"]! : [];
    throw new ConfigError(source, [...path, key].join("."), `unknown key.${didYouMean(key, known)} Known keys here: ${known.join(", ")}`);
  }
  if (path.length === 0) {
    throw new ConfigError(source, undefined, "the file must hold a mapping of keys (registry, metrics, pin, audit)");
  }
  throw new ConfigError(source, path.join("."), issue.message);
}
