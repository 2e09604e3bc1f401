import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { MetricRegistry } from "../../src/core/metrics/registry.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_METRICS_FILE_LIMITS, ingestMetricsText, readMetricsFile } from "../../src/runner/metrics-file.js";
import { nestedDeeperThan as jsonDeeperThan } from "../../src/util/jsonl.js";

const registry = MetricRegistry.create({ f1_macro: { direction: "higher", aliases: ["f1"] } });
/** The same metrics, refusing unregistered names (`metrics.strict: true`), as the earlier tool did. */
const strict = MetricRegistry.create({ f1_macro: { direction: "higher", aliases: ["f1"] } }, undefined, { strict: true });

/** What the runner keeps of an ingest that the cases below look at: the latest values and the refused entries. */
function kept(r: { accepted: unknown; rejected: unknown }): { accepted: unknown; rejected: unknown } {
  return { accepted: r.accepted, rejected: r.rejected };
}

describe("ingestMetricsText", () => {
  it("reads one JSON object", () => {
    expect(kept(ingestMetricsText('{"pde_mean": 14.5, "epochs": "20"}', registry))).toEqual({ accepted: { pde_mean: 14.5, epochs: 20 }, rejected: [] });
  });

  it("reads a pretty-printed object spanning lines as one object", () => {
    expect(ingestMetricsText('{\n  "seg_total": 58.2\n}\n', registry).accepted).toEqual({ seg_total: 58.2 });
  });

  it("reads JSON lines, later values winning, aliases included", () => {
    const text = ['{"pde_mean": 20, "f1": 0.5}', "", '{"pde_mean": 15}', '{"f1_macro": 0.7, "seg1": 3}'].join("\n");
    expect(kept(ingestMetricsText(text, registry))).toEqual({ accepted: { pde_mean: 15, f1_macro: 0.7, seg1: 3 }, rejected: [] });
  });

  it("keeps the good entries when some are invalid, and returns the bad ones with a reason (strict: unregistered names too)", () => {
    const { accepted, rejected } = ingestMetricsText('{"pde_mean": 14}\n{"pde_maen": 1, "epochs": "ten", "seg2": null}\n', strict);
    expect(accepted).toEqual({ pde_mean: 14 });
    expect(rejected.map((r) => [r.name, r.value])).toEqual([
      ["pde_maen", 1],
      ["epochs", "ten"],
      ["seg2", null],
    ]);
    expect(rejected[0]!.reason).toMatch(/unknown metric 'pde_maen'.*pde_mean/s);
    expect(rejected[1]!.reason).toMatch(/finite number/);
  });

  it("a later valid value is the metric's value; the earlier invalid one stays refused (each entry is judged as it comes)", () => {
    expect(kept(ingestMetricsText('{"pde_mean": "bad"}\n{"pde_mean": 3}', registry))).toEqual({
      accepted: { pde_mean: 3 },
      rejected: [{ name: "pde_mean", value: "bad", reason: expect.stringMatching(/finite number/) }],
    });
  });

  it("reports damaged lines and non-object JSON without losing the rest", () => {
    const { accepted, rejected } = ingestMetricsText('{"seg3": 1}\n{"seg1": 2\n[1,2]\n{"seg2": 0}', registry);
    expect(accepted).toEqual({ seg3: 1, seg2: 0 });
    expect(rejected).toEqual([
      { name: null, value: '{"seg1": 2', reason: "line 2 is not valid JSON" },
      { name: null, value: "[1,2]", reason: "line 3 is not a JSON object of name: value" },
    ]);
  });

  it("a whole file that is JSON but not an object is rejected", () => {
    expect(kept(ingestMetricsText("[1]", registry))).toEqual({ accepted: {}, rejected: [{ name: null, value: "[1]", reason: "line 1 is not a JSON object of name: value" }] });
    expect(kept(ingestMetricsText("[\n1\n]\n", registry))).toEqual({ accepted: {}, rejected: [{ name: null, value: "[\n1\n]", reason: "the JSON document from line 1 is not a JSON object of name: value" }] });
  });

  it("an empty file yields nothing", () => {
    expect(ingestMetricsText(" \n", registry)).toEqual({ accepted: {}, rejected: [], custom: [], history: {} });
  });

  it("treats names like __proto__ as names: refused with its reason, never dropped; constructor is a custom metric like any other", () => {
    for (const reg of [registry, strict]) {
      const { accepted, rejected } = ingestMetricsText('{"__proto__": 1, "seg1": 2}', reg);
      expect(Object.getPrototypeOf(accepted)).toBe(Object.prototype);
      expect(accepted).toEqual({ seg1: 2 });
      expect(rejected.map((r) => r.name)).toEqual(["__proto__"]);
    }
    const custom = ingestMetricsText('{"constructor": 1, "toString": 2}', registry);
    expect(Object.entries(custom.accepted)).toEqual([
      ["constructor", 1],
      ["toString", 2],
    ]);
    expect(custom.custom).toEqual(["constructor", "toString"]);
  });
});

