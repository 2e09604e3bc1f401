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
  it.each([0, 1, 2, 999, 1000, 1001, 2500])("writes exactly JSON.stringify of the contract for %i rows, in chunks", async (n) => {
    const result = compareScores(experiments(n), { sortBy: "pde_mean", useThresholds: true });
    const writes: Buffer[] = [];
    await writeRankingJson(result, (t) => writes.push(t), 4096);
    expect(Buffer.concat(writes).toString("utf8")).toBe(`${JSON.stringify(rankingJson(result))}\n`);
    // No chunk is past the size asked, each but the last is full but for less than a row, and
    // each is whole characters.
    for (const w of writes) expect(w.length).toBeLessThanOrEqual(4096);
    for (const w of writes.slice(0, -1)) expect(w.length).toBeGreaterThan(4096 - 3 * 1000);
    for (const w of writes) expect(Buffer.from(w.toString("utf8"), "utf8").equals(w)).toBe(true);
  });

  it("waits for a sink that asks to before writing more", async () => {
    const result = compareScores(experiments(500), { sortBy: "pde_mean", useThresholds: true });
    const writes: Buffer[] = [];
    let waiting = 0;
    let release: (() => void) | undefined;
    const done = writeRankingJson(
      result,
      (t) => {
        writes.push(t);
        waiting++;
        return new Promise<void>((resolve) => (release = resolve));
      },
      4096,
    );
    let finished = false;
    void done.then(() => (finished = true));
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    // One chunk is out, and each further one only once the sink is ready for it.
    await tick();
    expect(writes).toHaveLength(1);
    while (!finished) {
      const before = writes.length;
      release!();
      await tick();
      expect(writes.length).toBeLessThanOrEqual(before + 1);
    }
    expect(writes.length).toBeGreaterThan(10);
    await done;
    expect(waiting).toBe(writes.length);
    expect(Buffer.concat(writes).toString("utf8")).toBe(`${JSON.stringify(rankingJson(result))}\n`);
  });

  it("writes a Pareto ranking, failing and missing gates and odd names as JSON.stringify does", async () => {
    const exps = experiments(300).map((e, i) => ({ ...e, name: i % 7 === 0 ? "\u2028 \\ \u0000 é" : e.name, metrics: i % 11 === 0 ? { pde_mean: -0, train_time_min: 1e21 } : e.metrics }));
    const result = compareScores(exps, { pareto: [{ metric: "pde_mean", direction: "min" }, { metric: "train_time_min", direction: "max" }], gates: ["pde_mean:lt:10", "seg_total:gt:1"] });
    let out = "";
    await writeRankingJson(result, (t) => (out += t.toString("utf8")));
    expect(out).toBe(`${JSON.stringify(rankingJson(result))}\n`);
  });
});
