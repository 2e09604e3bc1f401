import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CliResult } from "../helpers/cli.js";
import { record, runCliAsync, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";
import { latest, script, spawnCli, waitFor } from "../helpers/runs.js";

// Metrics for any project, seen from the command line (issue 14): a custom metric is recorded,
// shown and rankable once its direction is given or declared; `metrics.strict` restores refusal;
// every "unknown metric" says how to declare one. And a running run's status shows its progress.

/** A project directory (for expflow.yaml) with a home of its own; the CLI runs in it. */
function project(config?: string): { dir: string; home: string; env: Record<string, string> } {
  const dir = tempDir("expflow-custom-");
  const home = join(dir, ".home");
  mkdirSync(home, { mode: 0o700 });
  if (config !== undefined) writeFileSync(join(dir, "expflow.yaml"), config);
  return { dir, home, env: { EXPFLOW_HOME: home, NO_COLOR: "1" } };
}

function cli(p: { dir: string; env: Record<string, string> }, args: readonly string[]): Promise<CliResult> {
  return runInProcess(args, { cwd: p.dir, env: p.env });
}

const RUNS = [
  record("exp-loss00000001", { val_loss: 0.3, pde_mean: 15 }),
  record("exp-loss00000002", { val_loss: 0.1, pde_mean: 16 }),
  record("exp-loss00000003", { val_loss: 0.2, pde_mean: 17 }),
];

describe("custom metrics on the command line", () => {
  it("metrics report keeps an unregistered name as a custom metric, with a note saying how to declare it", async () => {
    const p = project();
    const reg = writeRegistry([record("exp-aaaa00000001", { pde_mean: 17 })], p.dir);
    const r = await cli(p, ["metrics", "report", "exp-aaaa00000001", "val_loss=0.1", "pde_maen=3", "--registry", reg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("Reported 2 metrics to exp-aaaa00000001: val_loss=0.1 pde_maen=3\n");
    expect(r.stderr).toBe(
      "note: 'val_loss' is not a registered metric: kept as a custom metric. To rank by it best-first, declare it: `expflow metrics add val_loss --direction lower|higher` (or give compare-scores --ascending/--descending)\n" +
        "note: 'pde_maen' is not a registered metric: kept as a custom metric. Did you mean 'pde_mean'? To rank by it best-first, declare it: `expflow metrics add pde_maen --direction lower|higher` (or give compare-scores --ascending/--descending)\n",
    );
    expect(latest(reg, "exp-aaaa00000001")?.["metrics"]).toEqual({ pde_mean: 17, val_loss: 0.1, pde_maen: 3 });
  });

  it("metrics.strict: true refuses it again (exit 2, nothing written), saying how to declare one", async () => {
    const p = project("metrics:\n  strict: true\n");
    const reg = writeRegistry([record("exp-aaaa00000001", { pde_mean: 17 })], p.dir);
    const before = readFileSync(reg, "utf8");
    const r = await cli(p, ["metrics", "report", "exp-aaaa00000001", "val_loss=0.1", "--registry", reg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: unknown metric 'val_loss' (metrics.strict is set in the configuration, so only registered metrics are kept).");
    expect(r.stderr).toMatch(/hint: known metrics: seg_total, .*; declare it: `expflow metrics add val_loss --direction lower\|higher`\n$/);
    const j = await cli(p, ["metrics", "report", "exp-aaaa00000001", "val_loss=0.1", "--registry", reg, "--json"]);
    expect((JSON.parse(j.stderr) as { error: { hint: string } }).error.hint).toMatch(/declare it: `expflow metrics add val_loss --direction lower\|higher`$/);
    expect(readFileSync(reg, "utf8")).toBe(before);
    const shown = await cli(p, ["config", "show"]);
    expect(shown.stdout).toContain(`metrics.strict   true  (from ${join(p.dir, "expflow.yaml")}; unregistered metrics are refused)`);
  });

  it("compare-scores ranks a custom metric once its direction is given (--ascending) or declared (metrics add); an unknown name says how to declare one", async () => {
    const p = project("# ours\nregistry: runs.jsonl\n");
    writeFileSync(join(p.dir, "runs.jsonl"), RUNS.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const ids = (r: CliResult): string[] => (JSON.parse(r.stdout) as { results: { id: string }[] }).results.map((x) => x.id);
    // Without a direction a custom metric is not ranked: lower and higher put opposite ends first.
    const undirected = await cli(p, ["compare-scores", "--sort-by", "val_loss", "--json"]);
    expect(undirected.code).toBe(2);
    expect(JSON.parse(undirected.stderr)).toMatchObject({ error: { code: "E_METRIC_DIRECTION" } });
    expect(ids(await cli(p, ["compare-scores", "--sort-by", "val_loss", "--descending", "--json"]))).toEqual(["exp-loss00000001", "exp-loss00000003", "exp-loss00000002"]);
    expect(ids(await cli(p, ["compare-scores", "--sort-by", "val_loss", "--ascending", "--json"]))).toEqual(["exp-loss00000002", "exp-loss00000003", "exp-loss00000001"]);

    const added = await cli(p, ["metrics", "add", "val_loss", "--direction", "lower", "--threshold", "0.25"]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toBe(`Updated ${join(p.dir, "expflow.yaml")}: metric val_loss (lower is better, group Custom, threshold < 0.25).\nRuns reporting val_loss now rank by it lowest first: expflow compare-scores --sort-by val_loss\n`);
    expect(readFileSync(join(p.dir, "expflow.yaml"), "utf8")).toBe("# ours\nregistry: runs.jsonl\nmetrics:\n  val_loss:\n    direction: lower\n    threshold: 0.25\n");
    const declared = await cli(p, ["compare-scores", "--sort-by", "val_loss", "--use-thresholds", "--json"]);
    expect(JSON.parse(declared.stdout)).toMatchObject({ ascending: true, gates: expect.arrayContaining([{ metric: "val_loss", op: "lt", value: 0.25 }]) });
    expect(ids(declared)).toEqual(["exp-loss00000002", "exp-loss00000003", "exp-loss00000001"]);
    // Declared twice: exit 2, the file unchanged.
    const again = await cli(p, ["metrics", "add", "val_loss", "--direction", "higher"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`error: 'val_loss' is already a metric (declared in ${join(p.dir, "expflow.yaml")})`);

    const unknown = await cli(p, ["compare-scores", "--sort-by", "val_acc"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("hint: `expflow metrics list` shows the registered metrics; if 'val_acc' is a metric of your own, declare it: `expflow metrics add val_acc --direction lower|higher`");
    const gate = await cli(p, ["compare-scores", "--sort-by", "pde_mean", "--gate", "top1:gt:0.5"]);
    expect(gate.stderr).toContain("declare it: `expflow metrics add top1 --direction lower|higher`");
  });

  it("audit rules: a rule on a metric the registry does not know says how to declare it", async () => {
    const p = project("audit:\n  rules: pack.yaml\n");
    writeFileSync(join(p.dir, "pack.yaml"), "name: ours\nmetrics:\n  val_loss: {threshold: registry}\n  pde_mean: {threshold: registry}\n");
    const r = await cli(p, ["audit", "rules"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("val_loss  val_loss present and finite (unknown metric, so no registered threshold: not gated; declare it: `expflow metrics add val_loss --direction lower|higher --threshold V`)");
    expect(r.stdout).toContain("pde_mean  pde_mean < 18.09 (registered threshold)");
  });

  it("run status: last, best by direction and steps per metric; custom metrics noted; refused entries shown", async () => {
    const p = project("metrics:\n  f1: {direction: higher}\n");
    const reg = writeRegistry(
      [
        record(
          "exp-hist00000001",
          { pde_mean: 14, f1: 0.7, val_loss: 0.2 },
          {
            metric_history: {
              pde_mean: { last: 14, min: 12.5, max: 20, count: 40, steps: [[0, 20], [39, 14]] },
              f1: { last: 0.7, min: 0.1, max: 0.8, count: 40, steps: [[0, 0.1], [39, 0.7]] },
              val_loss: { last: 0.2, min: 0.1, max: 2, count: 40, steps: [[0, 2], [39, 0.2]] },
            },
            rejected_metrics: [{ name: "acc", value: "Infinity", reason: "metric 'acc' has value Infinity: it must be a finite number" }],
          },
        ),
      ],
      p.dir,
    );
    const r = await cli(p, ["run", "status", "exp-hist00000001", "--registry", reg]);
    expect(r.code, r.stderr).toBe(0);
    const metrics = r.stdout.slice(r.stdout.indexOf("Metrics"), r.stdout.indexOf("Params"));
    expect(metrics).toBe(
      [
        "Metrics",
        "  METRIC    LAST  BEST  STEPS  THRESHOLD  NOTE",
        "  pde_mean    14  12.5     40  < 18.09    -",
        "  f1         0.7   0.8     40  -          -",
        "  val_loss   0.2     -     40  -          custom",
        "  custom: not a registered metric, kept as reported; no direction, so no best. To rank by one best-first, declare it: `expflow metrics add val_loss --direction lower|higher`",
        "  1 entry refused:",
        `    'acc' ("Infinity"): metric 'acc' has value Infinity: it must be a finite number`,
        "",
        "",
      ].join("\n"),
    );
  });
});

describe("live metrics on the command line", () => {
  it("run submit --wait: while the run trains, run status shows its metrics so far (not \"(none reported)\")", async () => {
    const p = project();
    const go = join(p.dir, "go");
    const code = `const fs = require("fs");
for (let i = 1; i <= 9; i++) fs.appendFileSync(process.env.EXPFLOW_METRICS_FILE, JSON.stringify({ step: i, val_loss: 1 / i, pde_mean: 20 - i }) + "\\n");
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(go)})) clearInterval(t); }, 20);`;
    const run = spawnCli(["run", "submit", "--wait", "--", process.execPath, script(p.dir, "train.cjs", code)], { cwd: p.dir, env: p.env });
    const id = await waitFor(() => /exp-\w+/.exec(run.output())?.[0], "the run's id");
    const registry = join(p.home, "experiments.jsonl");
    await waitFor(() => (latest(registry, id)?.["metric_history"] as Record<string, { count: number }> | undefined)?.["val_loss"]?.count === 9, "the live snapshot");
    const status = await cli(p, ["run", "status", id]);
    expect(status.stdout).toMatch(/^status +running$/m);
    expect(status.stdout).toContain("Metrics (live, as of ");
    expect(status.stdout).toMatch(/^ {2}pde_mean +11 +11 +9 +< 18\.09 +-$/m);
    expect(status.stdout).toMatch(/^ {2}val_loss +0\.1111 +- +9 +- +custom$/m);
    expect(status.stdout).not.toContain("(none reported");
    // compare-scores --status running sees the progress too.
    const ranking = await cli(p, ["compare-scores", "--sort-by", "pde_mean", "--status", "running", "--json"]);
    expect(JSON.parse(ranking.stdout)).toMatchObject({ results: [{ id, value: 11 }] });
    writeFileSync(go, "");
    const done = await run.exited;
    expect(done.code, done.stderr).toBe(0);
  });

  it("agent --once: its output carries a note on the custom metrics a run reported", async () => {
    const p = project();
    const code = `require("fs").writeFileSync(process.env.EXPFLOW_METRICS_FILE, JSON.stringify({ val_loss: 0.25, pde_mean: 14 }) + "\\n");`;
    const submitted = await cli(p, ["run", "submit", "--", process.execPath, script(p.dir, "once.cjs", code)]);
    const id = submitted.stdout.trim();
    const agent = await runCliAsync(["agent", "--once"], { cwd: p.dir, env: p.env });
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toContain(`${id}: note: custom metric 'val_loss' (not registered) kept as reported; to rank by it best-first, declare it with its direction under metrics: in expflow.yaml (val_loss: {direction: lower} or {direction: higher})`);
    expect(existsSync(join(p.home, "metrics", `${id}.jsonl`))).toBe(true);
    expect(latest(join(p.home, "experiments.jsonl"), id)?.["metrics"]).toMatchObject({ val_loss: 0.25, pde_mean: 14 });
  });
});