describe("metrics file limits", () => {
  const nested = (n: number): string => `${'{"x":'.repeat(n)}1${"}".repeat(n)}`;

  it("the depth check the metrics file uses (the registry's) counts arrays and objects outside strings only", () => {
    expect(jsonDeeperThan('{"a":[1]}', 2)).toBe(false);
    expect(jsonDeeperThan('{"a":[[1]]}', 2)).toBe(true);
    expect(jsonDeeperThan('{"a":"[[[[\\"[[[["}', 1)).toBe(false);
    expect(jsonDeeperThan(nested(5000), 32)).toBe(true);
  });

  it("a file nested 5,000 deep is one rejected entry, cut short, and nothing throws", () => {
    const { accepted, rejected } = ingestMetricsText(nested(5000), registry);
    expect(accepted).toEqual({});
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toBe("line 1 nests deeper than 32 levels");
    expect(String(rejected[0]!.value).length).toBeLessThanOrEqual(203);
  });

  it("a deep line among JSON lines is rejected, the others kept", () => {
    const { accepted, rejected } = ingestMetricsText(`{"seg1": 1}\n${nested(100)}\n{"seg2": 2}`, registry);
    expect(accepted).toEqual({ seg1: 1, seg2: 2 });
    expect(rejected.map((r) => r.reason)).toEqual(["line 2 nests deeper than 32 levels"]);
  });

  it("a line over the length limit is rejected unparsed; values and names kept are cut", () => {
    const long = `{"seg1": "${"9".repeat(70_000)}"}`;
    const { accepted, rejected } = ingestMetricsText(`{"seg2": 2}\n${long}\n{"${"n".repeat(300)}": {"a": "${"b".repeat(300)}"}}`, registry);
    expect(accepted).toEqual({ seg2: 2 });
    expect(rejected[0]!.reason).toBe("line 2 is longer than 65536 characters");
    expect(String(rejected[0]!.value).length).toBeLessThanOrEqual(203);
    expect(rejected[1]!.name!.length).toBeLessThanOrEqual(203);
    expect(typeof rejected[1]!.value).toBe("string");
    expect(String(rejected[1]!.value).length).toBeLessThanOrEqual(203);
    expect(rejected[1]!.reason.length).toBeLessThanOrEqual(503);
  });

  it("at most maxRejectedKept rejected entries are kept, one more counts the rest", () => {
    const text = Array.from({ length: 1000 }, () => "garbage").join("\n");
    const { rejected } = ingestMetricsText(text, registry);
    expect(rejected).toHaveLength(101);
    expect(rejected.at(-1)).toEqual({ name: null, value: null, reason: "900 more rejected entries not kept (at most 100 are)" });
  });

  it("names past maxMetrics are rejected", () => {
    const limits = { ...DEFAULT_METRICS_FILE_LIMITS, maxMetrics: 2 };
    const { accepted, rejected } = ingestMetricsText('{"seg1": 1, "seg2": 2, "seg3": 3}\n{"seg1": 4}', registry, limits);
    expect(accepted).toEqual({ seg1: 4, seg2: 2 });
    expect(rejected).toEqual([{ name: "seg3", value: 3, reason: "more than 2 distinct metric names in one run" }]);
  });

  it("readMetricsFile skips to the file's last part when more than maxBacklogBytes are unread, and says so; the last values are read", () => {
    const dir = mkdtempSync(join(tmpdir(), "expflow-metrics-"));
    const path = join(dir, "m.jsonl");
    const line = '{"seg1": 1}\n';
    writeFileSync(path, line.repeat(100) + '{"seg2": 2}\n');
    const limits = { ...DEFAULT_METRICS_FILE_LIMITS, maxBacklogBytes: line.length * 10, maxReadBytes: line.length * 3 + 5 };
    const { accepted, rejected, history } = readMetricsFile(path, registry, limits);
    expect(accepted).toEqual({ seg1: 1, seg2: 2 });
    expect(rejected).toEqual([{ name: null, value: null, reason: "the metrics file grew faster than it is read: bytes 0 to 1171 of 1212 (1171 bytes) were skipped, over the limit of 120 unread; reading went on from the next whole line" }]);
    // The skip lands inside a line, which is dropped; the two whole lines after it are read.
    expect(history["seg1"]?.count).toBe(2);
    expect(readMetricsFile(path, registry).history["seg1"]?.count).toBe(100);
  });
});

describe("readMetricsFile: not a regular file", () => {
  it("a FIFO (or a directory) is one rejected entry, never a hang", () => {
    const dir = mkdtempSync(join(tmpdir(), "expflow-metrics-"));
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    expect(kept(readMetricsFile(fifo, registry))).toEqual({ accepted: {}, rejected: [{ name: null, value: null, reason: "the metrics file is not a regular file (a FIFO): not read" }] });
    expect(readMetricsFile(dir, registry).rejected[0]!.reason).toMatch(/not a regular file/);
  });
});
