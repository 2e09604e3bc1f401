import { ExpflowError } from "../core/errors.js";
import type { MetricRegistry, MetricValues } from "../core/metrics/registry.js";
import { validateMetricValues } from "../core/metrics/registry.js";
import { plainObject } from "../stores/local/record.js";

/** A value a run reported that the metrics registry refused; kept in the record, never dropped. */
export interface RejectedMetric {
  /** The name as reported, or `null` for a line that held no JSON object. */
  readonly name: string | null;
  /** The value as reported (for a damaged line: its text, cut to 200 characters). */
  readonly value: unknown;
  /** Why it was refused (the registry's message). */
  readonly reason: string;
}

/** What a metrics file yielded: the validated values (canonical names) and the refused entries. */
export interface IngestedMetrics {
  readonly accepted: MetricValues;
  readonly rejected: RejectedMetric[];
}

/**
 * Parses and validates the text of a run's metrics file (`EXPFLOW_METRICS_FILE`).
 *
 * The file holds one JSON object, or one JSON object a line (JSON lines); blank lines are
 * ignored. Later values win: a name reported again (under its own name or an alias) replaces the
 * earlier value. Each resulting name/value is validated on its own through `registry`, so one bad
 * entry never drops the good ones; refused entries, and lines that are not a JSON object, come
 * back in `rejected`. Never throws on bad content.
 */
export function ingestMetricsText(text: string, registry: MetricRegistry): IngestedMetrics {
  const rejected: RejectedMetric[] = [];
  const objects: Record<string, unknown>[] = [];
  const trimmed = text.trim();
  if (trimmed === "") return { accepted: {}, rejected };
  let whole: unknown;
  let parsedWhole = false;
  try {
    whole = JSON.parse(trimmed);
    parsedWhole = true;
  } catch {
    // not a single JSON document: read it as JSON lines below
  }
  if (parsedWhole) {
    const o = plainObject(whole);
    if (o !== null) objects.push(o);
    else rejected.push({ name: null, value: trimmed.slice(0, 200), reason: "the metrics file holds JSON that is not an object of name: value" });
  } else {
    const lines = text.split(/\r?\n/);
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        rejected.push({ name: null, value: line.slice(0, 200), reason: `line ${i + 1} is not valid JSON` });
        return;
      }
      const o = plainObject(v);
      if (o !== null) objects.push(o);
      else rejected.push({ name: null, value: line.slice(0, 200), reason: `line ${i + 1} is not a JSON object of name: value` });
    });
  }
  // Later wins, keyed by the canonical name when the name is registered (an alias and its
  // metric are the same entry). A Map: names like `__proto__` are names like any other.
  const latest = new Map<string, { name: string; value: unknown }>();
  for (const o of objects) {
    for (const [name, value] of Object.entries(o)) {
      const key = registry.resolve(name) ?? name;
      latest.delete(key);
      latest.set(key, { name, value });
    }
  }
  const accepted = new Map<string, number>();
  for (const { name, value } of latest.values()) {
    try {
      for (const [canonical, n] of Object.entries(validateMetricValues(new Map([[name, value]]), registry))) accepted.set(canonical, n);
    } catch (e) {
      if (!(e instanceof ExpflowError)) throw e;
      rejected.push({ name, value: value === undefined ? null : value, reason: e.message });
    }
  }
  return { accepted: Object.fromEntries(accepted), rejected };
}
