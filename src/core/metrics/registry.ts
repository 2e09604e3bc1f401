import { ConfigError, ValidationError } from "../errors.js";
import { didYouMean } from "../suggest.js";

/** Which way is better: `higher` (scores) or `lower` (losses, errors, time, size). */
export type Direction = "higher" | "lower";

/** One metric of the registry. */
export interface MetricDefinition {
  /** Canonical name, as runs report it (e.g. `pde_mean`). */
  readonly name: string;
  /** Display group: Score, Loss, PDE, Time, Model, Training, or a user's own. */
  readonly group: string;
  /** Which way is better. */
  readonly direction: Direction;
  /** One line saying what the metric measures. */
  readonly description: string;
  /**
   * The value a run must beat, strictly, in the metric's direction (`lower`: value < threshold;
   * `higher`: value > threshold), or `null` when the metric has none.
   */
  readonly threshold: number | null;
  /** Unit of measure, or `null`. */
  readonly unit: string | null;
  /** Other names accepted for this metric in gates, `--sort-by` and reports. */
  readonly aliases: readonly string[];
  /** `true` for the 13 standard metrics (possibly overridden), `false` for user-added ones. */
  readonly standard: boolean;
}

/** What a user may set for a metric in config (`metrics:` map); every field optional. */
export interface MetricOverride {
  direction?: Direction;
  threshold?: number | null;
  group?: string;
  unit?: string | null;
  description?: string;
  aliases?: string[];
}

function std(
  name: string,
  group: string,
  direction: Direction,
  description: string,
  threshold: number | null = null,
  unit: string | null = null,
): MetricDefinition {
  return Object.freeze({ name, group, direction, description, threshold, unit, aliases: Object.freeze([]), standard: true });
}

/**
 * The 13 standard metrics, in display order. Frozen: build a {@link MetricRegistry} with
 * overrides to change them.
 */
export const STANDARD_METRICS: readonly MetricDefinition[] = Object.freeze([
  std("seg_total", "Score", "higher", "Primary competition score: the sum over all segments"),
  std("seg1", "Score", "higher", "Score on segment 1"),
  std("seg2", "Score", "higher", "Score on segment 2"),
  std("seg3", "Score", "higher", "Score on segment 3"),
  std("val_mse", "Loss", "lower", "Validation mean squared error"),
  std("val_relmse", "Loss", "lower", "Validation relative mean squared error"),
  std("pde_mean", "PDE", "lower", "Mean PDE residual over all segments", 18.09),
  std("pde_seg1", "PDE", "lower", "PDE residual on segment 1"),
  std("pde_seg2", "PDE", "lower", "PDE residual on segment 2"),
  std("pde_seg3", "PDE", "lower", "PDE residual on segment 3"),
  std("train_time_min", "Time", "lower", "Wall-clock training time", 60, "min"),
  std("arch_params", "Model", "lower", "Number of trainable model parameters", null, "params"),
  std("epochs", "Training", "lower", "Training epochs run"),
]);

/** Validated metric values: canonical name to finite number. */
export type MetricValues = Record<string, number>;

/**
 * Keys of a metrics-file entry that are not metrics: the entry's step (`step`, else
 * `iteration`). No metric (nor alias) may be named so.
 */
export const STEP_KEYS: readonly string[] = Object.freeze(["step", "iteration"]);

/** The longest name a custom (unregistered) metric may have. */
export const MAX_CUSTOM_NAME_CHARS = 128;

// C0 controls, DEL, C1 controls, bidirectional embeddings/overrides/isolates, line and paragraph
// separators, and every kind of white space: none of them belongs in a metric name.
// eslint-disable-next-line no-control-regex
const UNSAFE_NAME_CHAR = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\s]/u;

/**
 * Why `name` cannot be a custom metric's name, or `null` when it can: 1 to
 * {@link MAX_CUSTOM_NAME_CHARS} characters, no white space, no control characters (C0, DEL, C1),
 * no bidirectional controls, not a step key ({@link STEP_KEYS}) and not `__proto__`. Pure.
 */
