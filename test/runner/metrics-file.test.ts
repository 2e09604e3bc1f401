import { describe, expect, it } from "vitest";
import { MetricRegistry } from "../../src/core/metrics/registry.js";
import { ingestMetricsText } from "../../src/runner/metrics-file.js";

const registry = MetricRegistry.create({ f1_macro: { direction: "higher", aliases: ["f1"] } });

describe("ingestMetricsText", () => {
  it("reads one JSON object", () => {
    expect(ingestMetricsText('{"pde_mean": 14.5, "epochs": "20"}', registry)).toEqual({ accepted: { pde_mean: 14.5, epochs: 20 }, rejected: [] });
  });

  it("reads a pretty-printed object spanning lines as one object", () => {
    expect(ingestMetricsText('{\n  "seg_total": 58.2\n}\n', registry).accepted).toEqual({ seg_total: 58.2 });
  });

  it("reads JSON lines, later values winning, aliases included", () => {
    const text = ['{"pde_mean": 20, "f1": 0.5}', "", '{"pde_mean": 15}', '{"f1_macro": 0.7, "seg1": 3}'].join("\n");
    expect(ingestMetricsText(text, registry)).toEqual({ accepted: { pde_mean: 15, f1_macro: 0.7, seg1: 3 }, rejected: [] });
  });

  it("keeps the good entries when some are invalid, and returns the bad ones with a reason", () => {
    const { accepted, rejected } = ingestMetricsText('{"pde_mean": 14}\n{"pde_maen": 1, "epochs": "ten", "seg2": null}\n', registry);
    expect(accepted).toEqual({ pde_mean: 14 });
    expect(rejected.map((r) => [r.name, r.value])).toEqual([
      ["pde_maen", 1],
      ["epochs", "ten"],
      ["seg2", null],
    ]);
    expect(rejected[0]!.reason).toMatch(/unknown metric 'pde_maen'.*pde_mean/s);
    expect(rejected[1]!.reason).toMatch(/finite number/);
  });

  it("a later valid value replaces an earlier invalid one", () => {
    expect(ingestMetricsText('{"pde_mean": "bad"}\n{"pde_mean": 3}', registry)).toEqual({ accepted: { pde_mean: 3 }, rejected: [] });
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
    expect(ingestMetricsText("[1]", registry)).toEqual({ accepted: {}, rejected: [{ name: null, value: "[1]", reason: expect.stringMatching(/not an object/) }] });
  });

  it("an empty file yields nothing", () => {
    expect(ingestMetricsText(" \n", registry)).toEqual({ accepted: {}, rejected: [] });
  });

  it("treats names like __proto__ as names", () => {
    const { accepted, rejected } = ingestMetricsText('{"__proto__": 1, "seg1": 2}', registry);
    expect(accepted).toEqual({ seg1: 2 });
    expect(rejected.map((r) => r.name)).toEqual(["__proto__"]);
  });
});
