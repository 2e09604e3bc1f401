import { describe, expect, it } from "vitest";
import { parseAssignments } from "../../../src/cli/commands/metrics-report.js";
import { UsageError } from "../../../src/core/errors.js";
import { validateMetricValues } from "../../../src/core/metrics/registry.js";

describe("parseAssignments", () => {
  it("keeps __proto__ and constructor as names, so the registry refuses them instead of dropping them", () => {
    const m = parseAssignments(["__proto__=5", "constructor=6", "pde_mean=1"]);
    expect([...m]).toEqual([
      ["__proto__", "5"],
      ["constructor", "6"],
      ["pde_mean", "1"],
    ]);
    expect(() => validateMetricValues(m)).toThrow(/unknown metric '__proto__'[\s\S]*unknown metric 'constructor'/);
  });

  it("refuses a name given twice, and a pair without a name", () => {
    expect(() => parseAssignments(["pde_mean=1", "pde_mean=2"])).toThrow(/^metric 'pde_mean' is given twice$/);
    expect(() => parseAssignments([" =1"])).toThrow(UsageError);
    expect(() => parseAssignments(["=1"])).toThrow(UsageError);
    expect(() => parseAssignments(["pde_mean"])).toThrow(UsageError);
  });
});