export function customNameProblem(name: string): string | null {
  if (name === "") return "a metric name must not be empty";
  if (name.length > MAX_CUSTOM_NAME_CHARS) return `a metric name must be at most ${MAX_CUSTOM_NAME_CHARS} characters`;
  if (UNSAFE_NAME_CHAR.test(name)) return "a metric name must contain no white space and no control or bidirectional characters";
  if (STEP_KEYS.includes(name)) return `'${name}' is the entry's step, not a metric`;
  // Objects keyed by metric name (records, reports, rankings) would take it for their prototype.
  if (name === "__proto__") return "__proto__ cannot be a metric's name";
  return null;
}

/**
 * How to declare a metric of your own, in the library's words (the CLI says it with its
 * command). `name` is the metric's name, or `NAME` when several are meant.
 */
export function declareMetricHint(name = "NAME"): string {
  return `declare it with its direction under metrics: in expflow.yaml (${name}: {direction: lower} or {direction: higher})`;
}

/**
 * The metrics registry: the standard metrics plus a user's additions and overrides. Immutable;
 * build one with {@link MetricRegistry.create}.
 */
export class MetricRegistry {
  private readonly byName: ReadonlyMap<string, MetricDefinition>;
  private readonly byAlias: ReadonlyMap<string, string>;
  /**
   * `true` when only registered metrics are accepted (`metrics.strict: true` in config): an
   * unregistered name is refused, as the earlier tool did. `false` (the default): an
   * unregistered name is kept as a custom metric, without a direction until one is declared.
   */
  readonly strict: boolean;

  private constructor(definitions: readonly MetricDefinition[], strict = false) {
    this.strict = strict;
    const byName = new Map<string, MetricDefinition>();
    const byAlias = new Map<string, string>();
    for (const d of definitions) byName.set(d.name, d);
    for (const d of definitions) for (const a of d.aliases) byAlias.set(a, d.name);
    this.byName = byName;
    this.byAlias = byAlias;
  }

  /** The registry of the 13 standard metrics alone. */
  static standard(): MetricRegistry {
    return new MetricRegistry(STANDARD_METRICS);
  }

  /**
   * The standard metrics with `overrides` applied: a key naming a standard metric changes the
   * fields given; any other key adds a metric (which must then state its `direction`).
   *
   * @param overrides the merged `metrics:` map of the configuration.
   * @param sourceOf names the file that set a metric's entry, for error messages (default `config`).
   * @param options.strict refuse unregistered metrics instead of keeping them as custom ones
   *   (default `false`; see {@link MetricRegistry.strict}).
   * @throws {ConfigError} naming the file and key of an invalid definition: a new metric without a
   *   direction, a non-finite threshold, an empty name, a name or alias that is a step key
   *   (`step`, `iteration`), or an alias that is already a metric's name or another metric's alias.
   */
  static create(
    overrides: Readonly<Record<string, MetricOverride>> = {},
    sourceOf: (metric: string) => string = () => "config",
    options: { strict?: boolean } = {},
  ): MetricRegistry {
    const definitions = new Map<string, MetricDefinition>(STANDARD_METRICS.map((d) => [d.name, d]));
    for (const [name, o] of Object.entries(overrides)) {
      const key = `metrics.${name}`;
      if (name.trim() === "" || /\s/.test(name)) {
        throw new ConfigError(sourceOf(name), key, "a metric name must be non-empty and contain no whitespace");
      }
      if (STEP_KEYS.includes(name)) {
        throw new ConfigError(sourceOf(name), key, `'${name}' cannot be a metric: in a metrics file it is the entry's step`);
      }
      if (o.threshold !== undefined && o.threshold !== null && !Number.isFinite(o.threshold)) {
        throw new ConfigError(sourceOf(name), `${key}.threshold`, "must be a finite number (or null for none)");
      }
      if (o.direction !== undefined && o.direction !== "higher" && o.direction !== "lower") {
        throw new ConfigError(sourceOf(name), `${key}.direction`, `must be 'higher' or 'lower', got ${JSON.stringify(o.direction)}`);
      }
      for (const alias of o.aliases ?? []) {
        if (typeof alias !== "string" || alias.trim() === "" || /\s/.test(alias)) {
          throw new ConfigError(sourceOf(name), `${key}.aliases`, `alias ${JSON.stringify(alias)} must be non-empty and contain no whitespace`);
        }
        if (STEP_KEYS.includes(alias)) {
          throw new ConfigError(sourceOf(name), `${key}.aliases`, `alias '${alias}' cannot be a metric's: in a metrics file it is the entry's step`);
        }
      }
      const base = definitions.get(name);
      if (base === undefined && o.direction === undefined) {
        throw new ConfigError(sourceOf(name), `${key}.direction`, `'${name}' is not a standard metric, so it needs a direction`, {
          hint: "add `direction: higher` or `direction: lower`",
        });
      }
      definitions.set(
        name,
        Object.freeze({
          name,
          group: o.group ?? base?.group ?? "Custom",
          direction: o.direction ?? base!.direction,
          description: o.description ?? base?.description ?? "",
          threshold: o.threshold !== undefined ? o.threshold : (base?.threshold ?? null),
          unit: o.unit !== undefined ? o.unit : (base?.unit ?? null),
          aliases: Object.freeze([...(o.aliases ?? base?.aliases ?? [])]),
          standard: base?.standard ?? false,
        }),
      );
    }
    const owner = new Map<string, string>();
    for (const d of definitions.values()) owner.set(d.name, d.name);
    for (const d of definitions.values()) {
      for (const alias of d.aliases) {
        const taken = owner.get(alias);
        if (taken !== undefined) {
          throw new ConfigError(
            sourceOf(d.name),
            `metrics.${d.name}.aliases`,
            taken === alias
              ? `alias '${alias}' is already the name of a metric`
              : `alias '${alias}' is already an alias of '${taken}'`,
          );
        }
        owner.set(alias, d.name);
      }
    }
    return new MetricRegistry([...definitions.values()], options.strict === true);
  }

