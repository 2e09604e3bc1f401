import { describe, expect, it } from "vitest";
import { rankingJson, writeRankingJson } from "../../src/app/ranking-json.js";
import type { Experiment } from "../../src/core/experiment.js";
import { compareScores } from "../../src/core/ranking/compare-scores.js";

function experiments(n: number): Experiment[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `e${i}`,
    name: i % 3 === 0 ? null : `run "${i}"`,
    status: "completed",
    project: "P",
    tags: [],
    created: null,
    metrics: i % 5 === 0 ? {} : { pde_mean: (i * 7) % 23, train_time_min: (i * 13) % 90 },
    params: {},
  }));
}

describe("writeRankingJson", () => {
  it.each([0, 1, 2, 999, 1000, 1001, 2500])("writes exactly JSON.stringify of the contract for %i rows, in chunks", (n) => {
    const result = compareScores(experiments(n), { sortBy: "pde_mean", useThresholds: true });
    const writes: string[] = [];
    writeRankingJson(result, (t) => writes.push(t), 4096);
    expect(writes.join("")).toBe(`${JSON.stringify(rankingJson(result))}\n`);
    // Every chunk but the last reached the size asked, and none grew past it by more than a row.
    for (const w of writes.slice(0, -1)) expect(w.length).toBeGreaterThanOrEqual(4096);
    for (const w of writes) expect(w.length).toBeLessThan(4096 + 1000);
  });

  it("writes a Pareto ranking, failing and missing gates and odd names as JSON.stringify does", () => {
    const exps = experiments(300).map((e, i) => ({ ...e, name: i % 7 === 0 ? "\u2028 \\ \u0000 é" : e.name, metrics: i % 11 === 0 ? { pde_mean: -0, train_time_min: 1e21 } : e.metrics }));
    const result = compareScores(exps, { pareto: [{ metric: "pde_mean", direction: "min" }, { metric: "train_time_min", direction: "max" }], gates: ["pde_mean:lt:10", "seg_total:gt:1"] });
    let out = "";
    writeRankingJson(result, (t) => (out += t));
    expect(out).toBe(`${JSON.stringify(rankingJson(result))}\n`);
  });
});
