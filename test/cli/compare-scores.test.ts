import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, record, runCliAsync, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";

const EXAMPLE = join(ROOT, "examples", "experiments.jsonl");

interface JsonOut {
  sort_by: string;
  ascending: boolean;
  gates: { metric: string; op: string; value: number }[];
  selection: { statuses: string[] | null; default: boolean; ranked: number; excluded: number; excluded_by_status: Record<string, number> };
  pareto: { metric: string; direction: "max" | "min" }[] | null;
  results: {
    rank: number | null;
    id: string;
    name: string | null;
    status: string;
    passed: boolean;
    value: number | null;
    metrics: Record<string, unknown>;
    gates: { metric: string; op: string; threshold: number; actual: number | null; passed: boolean; reason: string | null }[];
  }[];
}

function json(stdout: string): JsonOut {
  return JSON.parse(stdout) as JsonOut;
}

// In this process through run(argv, io) (see test/helpers/cli.ts); the README's quick start is
// spawned from the built binary.

describe("expflow compare-scores on the example registry", () => {
  it("ranks the README quick start: completed runs only, passing first, saying what it left out; exit 0", async () => {
    const r = await runInProcess(["compare-scores", "--registry", EXAMPLE, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--gate", "train_time_min:lt:60"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^RANK +ID +NAME +STATUS +pde_mean +train_time_min +RESULT +FAILED GATES$/m);
    expect(r.stdout).toMatch(/^19 of 60 experiments pass 2 gates; ranked by pde_mean, lowest first\.$/m);
    expect(r.stdout).toMatch(/^8 unfinished experiments not ranked \(4 running, 4 failed\); pass --status completed,running,failed to include them\.\n$/m);
    const rows = r.stdout.split("\n").filter((l) => /^ +(\d+|-) +exp-/.test(l));
    expect(rows).toHaveLength(60);
    for (const row of rows) expect(row.trim().split(/ {2,}/)[3]).toBe("completed");
    // No colour when standard output is not a terminal.
    expect(r.stdout).not.toContain("\u001b[");
  });

  it("prints what the README's quick start shows, line for line", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Quick start"));
    const command = /npx expflow (compare-scores [^\n]*)\n/.exec(section)![1]!.split(" ");
    const shown = /```text\n([\s\S]*?)```/.exec(section)![1]!.trimEnd().split("\n");
    // Spawned: the built binary, as the README's reader runs it, on a terminal 80 columns wide
    // (COLUMNS stands for it here; terminal-width.test.ts runs it on a real one).
    const r = await runCliAsync(
      command.map((a) => (a === "examples/experiments.jsonl" ? EXAMPLE : a)),
      { env: { COLUMNS: "80" } },
    );
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    const cut = shown.indexOf("...");
    expect(shown.slice(0, cut)).toEqual(lines.slice(0, cut));
    expect(shown.slice(cut + 1)).toEqual(lines.slice(lines.length - (shown.length - cut - 1)));
  });

  it("prints exactly one JSON object with the documented contract", async () => {
    const r = await runInProcess(["compare-scores", "--registry", EXAMPLE, "--sort-by", "pde_mean", "--use-thresholds", "--json"]);
    expect(r.code).toBe(0);
    const out = json(r.stdout);
    expect(Object.keys(out)).toEqual(["sort_by", "ascending", "gates", "selection", "pareto", "results"]);
    expect(out.selection).toEqual({ statuses: ["completed"], default: true, ranked: 60, excluded: 8, excluded_by_status: { running: 4, failed: 4 } });
    expect(out.sort_by).toBe("pde_mean");
    expect(out.ascending).toBe(true);
    expect(out.gates).toEqual([
      { metric: "pde_mean", op: "lt", value: 18.09 },
      { metric: "train_time_min", op: "lt", value: 60 },
    ]);
    expect(out.results).toHaveLength(60);
    expect(out.results.every((x) => x.status === "completed")).toBe(true);
    const first = out.results[0]!;
    expect(Object.keys(first)).toEqual(["rank", "id", "name", "status", "passed", "value", "metrics", "gates"]);
    expect(Object.keys(first.gates[0]!)).toEqual(["metric", "op", "threshold", "actual", "passed", "reason"]);
    // Passing first with ranks 1..k, then failing with rank null and a reason for each failed gate.
    const k = out.results.filter((x) => x.passed).length;
    expect(k).toBeGreaterThan(0);
    expect(out.results.slice(0, k).map((x) => x.rank)).toEqual(Array.from({ length: k }, (_, i) => i + 1));
    for (const x of out.results.slice(k)) {
      expect(x.passed).toBe(false);
      expect(x.rank).toBeNull();
      expect(x.gates.filter((g) => !g.passed).every((g) => g.reason === "missing" || g.reason === "not_met")).toBe(true);
    }
    // The legacy record (no metrics) fails with reason missing.
    const legacy = out.results.find((x) => x.id === "exp-legacy01")!;
    expect(legacy.value).toBeNull();
    expect(legacy.gates.map((g) => g.reason)).toEqual(["missing", "missing"]);
  });

  it("uses the later line of a superseded record", async () => {
    const lines = readFileSync(EXAMPLE, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { experiment_id: string; status: string });
    const counts = new Map<string, number>();
    for (const l of lines) counts.set(l.experiment_id, (counts.get(l.experiment_id) ?? 0) + 1);
    const superseded = [...counts].find(([, n]) => n > 1)![0];
    const latest = lines.filter((l) => l.experiment_id === superseded).at(-1)!;
    const out = json((await runInProcess(["compare-scores", "--registry", EXAMPLE, "--sort-by", "pde_mean", "--json"])).stdout);
    const hits = out.results.filter((x) => x.id === superseded);
    expect(hits).toHaveLength(1);
    expect(hits[0]!.status).toBe(latest.status);
    expect(hits[0]!.value).not.toBeNull();
  });

  it("keeps experiments carrying all of --tags, and honours --max after ordering", async () => {
    const all = json((await runInProcess(["compare-scores", "--registry", EXAMPLE, "--sort-by", "seg_total", "--tags", "task2", "--json"])).stdout);
    expect(all.results.length).toBeGreaterThan(10);
    const both = json((await runInProcess(["compare-scores", "--registry", EXAMPLE, "--sort-by", "seg_total", "--tags", "task2,baseline", "--json"])).stdout);
    expect(both.results.length).toBeGreaterThan(0);
    expect(both.results.length).toBeLessThan(all.results.length);
    const top = json((await runInProcess(["compare-scores", "--registry", EXAMPLE, "--sort-by", "seg_total", "--tags", "task2", "--max", "3", "--json"])).stdout);
    expect(top.results.map((x) => x.id)).toEqual(all.results.slice(0, 3).map((x) => x.id));
  });
});

describe("expflow compare-scores: verdicts and exit codes", () => {
  const reg = (): string =>
    writeRegistry([
      record("a", { pde_mean: 20, train_time_min: 30 }),
      record("b", { pde_mean: 0, train_time_min: 61 }, { status: "failed" }),
      record("c", { pde_mean: -1.5, train_time_min: 10 }, { tags: ["task2"] }),
      record("d", { train_time_min: 10 }, { project: "Q" }),
    ]);

  it("exits 1 when no experiment passes the gates (like grep)", async () => {
    const r = await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--gate", "pde_mean:lt:-10"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/0 of 3 experiments pass 1 gate/);
  });

  it("treats 0 and negative values as values", async () => {
    // b (pde_mean 0) failed: ranked here because --status asks for failed runs too.
    const out = json((await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--gate", "pde_mean:le:0", "--status", "completed,failed", "--json"])).stdout);
    expect(out.results.map((x) => [x.id, x.rank])).toEqual([
      ["c", 1],
      ["b", 2],
      ["a", null],
      ["d", null],
    ]);
    expect(out.results.find((x) => x.id === "d")!.gates[0]!.reason).toBe("missing");
  });

  it("filters by --project and --status, and --only-passing drops failures", async () => {
    const path = reg();
    const p = json((await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--project", "Q", "--json"])).stdout);
    expect(p.results.map((x) => x.id)).toEqual(["d"]);
    const s = json((await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--status", "failed,running", "--json"])).stdout);
    expect(s.results.map((x) => x.id)).toEqual(["b"]);
    const o = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--use-thresholds", "--only-passing", "--json"]);
    expect(json(o.stdout).results.map((x) => x.id)).toEqual(["c"]);
    expect(o.code).toBe(0);
  });

  it("rejects an unknown status with a suggestion", async () => {
    const r = await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--status", "complted"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown status 'complted'");
    expect(r.stderr).toContain("Did you mean 'completed'?");
  });

  it.each([
    ["pde_mean:lt", "expected three parts"],
    ["pde_mean:less:18", "unknown operator 'less'"],
    ["pde_mean:lt:abc", "'abc' is not a finite decimal number"],
    ["pde_mean:lt:Infinity", "'Infinity' is not a finite decimal number"],
    [":lt:5", "the metric name is empty"],
  ])("rejects the malformed gate %s with exit 2, quoting it", async (gate, why) => {
    const r = await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--gate", "train_time_min:lt:60", "--gate", gate]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`invalid gate '${gate}'`);
    expect(r.stderr).toContain(why);
    expect(r.stdout).toBe("");
  });

  it("rejects a gate or sort metric nobody knows, with did-you-mean", async () => {
    const g = await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--gate", "pde_maen:lt:5"]);
    expect(g.code).toBe(2);
    expect(g.stderr).toContain("unknown metric 'pde_maen'");
    expect(g.stderr).toContain("Did you mean 'pde_mean'?");
    const s = await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "seg_totl"]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("Did you mean 'seg_total'?");
  });

  it("ranks an unregistered metric an experiment reports once its direction is given; without one it is exit 2, never guessed", async () => {
    const path = writeRegistry([record("a", { my_f1: 0.5 }), record("b", { my_f1: 0.9 })]);
    const out = json((await runInProcess(["compare-scores", "--registry", path, "--sort-by", "my_f1", "--descending", "--json"])).stdout);
    expect(out.ascending).toBe(false);
    expect(out.results.map((x) => x.id)).toEqual(["b", "a"]);
    const undirected = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "my_f1"]);
    expect(undirected.code).toBe(2);
    expect(undirected.stderr).toContain("error: metric 'my_f1' in --sort-by has no direction: it is a custom metric");
    expect(undirected.stderr).toContain("hint: pass --ascending (lowest first) or --descending, or declare it: `expflow metrics add my_f1 --direction lower|higher`");
  });

  it("reports usage errors as JSON on stderr under --json", async () => {
    const r = await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--gate", "x:lt:y", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const err = JSON.parse(r.stderr) as { error: { code: string; message: string } };
    expect(err.error.code).toBe("E_GATE_SYNTAX");
    expect(err.error.message).toContain("invalid gate 'x:lt:y'");
  });

  it("rejects bad --max and conflicting flags with exit 2", async () => {
    expect((await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--max", "0"])).code).toBe(2);
    expect((await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--max", "2.5"])).code).toBe(2);
    const c = await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean", "--ascending", "--descending"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("cannot be used with");
    expect((await runInProcess(["compare-scores", "--registry", reg()])).code).toBe(2);
  });

  it("names the path of a missing registry, exit 2", async () => {
    const missing = join(tempDir(), "nope.jsonl");
    const r = await runInProcess(["compare-scores", "--registry", missing, "--sort-by", "pde_mean"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`registry file not found: ${missing}`);
  });

  it("exits 1 on an empty registry, saying there are no experiments yet", async () => {
    const r = await runInProcess(["compare-scores", "--registry", writeRegistry([]), "--sort-by", "pde_mean", "--json"]);
    expect(r.code).toBe(1);
    expect(json(r.stdout).results).toEqual([]);
    expect(json(r.stdout).selection).toEqual({ statuses: ["completed"], default: true, ranked: 0, excluded: 0, excluded_by_status: {} });
    expect(r.stderr).toContain("no experiments yet");
    const t = await runInProcess(["compare-scores", "--registry", writeRegistry([]), "--sort-by", "pde_mean"]);
    expect(t.code).toBe(1);
    expect(t.stdout).toBe("0 experiments, no gates; ranked by pde_mean, lowest first.\n");
  });

  it("skips corrupt lines with one warning each, naming the line, and never modifies the file", async () => {
    const path = writeRegistry([record("a", { pde_mean: 10 }), '{"experiment_id": "b", "metr', "\u0000\u0001garbage", "[1,2]", record("c", { pde_mean: 5 })]);
    const before = createHash("sha256").update(readFileSync(path)).digest("hex");
    const r = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--json"]);
    expect(r.code).toBe(0);
    expect(json(r.stdout).results.map((x) => x.id)).toEqual(["c", "a"]);
    const warnings = r.stderr.trim().split("\n");
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toContain("line 2 skipped");
    expect(warnings[1]).toContain("line 3 skipped");
    expect(warnings[2]).toContain("line 4 skipped: not a JSON object");
    expect(createHash("sha256").update(readFileSync(path)).digest("hex")).toBe(before);
  });

  it("reads records the Python tool wrote with bare NaN as missing values", async () => {
    const path = writeRegistry(['{"experiment_id": "py1", "status": "completed", "metrics": {"pde_mean": NaN, "seg_total": 50.5}}', record("a", { pde_mean: 12 })]);
    const r = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--json"]);
    expect(r.stderr).toBe("");
    const out = json(r.stdout);
    expect(out.results.map((x) => [x.id, x.passed, x.gates[0]!.reason])).toEqual([
      ["a", true, null],
      ["py1", false, "missing"],
    ]);
  });

  it("renders CSV and Markdown from the same columns", async () => {
    const path = writeRegistry([record("a", { pde_mean: 10.5 }, { name: 'has, "comma"' }), record("b", { pde_mean: 30 }, { name: "pipe | name" })]);
    const csv = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:20", "--csv"]);
    expect(csv.stdout.split("\r\n")).toEqual([
      "rank,id,name,status,pde_mean,passed,failed_gates",
      '1,a,"has, ""comma""",completed,10.5,true,',
      ",b,pipe | name,completed,30,false,pde_mean 30 not < 20",
      "",
    ]);
    const md = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--markdown"]);
    expect(md.stdout).toContain("| RANK | ID | NAME | STATUS | pde\\_mean | RESULT |");
    expect(md.stdout).toContain("pipe \\| name");
  });

  it("never passes control characters from a record to the terminal (a name or status holding an escape sequence)", async () => {
    const path = writeRegistry([record("a", { pde_mean: 1 }, { name: "red\u001b[31mflag\u0007", status: "completed" }), record("b", { pde_mean: 2 }, { status: "odd\u009b2J" })]);
    for (const format of [[], ["--markdown"]]) {
      const r = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--status", "completed,odd\u009b2J", ...format]);
      expect(r.code).toBe(0);
      // eslint-disable-next-line no-control-regex -- looking for control characters is the point
      expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(r.stdout).toContain(format.length === 0 ? "red\\u001b[31mflag\\u0007" : "red\\\\u001b\\[31mflag\\\\u0007");
    }
  });

  it("reads $EXPFLOW_HOME/experiments.jsonl by default, and EXPFLOW_REGISTRY over it", async () => {
    const home = tempDir();
    writeRegistry([record("home1", { pde_mean: 1 })], home);
    const other = writeRegistry([record("env1", { pde_mean: 1 })]);
    const a = json((await runInProcess(["compare-scores", "--sort-by", "pde_mean", "--json"], { env: { EXPFLOW_HOME: home } })).stdout);
    expect(a.results.map((x) => x.id)).toEqual(["home1"]);
    const b = json((await runInProcess(["compare-scores", "--sort-by", "pde_mean", "--json"], { env: { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: other } })).stdout);
    expect(b.results.map((x) => x.id)).toEqual(["env1"]);
  });

  it("follows a metric's direction and threshold overridden in expflow.yaml", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "expflow.yaml"), "metrics:\n  pde_mean:\n    threshold: 25\n  train_time_min:\n    threshold: null\n  my_acc:\n    direction: lower\n");
    const path = writeRegistry([record("a", { pde_mean: 20, my_acc: 0.9 }), record("b", { pde_mean: 30, my_acc: 0.1 })]);
    const out = json((await runInProcess(["compare-scores", "--registry", path, "--sort-by", "my_acc", "--use-thresholds", "--json"], { cwd: join(dir, "sub") })).stdout);
    expect(out.ascending).toBe(true);
    expect(out.gates[0]).toEqual({ metric: "pde_mean", op: "lt", value: 25 });
    expect(out.results.map((x) => [x.id, x.passed])).toEqual([
      ["a", true],
      ["b", false],
    ]);
  });

  it("fails on a bad config file with exit 2 naming the file and key", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "expflow.yaml"), "metrics:\n  pde_mean:\n    threshold: low\n");
    const r = await runInProcess(["compare-scores", "--registry", reg(), "--sort-by", "pde_mean"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(dir, "expflow.yaml"));
    expect(r.stderr).toContain("metrics.pde_mean.threshold");
  });
});

describe("expflow compare-scores: no rank for an unfinished run (issue 10)", () => {
  // The registry: the run with the best pde_mean was cancelled at 30 of 200 epochs.
  const sweep = (): string =>
    writeRegistry([
      record("cancelled", { pde_mean: 9.5, train_time_min: 11, epochs: 30 }, { status: "cancelled", tags: ["final"] }),
      record("failed", { pde_mean: 12, train_time_min: 20 }, { status: "failed", tags: ["final"] }),
      record("running", { pde_mean: 13, train_time_min: 25 }, { status: "running", tags: ["final"] }),
      record("done", { pde_mean: 16.5, train_time_min: 48, epochs: 200 }, { tags: ["final"] }),
      record("done-slow", { pde_mean: 17.5, train_time_min: 75, epochs: 200 }, { tags: ["final"] }),
    ]);

  it("a run cancelled at 30 of 200 epochs no longer tops the default ranking or passes the gates", async () => {
    const r = await runInProcess(["compare-scores", "--registry", sweep(), "--sort-by", "pde_mean", "--use-thresholds"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[1]).toMatch(/^ +1 +done +run-done +completed +16\.5 +48 +PASS/);
    expect(r.stdout).not.toMatch(/^ +\d+ +cancelled /m);
    expect(lines.at(-2)).toBe("1 of 2 experiments pass 2 gates; ranked by pde_mean, lowest first.");
    expect(lines.at(-1)).toBe("3 unfinished experiments not ranked (1 running, 1 failed, 1 cancelled); pass --status completed,running,failed,cancelled to include them.");
  });

  it("--json says which statuses were ranked and what was left out, by status", async () => {
    const out = json((await runInProcess(["compare-scores", "--registry", sweep(), "--sort-by", "pde_mean", "--use-thresholds", "--json"])).stdout);
    expect(out.results.map((x) => [x.id, x.rank])).toEqual([
      ["done", 1],
      ["done-slow", null],
    ]);
    expect(out.selection).toEqual({ statuses: ["completed"], default: true, ranked: 2, excluded: 3, excluded_by_status: { running: 1, failed: 1, cancelled: 1 } });
  });

  it("a failed run no longer passes a loose gate with exit 0: nothing completed is exit 1, saying why and how to include it", async () => {
    const path = writeRegistry([record("f", { pde_mean: 30, train_time_min: 5 }, { status: "failed" }), record("r", { pde_mean: 40 }, { status: "running" })]);
    const r = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:100"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      "No completed experiment to rank.\n2 unfinished experiments not ranked (1 running, 1 failed); pass --status completed,running,failed to include them.\n",
    );
    const j = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:100", "--json"]);
    expect(j.code).toBe(1);
    expect(json(j.stdout).results).toEqual([]);
    expect(json(j.stdout).selection).toMatchObject({ ranked: 0, excluded: 2 });
    expect(j.stderr).toContain("nothing ranked in");
    expect(j.stderr).toContain("pass --status completed,running,failed to include them");
  });

  it("the README's CI recipe (--tags final --use-thresholds --json) goes red when only a cancelled run beats the limits", async () => {
    const path = writeRegistry([
      record("cancelled", { pde_mean: 9.5, train_time_min: 11 }, { status: "cancelled", tags: ["final"] }),
      record("done", { pde_mean: 19, train_time_min: 48 }, { tags: ["final"] }),
    ]);
    const r = await runInProcess(["compare-scores", "--registry", path, "--tags", "final", "--sort-by", "pde_mean", "--use-thresholds", "--json"]);
    expect(r.code).toBe(1);
    expect(json(r.stdout).results.map((x) => [x.id, x.passed])).toEqual([["done", false]]);
  });

  it("the hint's --status ranks them all; --status given means exactly those states", async () => {
    const path = sweep();
    const all = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--status", "completed,running,failed,cancelled", "--json"]);
    expect(all.code).toBe(0);
    expect(json(all.stdout).results.map((x) => x.id)).toEqual(["cancelled", "failed", "running", "done", "done-slow"]);
    expect(json(all.stdout).selection).toEqual({ statuses: ["completed", "running", "failed", "cancelled"], default: false, ranked: 5, excluded: 0, excluded_by_status: {} });
    const only = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--status", "cancelled"]);
    expect(only.code).toBe(0);
    expect(only.stdout).toMatch(/^ +1 +cancelled +run-cancelled +cancelled +9\.5 +PASS$/m);
    expect(only.stdout.trimEnd().split("\n").at(-1)).toBe("4 experiments in other states not ranked (1 running, 2 completed, 1 failed); pass --status cancelled,running,completed,failed to include them.");
  });

  it("--only-passing and --max cut the ranked rows; the summary still counts what was left out", async () => {
    const r = await runInProcess(["compare-scores", "--registry", sweep(), "--sort-by", "pde_mean", "--use-thresholds", "--only-passing", "--max", "1"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines.at(-2)).toBe("1 of 2 experiments pass 2 gates (showing 1); ranked by pde_mean, lowest first.");
    expect(lines.at(-1)).toMatch(/^3 unfinished experiments not ranked/);
    const j = json((await runInProcess(["compare-scores", "--registry", sweep(), "--sort-by", "pde_mean", "--max", "1", "--json"])).stdout);
    expect(j.results).toHaveLength(1);
    expect(j.selection).toMatchObject({ ranked: 2, excluded: 3 });
  });

  it("CSV and Markdown keep only rows on standard output, and say what was left out on standard error", async () => {
    for (const format of ["--csv", "--markdown"]) {
      const r = await runInProcess(["compare-scores", "--registry", sweep(), "--sort-by", "pde_mean", format]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain("not ranked");
      expect(r.stdout).not.toMatch(/cancelled|running/);
      expect(r.stdout.trim().split(/\r?\n/)).toHaveLength(format === "--csv" ? 3 : 4);
      expect(r.stderr).toBe("3 unfinished experiments not ranked (1 running, 1 failed, 1 cancelled); pass --status completed,running,failed,cancelled to include them.\n");
    }
  });

  it("counts only what the other filters select: archived and other projects' runs are not in the count", async () => {
    const path = writeRegistry([
      record("done", { pde_mean: 10 }),
      record("running", { pde_mean: 1 }, { status: "running" }),
      record("archived-failed", { pde_mean: 1 }, { status: "failed", archived: true }),
      record("archived-done", { pde_mean: 2 }, { archived: true }),
      record("other-project", { pde_mean: 1 }, { status: "cancelled", project: "Q" }),
    ]);
    const live = json((await runInProcess(["compare-scores", "--registry", path, "--project", "P", "--sort-by", "pde_mean", "--json"])).stdout);
    expect(live.results.map((x) => x.id)).toEqual(["done"]);
    expect(live.selection).toMatchObject({ ranked: 1, excluded: 1, excluded_by_status: { running: 1 } });
    const archived = json((await runInProcess(["compare-scores", "--registry", path, "--project", "P", "--include-archived", "--sort-by", "pde_mean", "--json"])).stdout);
    expect(archived.results.map((x) => x.id)).toEqual(["archived-done", "done"]);
    expect(archived.selection).toMatchObject({ ranked: 2, excluded: 2, excluded_by_status: { running: 1, failed: 1 } });
  });

  it("an unfinished record with bare NaN metrics is counted, not ranked; an unknown --status is still exit 2 with a suggestion", async () => {
    const path = writeRegistry(['{"experiment_id": "py-run", "status": "running", "metrics": {"pde_mean": NaN}}', record("a", { pde_mean: 12 })]);
    const r = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(json(r.stdout).results.map((x) => x.id)).toEqual(["a"]);
    expect(json(r.stdout).selection.excluded_by_status).toEqual({ running: 1 });
    for (const bad of ["runing", "complete"]) {
      const e = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--status", bad, "--json"]);
      expect(e.code).toBe(2);
      expect(e.stdout).toBe("");
      expect(JSON.parse(e.stderr)).toMatchObject({ error: { code: "E_UNKNOWN_STATUS" } });
      expect(e.stderr).toContain("Did you mean");
    }
  });

  it("a status the earlier tool wrote (or none) is left out by default and accepted by --status; its name reaches the terminal printable", async () => {
    const path = writeRegistry([
      '{"experiment_id": "legacy", "metrics": {"pde_mean": 1}}',
      record("odd", { pde_mean: 2 }, { status: "finished\u001b[31m" }),
      record("done", { pde_mean: 3 }),
    ]);
    const r = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean"]);
    expect(r.code).toBe(0);
    const note = r.stdout.trimEnd().split("\n").at(-1)!;
    expect(note).toBe("2 unfinished experiments not ranked (1 finished\\u001b[31m, 1 unknown); pass --status 'completed,finished\\u001b[31m,unknown' to include them.");
    expect(r.stdout).not.toContain("\u001b");
    const unknown = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--status", "unknown", "--json"]);
    expect(unknown.code).toBe(0);
    expect(json(unknown.stdout).results.map((x) => x.id)).toEqual(["legacy"]);
  });
});