  /** The canonical name for a name or alias, or `undefined` when it is not registered. */
  resolve(nameOrAlias: string): string | undefined {
    if (this.byName.has(nameOrAlias)) return nameOrAlias;
    return this.byAlias.get(nameOrAlias);
  }

  /** The definition for a name or alias, or `undefined`. */
  get(nameOrAlias: string): MetricDefinition | undefined {
    const name = this.resolve(nameOrAlias);
    return name === undefined ? undefined : this.byName.get(name);
  }

  /**
   * The definition that governs a metric name as reported: the registered name or alias, else,
   * for a qualified name `Title/name` (a ClearML title and variant), the definition of `name`, so
   * `PDE/pde_mean` keeps `pde_mean`'s direction and threshold.
   */
  definitionOf(name: string): MetricDefinition | undefined {
    const direct = this.get(name);
    if (direct !== undefined) return direct;
    const slash = name.lastIndexOf("/");
    return slash > 0 && slash < name.length - 1 ? this.get(name.slice(slash + 1)) : undefined;
  }

  /** Whether a name or alias is registered. */
  has(nameOrAlias: string): boolean {
    return this.resolve(nameOrAlias) !== undefined;
  }

  /** All definitions in display order (standard first), optionally of one group (case-insensitive). */
  list(group?: string): MetricDefinition[] {
    const all = [...this.byName.values()];
    if (group === undefined) return all;
    const g = group.toLowerCase();
    return all.filter((d) => d.group.toLowerCase() === g);
  }

  /** The groups in display order. */
  groups(): string[] {
    return [...new Set([...this.byName.values()].map((d) => d.group))];
  }

  /** Every canonical name. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Every canonical name and alias: the candidates for a did-you-mean suggestion. */
  allNames(): string[] {
    return [...this.byName.keys(), ...this.byAlias.keys()];
  }
}

/** Something that receives validated metric values: a function or an object with `reportMetrics`. */
export type MetricSink =
  | ((values: MetricValues) => void | Promise<void>)
  | { reportMetrics(values: MetricValues): void | Promise<void> };

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses a finite decimal number (`18.09`, `-0.5`, `1e3`): the only number syntax expflow reads
 * from text. Returns `undefined` for anything else, including `NaN`, `Infinity`, hex and blanks.
 */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return String(value);
  if (value === null) return "null";
  return typeof value;
}

/** How {@link validateMetricValues} treats names the registry does not know. */
export interface ValidateOptions {
  /**
   * Keep an unregistered name that is a valid custom metric name ({@link customNameProblem}) as
   * a custom metric, under its own name, instead of refusing it. Ignored (refused) when the
   * registry is strict. Default `false`: only registered metrics pass.
   */
  readonly custom?: boolean;
}

/**
 * Why `value` is not a metric value, or its number: a finite number, or a string holding a
 * finite decimal number. 0 and negative values are values. Pure.
 */
