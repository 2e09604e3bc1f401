import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RankingSchema } from "../../src/contracts/ranking.js";
import type { RankingJson } from "../../src/contracts/ranking.js";
import { ROOT, record, runCliAsync, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";

// `compare-scores --pareto`: in this process through run(argv, io), the README's example and one
// refusal spawned from the built binary, as a user runs them.

const EXAMPLE = join(ROOT, "examples", "experiments.jsonl");
const BOTH_MIN = "pde_mean:min,train_time_min:min";

function ranking(stdout: string): RankingJson {
  const parsed = RankingSchema.safeParse(JSON.parse(stdout));
  expect(parsed.success, parsed.success ? "" : JSON.stringify(parsed.error.issues)).toBe(true);
  return parsed.data!;
}

const fronts = (out: RankingJson): [string, number | null][] => out.results.map((x) => [x.id, x.rank]);

/** seg_total higher is better, train_time_min lower; `miss` lacks train_time_min, `slow` fails the gate. */
const sweep = (): string =>
  writeRegistry([
    record("fast", { pde_mean: 17, train_time_min: 10, seg_total: 50 }, { timestamp: "2025-01-01T00:00:00Z" }),
    record("good", { pde_mean: 14, train_time_min: 50, seg_total: 70 }, { timestamp: "2025-01-02T00:00:00Z" }),
    record("both", { pde_mean: 15, train_time_min: 20, seg_total: 90 }, { timestamp: "2025-01-03T00:00:00Z" }),
    record("worse", { pde_mean: 16, train_time_min: 30, seg_total: 95 }, { timestamp: "2025-01-04T00:00:00Z" }),
    record("miss", { pde_mean: 13, seg_total: 10 }, { timestamp: "2025-01-05T00:00:00Z" }),
    record("slow", { pde_mean: 19, train_time_min: 90, seg_total: 99 }, { timestamp: "2025-01-06T00:00:00Z" }),
    record("twin", { pde_mean: 16, train_time_min: 30, seg_total: 20 }, { timestamp: "2025-01-07T00:00:00Z" }),
  ]);

describe("expflow compare-scores --pareto", () => {
  it("prints what the README's Pareto example shows, line for line", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### Pareto fronts"));
    const command = /```sh\nexpflow (compare-scores [^\n]*)\n/.exec(section)![1]!.split(" ");
    const shown = /```text\n([\s\S]*?)```/.exec(section)![1]!;
    const r = await runCliAsync(
      command.map((a) => (a === "examples/experiments.jsonl" ? EXAMPLE : a)),
      { env: { COLUMNS: "80" } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(shown);
  });

  it("the table: FRONT, the objectives after the sort metric and before the gated ones, each once; a missing value still gets a front", async () => {
    const r = await runInProcess(["compare-scores", "--registry", sweep(), "--pareto", BOTH_MIN, "--gate", "train_time_min:lt:60", "--gate", "seg_total:gt:0", "--wide"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^FRONT +ID +NAME +STATUS +pde_mean +train_time_min +seg_total +RESULT +FAILED GATES$/);
    const rows = lines.slice(1, -1).map((l) => l.trim().split(/ {2,}/).slice(0, 2));
    expect(rows).toEqual([
      ["1", "good"],
      ["1", "both"],
      ["1", "fast"],
      // worse and twin: the same objectives, the same front; created breaks the tie.
      ["2", "worse"],
      ["2", "twin"],
      // miss has no train_time_min: it fails the gate, so no front; slow takes 90 minutes.
      ["-", "miss"],
      ["-", "slow"],
    ]);
    expect(lines.at(-1)).toBe("5 of 7 experiments pass 2 gates; 3 on the Pareto front of pde_mean (lowest) and train_time_min (lowest), 2 fronts.");
    // Without the gate, the missing training time is worse than any: miss is on front 1 by its pde_mean alone.
    const open = await runInProcess(["compare-scores", "--registry", sweep(), "--pareto", BOTH_MIN]);
    expect(open.stdout).toMatch(/^ +1 +miss +run-miss +completed +13 +- +PASS$/m);
    expect(open.stdout.trimEnd().split("\n").at(-1)).toBe("7 experiments, no gates; 4 on the Pareto front of pde_mean (lowest) and train_time_min (lowest), 3 fronts.");
  });

  it("--sort-by orders each front (and --descending it); --then-by and the gates' metrics are columns too", async () => {
    const path = sweep();
    const r = await runInProcess(["compare-scores", "--registry", path, "--pareto", BOTH_MIN, "--sort-by", "seg_total", "--then-by", "seg1", "--gate", "pde_mean:lt:19", "--wide"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^FRONT +ID +NAME +STATUS +seg_total +pde_mean +train_time_min +seg1 +RESULT +FAILED GATES$/m);
    expect(r.stdout.trimEnd().split("\n").at(-1)).toBe(
      "6 of 7 experiments pass 1 gate; 4 on the Pareto front of pde_mean (lowest) and train_time_min (lowest), 2 fronts; each front by seg_total, highest first.",
    );
    const json = ranking((await runInProcess(["compare-scores", "--registry", path, "--pareto", BOTH_MIN, "--sort-by", "seg_total", "--json"])).stdout);
    expect(fronts(json)).toEqual([
      ["both", 1],
      ["good", 1],
      ["fast", 1],
      ["miss", 1],
      ["worse", 2],
      ["twin", 2],
      ["slow", 3],
    ]);
    expect(json).toMatchObject({ sort_by: "seg_total", ascending: false });
    const low = ranking((await runInProcess(["compare-scores", "--registry", path, "--pareto", BOTH_MIN, "--sort-by", "seg_total", "--ascending", "--json"])).stdout);
    expect(fronts(low).slice(0, 4).map(([id]) => id)).toEqual(["miss", "fast", "good", "both"]);
  });

  it("--json: the objectives at the top level, ranks are fronts, sort_by the first objective, values its", async () => {
    const r = await runInProcess(["compare-scores", "--registry", sweep(), "--pareto", "seg_total:max,train_time_min:min", "--gate", "pde_mean:lt:19", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = ranking(r.stdout);
    expect(Object.keys(out)).toEqual(["sort_by", "ascending", "gates", "selection", "pareto", "results"]);
    expect(out.pareto).toEqual([
      { metric: "seg_total", direction: "max" },
      { metric: "train_time_min", direction: "min" },
    ]);
    expect(out).toMatchObject({ sort_by: "seg_total", ascending: false });
    expect(fronts(out)).toEqual([
      ["worse", 1],
      ["both", 1],
      ["fast", 1],
      ["good", 2],
      ["twin", 2],
      ["miss", 3],
      ["slow", null],
    ]);
    expect(out.results.map((x) => x.value)).toEqual([95, 90, 50, 70, 20, 10, 99]);
    // Not a Pareto ranking: pareto is null.
    expect(ranking((await runInProcess(["compare-scores", "--registry", sweep(), "--sort-by", "pde_mean", "--json"])).stdout).pareto).toBeNull();
  });

  it("--max, --only-passing and a gate nobody meets (exit 1)", async () => {
    const path = sweep();
    const cut = ranking((await runInProcess(["compare-scores", "--registry", path, "--pareto", BOTH_MIN, "--max", "4", "--json"])).stdout);
    expect(cut.results.map((x) => x.rank)).toEqual([1, 1, 1, 1]);
    const passing = await runInProcess(["compare-scores", "--registry", path, "--pareto", BOTH_MIN, "--use-thresholds", "--only-passing", "--max", "5"]);
    expect(passing.code).toBe(0);
    expect(passing.stdout).not.toMatch(/ (miss|slow) /);
    expect(passing.stdout.trimEnd().split("\n").at(-1)).toBe("5 of 7 experiments pass 2 gates (showing 5); 3 on the Pareto front of pde_mean (lowest) and train_time_min (lowest), 2 fronts.");
    const none = await runInProcess(["compare-scores", "--registry", path, "--pareto", BOTH_MIN, "--gate", "pde_mean:lt:0"]);
    expect(none.code).toBe(1);
    expect(none.stdout.trimEnd().split("\n").at(-1)).toBe("0 of 7 experiments pass 1 gate; no Pareto front of pde_mean (lowest) and train_time_min (lowest).");
    const noneJson = ranking((await runInProcess(["compare-scores", "--registry", path, "--pareto", BOTH_MIN, "--gate", "pde_mean:lt:0", "--only-passing", "--json"])).stdout);
    expect(noneJson.results).toEqual([]);
  });

  it("CSV keeps the key rank and the same columns; Markdown heads it FRONT", async () => {
    const csv = await runInProcess(["compare-scores", "--registry", sweep(), "--pareto", BOTH_MIN, "--gate", "train_time_min:lt:60", "--csv"]);
    const lines = csv.stdout.split("\r\n");
    expect(lines[0]).toBe("rank,id,name,status,pde_mean,train_time_min,passed,failed_gates");
    expect(lines[1]).toBe("1,good,run-good,completed,14,50,true,");
    expect(lines.at(-3)).toBe(",miss,run-miss,completed,13,,false,train_time_min missing");
    const md = await runInProcess(["compare-scores", "--registry", sweep(), "--pareto", BOTH_MIN, "--markdown"]);
    expect(md.stdout).toContain("| FRONT | ID | NAME | STATUS | pde\\_mean | train\\_time\\_min | RESULT |");
  });

  it("does not depend on the order of the registry's lines", async () => {
    const lines = readFileSync(EXAMPLE, "utf8").trim().split("\n");
    const reversed = join(tempDir(), "reversed.jsonl");
    // Superseded records keep their relative order (the later line wins): reverse by experiment.
    const byId = new Map<string, string[]>();
    for (const l of lines) {
      const id = (JSON.parse(l) as { experiment_id: string }).experiment_id;
      byId.set(id, [...(byId.get(id) ?? []), l]);
    }
    writeFileSync(reversed, `${[...byId.values()].reverse().flat().join("\n")}\n`);
    const args = ["--pareto", "pde_mean:min,train_time_min:min,seg_total:max", "--use-thresholds", "--json"];
    const a = ranking((await runInProcess(["compare-scores", "--registry", EXAMPLE, ...args])).stdout);
    const b = ranking((await runInProcess(["compare-scores", "--registry", reversed, ...args])).stdout);
    expect(fronts(b)).toEqual(fronts(a));
    expect(a.results.filter((x) => x.rank === 1).length).toBeGreaterThan(1);
  });

  it("an objective may be a custom metric: its direction is given, so none is asked for", async () => {
    const path = writeRegistry([record("a", { my_f1: 0.5, pde_mean: 10 }), record("b", { my_f1: 0.9, pde_mean: 12 }), record("c", { my_f1: 0.4, pde_mean: 12 })]);
    const out = ranking((await runInProcess(["compare-scores", "--registry", path, "--pareto", "my_f1:max,pde_mean:min", "--json"])).stdout);
    expect(fronts(out)).toEqual([
      ["b", 1],
      ["a", 1],
      ["c", 2],
    ]);
  });
});

describe("expflow compare-scores --pareto: refusals, exit 2, one line each", () => {
  const reg = (): string => writeRegistry([record("a", { pde_mean: 1, train_time_min: 2 })]);

  it.each([
    [":", "invalid objective ':' in --pareto: the metric name is empty"],
    ["pde_mean:max,,", "invalid objectives 'pde_mean:max,,' in --pareto: an objective is empty"],
    ["pde_mean:up,train_time_min:min", "invalid objective 'pde_mean:up' in --pareto: the direction 'up' is neither max nor min"],
    ["pde_mean:min", "invalid objectives 'pde_mean:min' in --pareto: a Pareto ranking needs at least two objectives"],
    ["pde_mean:min,pde_mean:max", "invalid objective 'pde_mean:max' in --pareto: metric 'pde_mean' is already an objective"],
    ["pde_mean,train_time_min:min", "invalid objective 'pde_mean' in --pareto: expected metric:max or metric:min"],
  ])("--pareto %j", async (spec, message) => {
    const r = await runInProcess(["compare-scores", "--registry", reg(), "--pareto", spec]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`error: ${message}`);
    expect(lines[1]).toBe("hint: write two or more objectives as metric:max or metric:min, separated by commas, e.g. pde_mean:min,train_time_min:min");
    const json = await runInProcess(["compare-scores", "--registry", reg(), "--pareto", spec, "--json"]);
    expect(json.code).toBe(2);
    expect(json.stdout).toBe("");
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: "E_PARETO_SYNTAX" } });
  });

  it("the built binary refuses with one line and a hint, no stack", async () => {
    const r = await runCliAsync(["compare-scores", "--registry", reg(), "--pareto", "pde_mean:up,train_time_min:min"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(2);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it("a metric named twice through an alias, and an unknown one with did-you-mean", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "expflow.yaml"), "metrics:\n  pde_mean:\n    aliases: [pde]\n");
    const twice = await runInProcess(["compare-scores", "--registry", reg(), "--pareto", "pde_mean:min,pde:max"], { cwd: dir });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("error: invalid objective 'pde:max' in --pareto: it names pde_mean, as 'pde_mean:min' does already");
    const unknown = await runInProcess(["compare-scores", "--registry", reg(), "--pareto", "pde_maen:min,train_time_min:min", "--json"]);
    expect(unknown.code).toBe(2);
    const e = (JSON.parse(unknown.stderr) as { error: { code: string; message: string } }).error;
    expect(e.code).toBe("E_UNKNOWN_METRIC");
    expect(e.message).toBe("unknown metric 'pde_maen' in --pareto: it is neither registered nor reported by any selected experiment. Did you mean 'pde_mean'?");
  });

  it("neither --sort-by nor --pareto; --ascending or --descending without --sort-by", async () => {
    const neither = await runInProcess(["compare-scores", "--registry", reg()]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toBe(
      "error: compare-scores needs --sort-by or --pareto\nhint: rank by one metric (--sort-by pde_mean) or by Pareto fronts of several (--pareto pde_mean:min,train_time_min:min)\n",
    );
    for (const flag of ["--ascending", "--descending"]) {
      const r = await runInProcess(["compare-scores", "--registry", reg(), "--pareto", BOTH_MIN, flag]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`error: ${flag} orders --sort-by, which is not given`);
    }
    const json = await runInProcess(["compare-scores", "--registry", reg(), "--json"]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: "E_USAGE", message: "compare-scores needs --sort-by or --pareto" } });
  });
});
