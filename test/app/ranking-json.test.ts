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
  it.each([0, 1, 2, 999, 1000, 1001, 2500])("writes exactly JSON.stringify of the contract for %i rows, in batches", (n) => {
    const result = compareScores(experiments(n), { sortBy: "pde_mean", useThresholds: true });
    let out = "";
    let writes = 0;
    writeRankingJson(result, (t) => {
      out += t;
      writes++;
    });
    expect(out).toBe(`${JSON.stringify(rankingJson(result))}\n`);
    expect(writes).toBe(2 + Math.ceil(n / 1000));
  });
});