export function metricNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value === "string") return parseDecimal(value.trim());
  return undefined;
}

/** The message for a value that is not a finite number. */
export function notFiniteMessage(name: string, value: unknown): string {
  return `metric '${name}' has value ${describe(value)}: it must be a finite number`;
}

/**
 * The message (and hint) for a name the registry does not know, with the nearest known name
 * and how to declare one.
 */
export function unknownMetricProblem(name: string, registry: MetricRegistry): string {
  const strict = registry.strict ? " (metrics.strict is set in the configuration, so only registered metrics are kept)" : "";
  return `unknown metric '${name}'${strict}.${didYouMean(name, registry.allNames())}`;
}

/**
 * Validates metric values against the registry without reporting them anywhere.
 *
 * Names may be canonical names or aliases; the result is keyed by canonical name. Values must be
 * finite numbers, or strings holding a finite decimal number. 0 and negative values are values.
 * With `options.custom` (and a registry that is not strict), unregistered names that are valid
 * custom metric names are kept under their own names.
 *
 * @throws {ValidationError} (`E_METRIC_VALIDATION`) listing every problem at once: unknown names
 *   (with the nearest known name, the list of known names and how to declare one), non-finite
 *   numbers, booleans, non-numeric strings and other types, invalid custom names; also when
 *   `values` is not an object or is empty. A single unknown name is its `value`.
 */
export function validateMetricValues(values: unknown, registry: MetricRegistry = MetricRegistry.standard(), options: ValidateOptions = {}): MetricValues {
  if (values === null || typeof values !== "object" || Array.isArray(values)) {
    throw new ValidationError("E_METRIC_VALIDATION", "metric values must be an object mapping metric names to numbers");
  }
  const entries = values instanceof Map ? [...(values as Map<unknown, unknown>).entries()] : Object.entries(values);
  if (entries.length === 0) {
    throw new ValidationError("E_METRIC_VALIDATION", "no metric values given: nothing to report");
  }
  const custom = options.custom === true && !registry.strict;
  const problems: string[] = [];
  const unknown: string[] = [];
  // A Map, not an object: metric names such as `constructor` or `__proto__` are names like any other.
  const out = new Map<string, number>();
  for (const [rawName, value] of entries) {
    const name = String(rawName);
    let canonical = registry.resolve(name);
    if (canonical === undefined) {
      const problem = custom ? customNameProblem(name) : undefined;
      if (problem === null) canonical = name;
      else {
        // A name that cannot be a metric's gets no advice to declare it.
        if (problem === undefined) unknown.push(name);
        problems.push(problem === undefined ? unknownMetricProblem(name, registry) : `metric ${JSON.stringify(name)} cannot be kept as a custom metric: ${problem}`);
        continue;
      }
    }
    const n = metricNumber(value);
    if (n === undefined) {
      problems.push(notFiniteMessage(name, value));
      continue;
    }
    if (out.has(canonical)) {
      problems.push(`metric '${canonical}' is given twice (as '${name}' and under another name)`);
      continue;
    }
    out.set(canonical, n);
  }
  if (problems.length > 0) {
    throw new ValidationError("E_METRIC_VALIDATION", problems.join("\n"), {
      hint: unknown.length > 0 ? `known metrics: ${registry.names().join(", ")}; ${declareMetricHint(unknown.length === 1 ? unknown[0] : undefined)}` : undefined,
      ...(unknown.length === 1 ? { field: "values", value: unknown[0] } : {}),
    });
  }
  return Object.fromEntries(out);
}

/**
 * Validates metric values through the registry and hands the validated map to `sink`.
 *
 * @param values metric name (or alias) to number.
 * @param sink where the values go: a function or an object with `reportMetrics`. Omitted: only
 *   validate.
 * @param options.registry the registry to validate against (default: the standard metrics).
 * @returns the validated map, keyed by canonical names, after the sink has accepted it.
 * @throws {ValidationError} as {@link validateMetricValues}; the sink is not called then.
 */
export async function reportStandard(
  values: unknown,
  sink?: MetricSink,
  options: { registry?: MetricRegistry } = {},
): Promise<MetricValues> {
  const validated = validateMetricValues(values, options.registry);
  if (sink !== undefined) {
    if (typeof sink === "function") await sink({ ...validated });
    else await sink.reportMetrics({ ...validated });
  }
  return validated;
}
