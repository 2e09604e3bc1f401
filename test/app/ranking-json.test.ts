import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rankingJson, writeRankingJson } from "../../src/app/ranking-json.js";
import type { Experiment } from "../../src/core/experiment.js";
import { MetricRegistry } from "../../src/core/metrics/registry.js";
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

  it("writes any metrics as JSON.stringify does: names that are indexes, __proto__, aliases, values not numbers (property)", async () => {
    const aliased = MetricRegistry.create({ pde_mean: { aliases: ["pde"] }, train_time_min: { aliases: ["train_time"] } });
    // Metrics as a registry line's JSON.parse makes them (so __proto__ is an own name).
    const name = fc.constantFrom("pde_mean", "pde", "train_time_min", "train_time", "seg_total", "2", "10", "__proto__", "toJSON", "é", '"q"');
    const value = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(-0, 1e21, 5e-324, 0.1), fc.constantFrom("3", null, true, [1], { a: 1 }));
    const metrics = fc.array(fc.tuple(name, value), { maxLength: 6 }).map((pairs) => JSON.parse(`{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? "null"}`).join(",")}}`) as Record<string, unknown>);
    // And, as a library caller may give, numbers JSON has no text for (a ranking reads an alias then).
    const odd = fc.tuple(metrics, fc.option(fc.tuple(name, fc.constantFrom(Number.NaN, Infinity, -Infinity)), { nil: undefined })).map(([m, extra]) => {
      if (extra !== undefined) Object.defineProperty(m, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true });
      return m;
    });
    await fc.assert(
      fc.asyncProperty(fc.array(odd, { maxLength: 30 }), fc.constantFrom("pde_mean", "seg_total"), async (all, sortBy) => {
        const exps = all.map((m, i) => ({ ...experiments(1)[0]!, id: `e${i}`, metrics: m }));
        let result;
        try {
          result = compareScores(exps, { sortBy, gates: ["pde_mean:lt:10", "train_time_min:ge:2"], statuses: "all", registry: aliased });
        } catch (e) {
          // A run reporting a metric under two of its names is refused, not ranked.
          expect((e as { code?: string }).code).toBe("E_METRIC_AMBIGUOUS");
          return;
        }
        let out = "";
        await writeRankingJson(result, (t) => (out += t.toString("utf8")));
        expect(out).toBe(`${JSON.stringify(rankingJson(result))}\n`);
      }),
      { numRuns: 300 },
    );
  });

  it("writes a Pareto ranking, failing and missing gates and odd names as JSON.stringify does", async () => {
    const exps = experiments(300).map((e, i) => ({ ...e, name: i % 7 === 0 ? "\u2028 \\ \u0000 é" : e.name, metrics: i % 11 === 0 ? { pde_mean: -0, train_time_min: 1e21 } : e.metrics }));
    const result = compareScores(exps, { pareto: [{ metric: "pde_mean", direction: "min" }, { metric: "train_time_min", direction: "max" }], gates: ["pde_mean:lt:10", "seg_total:gt:1"] });
    let out = "";
    await writeRankingJson(result, (t) => (out += t.toString("utf8")));
    expect(out).toBe(`${JSON.stringify(rankingJson(result))}\n`);
  });
});
