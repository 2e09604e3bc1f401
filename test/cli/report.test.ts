// `expflow report --html FILE`: what it writes, what it says, and what it refuses, in this
// process through run(argv, io) (test/helpers/cli.ts); one case is spawned from dist/cli.js. The
// page itself is tested in a browser (test/report/report-page.browser.test.ts).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReportDataJson } from "../../src/contracts/report.js";
import { ReportDataSchema } from "../../src/contracts/report.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask } from "../../fake-clearml/tasks.js";
import { ROOT, record, runCliAsync, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";
import type { CliResult } from "../helpers/cli.js";

const EXAMPLE = join(ROOT, "examples", "experiments.jsonl");

function dataOf(html: string): ReportDataJson {
  const json = /<script type="application\/json" id="expflow-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
  return ReportDataSchema.parse(JSON.parse(json));
}

/** One `error:` line (and perhaps a hint), no stack, no internal error. */
function expectOneError(r: CliResult, pattern: RegExp): void {
  expect(r.stderr).not.toContain("internal error");
  expect(r.stderr).not.toMatch(/\n\s+at /);
  const lines = r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("hint:") && !l.startsWith("warning:") && !l.startsWith("(add --help"));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe("expflow report on the local registry", () => {
  it("writes one self-contained page of the example's ranking, says what it wrote, exit 0", async () => {
    const dir = tempDir();
    const file = join(dir, "report.html");
    const r = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean", "--use-thresholds"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*report\.html \(\d+\.\d KB\): 19 of 60 experiments pass 2 gates; ranked by pde_mean, lowest first\. Step history of 20 of the top 20\.\n$/);
    expect(r.stderr).toBe("8 unfinished experiments not ranked (4 running, 4 failed); pass --status completed,running,failed to include them.\n");
    const html = readFileSync(file, "utf8");
    expect(html.startsWith("<!doctype html>")).toBe(true);
    // Nothing to fetch: no URL of any kind outside the data, and a policy that forbids it.
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-/);
    expect(/[\u0080-\uffff]/.test(html)).toBe(false);
    const data = dataOf(html);
    // The same ranking as compare-scores --json with the same options.
    const ranked = await runInProcess(["compare-scores", "--registry", EXAMPLE, "--sort-by", "pde_mean", "--use-thresholds", "--json"]);
    expect(data.ranking).toEqual(JSON.parse(ranked.stdout));
    expect(data.source).toEqual({ kind: "local", location: EXAMPLE, project: null });
    expect(data.summary).toMatchObject({ listed: 68, ranked: 60, passed: 19, failed: 41, shown: 60, unfinished: 0 });
    expect(data.command).toBe(`expflow report --html ${file} --registry ${EXAMPLE} --sort-by pde_mean --use-thresholds`);
    // Default plots: the sort metric against the first gated metric other than it.
    expect(data.scatter).toEqual({ x: "pde_mean", y: "train_time_min" });
    expect(data.axes).toEqual(["pde_mean", "train_time_min"].concat(data.axes.slice(2)));
    expect(readdirSync(dir)).toEqual(["report.html"]);
  });

  it("is the built binary's too, with the page's script inlined", async () => {
    const file = join(tempDir(), "r.html");
    const r = await runCliAsync(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09"]);
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(file, "utf8");
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(script.length).toBeGreaterThan(20_000);
    expect(script).toContain("expflow-data");
  });

  it("writes the report and exits 1 when nothing passes", async () => {
    const file = join(tempDir(), "report.html");
    const r = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:1"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/: 0 of 60 experiments pass 1 gate;/);
    expect(dataOf(readFileSync(file, "utf8")).summary.passed).toBe(0);
  });

  it("--html - writes the page to standard output and its summary to standard error", async () => {
    const r = await runInProcess(["report", "--html", "-", "--registry", EXAMPLE, "--sort-by", "pde_mean"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith("<!doctype html>")).toBe(true);
    expect(dataOf(r.stdout).ranking.results).toHaveLength(60);
    expect(r.stderr).toMatch(/^wrote the report to standard output \(\d+\.\d KB\): 60 experiments, no gates; ranked by pde_mean, lowest first\./);
  });

  it("reads the step history of the top rows only, as many as asked", async () => {
    const steps = Array.from({ length: 10 }, (_, i) => [i, 20 - i] as const);
    const history = { pde_mean: { last: 11, min: 11, max: 20, count: 10, steps }, bogus: { last: "x" } };
    const registry = writeRegistry([
      record("a", { pde_mean: 15 }, { metric_history: history }),
      record("b", { pde_mean: 16 }, { metric_history: history }),
      record("c", { pde_mean: 17 }),
      record("d", { pde_mean: 18 }, { metric_history: history }),
    ]);
    const file = join(tempDir(), "report.html");
    const r = await runInProcess(["report", "--html", file, "--registry", registry, "--sort-by", "pde_mean", "--history", "3"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Step history of 2 of the top 3\.\n$/);
    const data = dataOf(readFileSync(file, "utf8"));
    expect(data.history.runs).toBe(3);
    // A value that is not a history (bogus) is left out, as run status leaves it.
    expect(data.history.series).toEqual({ a: { pde_mean: steps }, b: { pde_mean: steps } });
    const none = await runInProcess(["report", "--html", file, "--registry", registry, "--sort-by", "pde_mean", "--history", "0"]);
    expect(none.stdout).toMatch(/No step history read\.\n$/);
    expect(dataOf(readFileSync(file, "utf8")).history).toEqual({ runs: 0, series: {}, note: null });
  });

  it("takes --x, --y, --axes and --title, resolving aliases; refuses a metric nobody has, exit 2", async () => {
    const file = join(tempDir(), "report.html");
    const r = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean", "--x", "seg_total", "--y", "val_mse", "--axes", "seg1,seg2,seg3", "--title", "Sweep <3"]);
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(file, "utf8");
    const data = dataOf(html);
    expect(data.scatter).toEqual({ x: "seg_total", y: "val_mse" });
    expect(data.axes).toEqual(["seg1", "seg2", "seg3"]);
    expect(data.title).toBe("Sweep <3");
    expect(html).toContain("<title>Sweep &#60;3</title>");
    expect(data.metrics.map((m) => m.name)).toEqual(expect.arrayContaining(["pde_mean", "seg1", "seg_total", "val_mse"]));

    const typo = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean", "--x", "seg_totl"]);
    expect(typo.code).toBe(2);
    expectOneError(typo, /^error: unknown metric 'seg_totl' in --x: .*did you mean 'seg_total'\?/i);
    const one = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean", "--axes", "seg1,seg1"]);
    expect(one.code).toBe(2);
    expectOneError(one, /^error: a parallel-coordinates plot needs at least 2 distinct axes/);
  });

  it("refuses a history count out of range and one that is not a number, exit 2", async () => {
    const file = join(tempDir(), "report.html");
    const big = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean", "--history", "500"]);
    expect(big.code).toBe(2);
    expectOneError(big, /^error: the history count must be a whole number from 0 to 200, got 500/);
    const word = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean", "--history", "many"]);
    expect(word.code).toBe(2);
    expect(word.stderr).toMatch(/expected a whole number, got 'many'/);
    expect(existsSync(file)).toBe(false);
  });

  it("refuses a destination that is a directory or in a directory that does not exist, before reading anything", async () => {
    const dir = tempDir();
    const isDir = await runInProcess(["report", "--html", dir, "--registry", join(dir, "nothing.jsonl"), "--sort-by", "pde_mean"]);
    expect(isDir.code).toBe(2);
    expectOneError(isDir, /is a directory, not a file/);
    const nowhere = join(dir, "no", "such", "report.html");
    const missing = await runInProcess(["report", "--html", nowhere, "--registry", EXAMPLE, "--sort-by", "pde_mean"]);
    expect(missing.code).toBe(2);
    expectOneError(missing, /the directory .*no\/such of .* does not exist/);
    expect(existsSync(join(dir, "no"))).toBe(false);
  });

  it("leaves an earlier report as it was when the ranking fails, and no temporary file; replaces it when all goes well", async () => {
    const dir = tempDir();
    const file = join(dir, "report.html");
    const first = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean", "--title", "first"]);
    expect(first.code, first.stderr).toBe(0);
    const earlier = readFileSync(file, "utf8");
    const r = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_maen"]);
    expect(r.code).toBe(2);
    expectOneError(r, /unknown metric 'pde_maen' in --sort-by.*did you mean 'pde_mean'/i);
    expect(readFileSync(file, "utf8")).toBe(earlier);
    expect(readdirSync(dir)).toEqual(["report.html"]);
    const again = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean", "--title", "second"]);
    expect(again.code, again.stderr).toBe(0);
    expect(dataOf(readFileSync(file, "utf8")).title).toBe("second");
  });

  it("replaces only an earlier report or an empty file: never the registry, a script, or a file in expflow's home", async () => {
    const dir = tempDir();
    const registry = join(dir, "experiments.jsonl");
    writeFileSync(registry, readFileSync(EXAMPLE));
    const script = join(dir, "train.py");
    writeFileSync(script, "print('hi')\n");
    for (const target of [registry, script]) {
      const r = await runInProcess(["report", "--html", target, "--registry", registry, "--sort-by", "pde_mean"]);
      expect(r.code, target).toBe(2);
      expectOneError(r, /exists and is not an expflow report: it is not replaced/);
    }
    expect(readFileSync(registry)).toEqual(readFileSync(EXAMPLE));
    expect(readFileSync(script, "utf8")).toBe("print('hi')\n");
    const home = tempDir();
    for (const target of [join(home, "experiments.jsonl"), join(home, "report.html")]) {
      const r = await runInProcess(["report", "--html", target, "--registry", EXAMPLE, "--sort-by", "pde_mean"], { env: { EXPFLOW_HOME: home } });
      expect(r.code, target).toBe(2);
      expectOneError(r, /is in expflow's home .*: a report is not written there/);
    }
    expect(readdirSync(home)).toEqual([]);
    const empty = join(dir, "empty.html");
    writeFileSync(empty, "");
    const ok = await runInProcess(["report", "--html", empty, "--registry", EXAMPLE, "--sort-by", "pde_mean"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(empty, "utf8").startsWith("<!doctype html>")).toBe(true);
  });

  it.runIf(process.getuid?.() === 0 && spawnSync("prlimit", ["--version"]).status === 0)("a write the system refuses (a file-size limit) is exit 4 naming the file, and the earlier report stays", () => {
    const dir = tempDir();
    const file = join(dir, "report.html");
    writeFileSync(file, '<!doctype html>\n<meta name="generator" content="expflow 0.0.1">the earlier report');
    const earlier = readFileSync(file, "utf8");
    // Spawned under a 10 KB file-size limit: the page (over 100 KB) cannot be written.
    const r = spawnSync("prlimit", ["--fsize=10000", process.execPath, join(ROOT, "dist", "cli.js"), "report", "--html", file, "--registry", EXAMPLE, "--sort-by", "pde_mean"], {
      encoding: "utf8",
      env: { ...process.env, EXPFLOW_HOME: tempDir() },
    });
    expect(r.status, r.stderr).toBe(4);
    expectOneError({ code: r.status, stdout: r.stdout, stderr: r.stderr }, /^error: file too large writing .*report\.html/);
    expect(readFileSync(file, "utf8")).toBe(earlier);
    expect(readdirSync(dir)).toEqual(["report.html"]);
  });

  it("on a fresh home (no registry yet) writes an empty report and exits 1", async () => {
    const home = tempDir();
    const file = join(tempDir(), "report.html");
    const r = await runInProcess(["report", "--html", file, "--sort-by", "pde_mean"], { env: { EXPFLOW_HOME: home } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^warning: no experiments yet in .*experiments\.jsonl; submit one with `expflow run submit`\n$/);
    const data = dataOf(readFileSync(file, "utf8"));
    expect(data.summary).toMatchObject({ listed: 0, ranked: 0, shown: 0 });
    expect(existsSync(join(home, "experiments.jsonl"))).toBe(false);
  });

  it("ranks by Pareto fronts with --pareto, plotting the first two objectives; needs --sort-by or --pareto", async () => {
    const file = join(tempDir(), "report.html");
    const r = await runInProcess(["report", "--html", file, "--registry", EXAMPLE, "--pareto", "pde_mean:min,train_time_min:min", "--gate", "pde_mean:lt:18.09"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: 28 of 60 experiments pass 1 gate; \d+ on the Pareto front of pde_mean \(lowest\) and train_time_min \(lowest\), \d+ fronts\./);
    const data = dataOf(readFileSync(file, "utf8"));
    const ranked = await runInProcess(["compare-scores", "--registry", EXAMPLE, "--pareto", "pde_mean:min,train_time_min:min", "--gate", "pde_mean:lt:18.09", "--json"]);
    expect(data.ranking).toEqual(JSON.parse(ranked.stdout));
    expect(data.ranking.pareto).toEqual([
      { metric: "pde_mean", direction: "min" },
      { metric: "train_time_min", direction: "min" },
    ]);
    expect(data.scatter).toEqual({ x: "pde_mean", y: "train_time_min" });
    expect(data.command).toContain("--pareto pde_mean:min,train_time_min:min");
    const neither = await runInProcess(["report", "--html", file, "--registry", EXAMPLE]);
    expect(neither.code).toBe(2);
    expectOneError(neither, /^error: report needs --sort-by or --pareto/);
  });

  it("refuses ClearML-only options without --clearml, and --clearml without a project or with a registry, exit 2", async () => {
    const file = join(tempDir(), "report.html");
    const cases: [string[], RegExp][] = [
      [["--any-tag"], /--any-tag applies to ClearML projects: pass it with --clearml/],
      [["--include-subprojects"], /--include-subprojects applies to ClearML projects/],
      [["--clearml"], /--clearml needs --project/],
      [["--clearml", "--project", "P", "--registry", EXAMPLE], /--registry names a local registry; --clearml ranks a ClearML project instead/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runInProcess(["report", "--html", file, "--sort-by", "pde_mean", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expectOneError(r, pattern);
    }
    expect(existsSync(file)).toBe(false);
  });
});

describe("expflow report --clearml on a ClearML project (the fake server)", () => {
  const P = fakeProject("PDEBench");
  const PLAIN = fakeProject("Plain");
  const tasks = [
    fakeTask({ name: "alpha", project: P.id, status: "completed", metrics: { Time: { train_time_min: 40 } }, scalars: { PDE: { pde_mean: [[0, 30], [1, 20], [2, 16]] } } }),
    fakeTask({ name: "bravo", project: P.id, status: "published", metrics: { Time: { train_time_min: 30 } }, scalars: { PDE: { pde_mean: [[0, 25], [3, 19]] }, Loss: { val_loss: [[0, 1], [3, 0.5]] } } }),
    fakeTask({ name: "charlie", project: P.id, status: "in_progress", metrics: { Time: { train_time_min: 10 } }, scalars: { PDE: { pde_mean: [[0, 12]] } } }),
    fakeTask({ name: "delta", project: PLAIN.id, status: "completed", metrics: { PDE: { pde_mean: 16 }, Time: { train_time_min: 40 } } }),
    fakeTask({ name: "echo", project: PLAIN.id, status: "completed", metrics: { PDE: { pde_mean: 19 }, Time: { train_time_min: 30 } } }),
  ];
  let fake: FakeClearml;
  beforeAll(async () => {
    fake = await FakeClearml.start({ projects: [P, PLAIN], tasks });
  });
  afterAll(() => fake.close());

  it("ranks the project's tasks as clearml compare-scores does, and plots the step history the top tasks reported", async () => {
    const env = { CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey };
    const dir = tempDir();
    mkdirSync(join(dir, "out"));
    const file = join(dir, "out", "report.html");
    const args = ["--project", "PDEBench", "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09"];
    const r = await runInProcess(["report", "--html", file, "--clearml", ...args], { env });
    expect(r.code, r.stderr).toBe(0);
    const data = dataOf(readFileSync(file, "utf8"));
    const ranked = await runInProcess(["clearml", "compare-scores", ...args, "--json"], { env });
    expect(data.ranking).toEqual(JSON.parse(ranked.stdout));
    expect(data.source).toEqual({ kind: "clearml", location: fake.url, project: "PDEBench" });
    expect(data.summary).toMatchObject({ listed: 3, ranked: 2, passed: 1 });
    const [alpha, bravo] = tasks;
    expect(data.history).toEqual({
      runs: 2,
      series: { [alpha!.id]: { pde_mean: [[0, 30], [1, 20], [2, 16]] }, [bravo!.id]: { pde_mean: [[0, 25], [3, 19]], val_loss: [[0, 1], [3, 0.5]] } },
      note: null,
    });
    expect(r.stdout).toMatch(/: 1 of 2 experiments pass 1 gate; ranked by pde_mean, lowest first\. Step history of 2 of the top 2\.\n$/);
    fake.assertClean();
  });

  it("says so when none of the top tasks reported scalars over its iterations", async () => {
    const env = { CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey };
    const file = join(tempDir(), "report.html");
    const r = await runInProcess(["report", "--html", file, "--clearml", "--project", "Plain", "--sort-by", "pde_mean"], { env });
    expect(r.code, r.stderr).toBe(0);
    const data = dataOf(readFileSync(file, "utf8"));
    expect(data.history).toEqual({ runs: 2, series: {}, note: "None of the top 2 runs recorded a step history (a ClearML task has one when it reports scalars over its iterations)." });
    expect(r.stdout).toMatch(/history of 0 of the top 2\.\n$/);
    fake.assertClean();
  });
});
