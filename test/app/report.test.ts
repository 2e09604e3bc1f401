import { describe, expect, it } from "vitest";
import type { ReportRequest, ReportStore } from "../../src/app/report.js";
import { buildReport } from "../../src/app/report.js";
import { ReportDataSchema } from "../../src/contracts/report.js";
import type { Experiment } from "../../src/core/experiment.js";
import { MetricRegistry } from "../../src/core/metrics/registry.js";

function experiment(id: string, metrics: Record<string, unknown>, status = "completed"): Experiment {
  return { id, name: `run-${id}`, status, project: "P", tags: [], created: `2026-10-01T00:00:0${id.length}Z`, metrics, params: {} };
}

const EXPERIMENTS = [
  experiment("a", { pde_mean: 15, train_time_min: 50, seg_total: 50, val_mse: 0.1 }),
  experiment("b", { pde_mean: 17, train_time_min: 70, seg_total: 55 }),
  experiment("c", { pde_mean: 19, seg_total: 45, custom_loss: 3 }),
  experiment("d", { pde_mean: 12, train_time_min: 5 }, "running"),
];

function store(withHistories = false): ReportStore {
  return {
    location: "/tmp/r.jsonl",
    list: async () => EXPERIMENTS,
    ...(withHistories ? { histories: async (ids: readonly string[]) => new Map(ids.filter((id) => id === "b").map((id) => [id, { pde_mean: { last: 1, min: 1, max: 2, count: 2, steps: [[0, 2], [1, 1]] as const } }] as const)) } : {}),
  };
}

const CONTEXT = { kind: "local" as const, now: new Date("2026-12-01T10:00:00Z"), version: "1.2.3", command: "expflow report" };

function request(extra: Partial<ReportRequest> = {}): ReportRequest {
  return { filter: {}, statuses: [], sortBy: "pde_mean", gates: [], ...extra };
}

async function report(extra: Partial<ReportRequest> = {}, withHistories = false) {
  const r = await buildReport(store(withHistories), request(extra), MetricRegistry.standard(), CONTEXT);
  return ReportDataSchema.parse(r.data);
}

describe("buildReport", () => {
  it("plots the sort metric against the first gated metric, over the metrics the ranking names", async () => {
    const data = await report({ gates: ["train_time_min:lt:60", "seg_total:gt:40"] });
    expect(data.scatter).toEqual({ x: "pde_mean", y: "train_time_min" });
    expect(data.axes).toEqual(["pde_mean", "train_time_min", "seg_total"]);
    expect(data.metrics.find((m) => m.name === "pde_mean")).toEqual({ name: "pde_mean", direction: "lower", threshold: 18.09, unit: null, description: expect.any(String) });
    expect(data.summary.gates).toEqual([
      { metric: "train_time_min", op: "lt", value: 60, failed: 2, missing: 1 },
      { metric: "seg_total", op: "gt", value: 40, failed: 0, missing: 0 },
    ]);
    expect(data.summary).toMatchObject({ listed: 4, ranked: 3, passed: 1, failed: 2, shown: 3, unfinished: 0 });
    expect(data.summary.notes).toEqual(["1 experiment not ranked for its status (1 running); ranked: completed."]);
    expect(data.generated_at).toBe("2026-12-01T10:00:00.000Z");
    expect(data.title).toBe("expflow report: r.jsonl");
  });

  it("with no gate, fills the axes with registered metrics the rows report, and plots the next one", async () => {
    const data = await report();
    expect(data.scatter.x).toBe("pde_mean");
    expect(data.axes[0]).toBe("pde_mean");
    expect(data.axes.length).toBeGreaterThanOrEqual(3);
    expect(data.axes.length).toBeLessThanOrEqual(5);
    // Only registered metrics are added (custom_loss has no direction), each reported by a row.
    expect(data.axes).not.toContain("custom_loss");
    expect(data.axes).toContain(data.scatter.y);
    expect(data.scatter.y).not.toBe("pde_mean");
  });

  it("says what it left out: failing rows, a maximum, unfinished rows ranked", async () => {
    const passing = await report({ gates: ["pde_mean:lt:18"], onlyPassing: true });
    expect(passing.summary.notes).toContain("1 experiment failing a gate left out (only the passing ones asked for).");
    const cut = await report({ max: 1 });
    expect(cut.summary.notes).toContain("Showing the first 1 of 3 (a maximum was asked for).");
    const all = await report({ statuses: ["completed", "running"] });
    expect(all.summary.unfinished).toBe(1);
    expect(all.summary.notes).toEqual([]);
  });

  it("holds at most maxRows rows, the first ones, and says how many it left out", async () => {
    const r = await buildReport(store(), request({ statuses: ["completed", "running"], maxRows: 2 }), MetricRegistry.standard(), CONTEXT);
    const data = ReportDataSchema.parse(r.data);
    expect(r.cut).toBe(2);
    expect(data.ranking.results.map((x) => x.id)).toEqual(["d", "a"]);
    expect(data.summary).toMatchObject({ ranked: 4, shown: 2 });
    expect(data.summary.notes).toEqual(["Showing the first 2 of 4: a page holds at most 2 rows (a maximum or only the passing ones choose fewer)."]);
    await expect(report({ maxRows: 0 })).rejects.toMatchObject({ code: "E_USAGE", field: "maxRows" });
  });

  it("reads the history of the top rows from a store that keeps one, and says why there is none otherwise", async () => {
    const kept = await report({}, true);
    expect(kept.history).toEqual({ runs: 3, series: { b: { pde_mean: [[0, 2], [1, 1]] } }, note: null });
    const none = await report({}, false);
    expect(none.history).toEqual({ runs: 3, series: {}, note: "Step history is not read from this store by the report." });
  });

  it("refuses an unknown plot metric and a bad history count before reading, naming the field", async () => {
    await expect(report({ y: "nope" })).rejects.toMatchObject({ code: "E_UNKNOWN_METRIC", field: "y" });
    await expect(report({ axes: ["pde_mean", "nope"] })).rejects.toMatchObject({ code: "E_UNKNOWN_METRIC", field: "axes" });
    await expect(report({ historyRuns: -1 })).rejects.toMatchObject({ code: "E_USAGE", field: "historyRuns" });
    await expect(report({ historyRuns: 1.5 })).rejects.toMatchObject({ code: "E_USAGE", field: "historyRuns" });
    await expect(report({ axes: ["pde_mean"] })).rejects.toMatchObject({ code: "E_USAGE", field: "axes" });
  });
});
