// `clearml tasks` and `clearml compare-scores` fit the terminal (issue 14): a project whose tasks
// report every standard metric made `clearml tasks` 259 columns wide. Against the fake ClearML
// server, in this process through run(argv, io), with COLUMNS standing for the terminal's width.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../helpers/cli.js";
import type { CliResult } from "../helpers/cli.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask } from "../../fake-clearml/tasks.js";
import { STANDARD_METRICS } from "../../src/core/metrics/registry.js";
import { displayWidth } from "../../src/cli/output/text-width.js";

const FULL = fakeProject("Full");
/** Every standard metric, under its registry group as title. */
const everyMetric = (base: number) => {
  const out: Record<string, Record<string, number>> = {};
  STANDARD_METRICS.forEach((m, i) => ((out[m.group] ??= {})[m.name] = base + i * 1.25));
  return out;
};
const TASKS = ["実験-full-sweep-run-one", "full-sweep-run-two-with-a-long-name", "e\u0301te\u0301-three"].map((name, i) =>
  fakeTask({ name, project: FULL.id, status: i === 1 ? "published" : "completed", created: `2025-02-0${i + 1}T00:00:00.000Z`, metrics: everyMetric(10 + i) }),
);

let fake: FakeClearml;
beforeAll(async () => {
  fake = await FakeClearml.start({ projects: [FULL], tasks: TASKS });
});
afterEach(() => fake.assertClean());
afterAll(() => fake.close());

function clearml(args: readonly string[], columns?: number): Promise<CliResult> {
  return runInProcess(["clearml", ...args], {
    env: { CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey, NO_COLOR: "1", COLUMNS: columns === undefined ? undefined : String(columns) },
  });
}

/** The table's lines: the header and a row per task. */
const rowsOf = (r: CliResult): string[] => r.stdout.split("\n").filter((l) => /^(ID|RANK) /.test(l) || TASKS.some((t) => l.includes(t.id)));

describe("clearml tasks fits the terminal", () => {
  it("without a width it is as wide as before (every standard metric: over 250 columns)", async () => {
    const r = await clearml(["tasks", "--project", "Full"]);
    expect(r.code, r.stderr).toBe(0);
    expect(Math.max(...rowsOf(r).map(displayWidth))).toBeGreaterThan(250);
  });

  it("at 80 columns: the 32-character id whole, the name, then the metrics that fit, whole; the rest named", async () => {
    const r = await clearml(["tasks", "--project", "Full"], 80);
    expect(r.code, r.stderr).toBe(0);
    const rows = rowsOf(r);
    expect(rows).toHaveLength(4);
    for (const line of rows) expect(displayWidth(line), line).toBeLessThanOrEqual(80);
    expect(rows[0]).toMatch(/^ID {32}NAME +STATUS +seg_total$/);
    expect(rows[1]).toMatch(new RegExp(`^${TASKS[0]!.id}  実験-full-sweep-run-one +completed +10$`));
    expect(rows[2]).toMatch(new RegExp(`^${TASKS[1]!.id}  full-sweep-run-two-with… +completed +11$`));
    expect(r.stdout).toMatch(/^Left out to fit 80 columns: clearml_status, created, epochs, arch_params, train_time_min, pde_seg3, pde_seg2, pde_seg1, pde_mean, val_relmse, val_mse, seg3, seg2, seg1 \(--wide shows all\)\.$/m);
    expect(r.stdout).toMatch(/^3 tasks in Full on /m);
  });

  it("--columns picks any metric the tasks report; an unknown one is exit 2 listing the columns", async () => {
    const r = await clearml(["tasks", "--project", "Full", "--columns", "id,pde_mean,epochs"], 60);
    expect(r.code, r.stderr).toBe(0);
    expect(rowsOf(r)[0]).toMatch(/^ID {32}pde_mean +epochs$/);
    const bad = await clearml(["tasks", "--project", "Full", "--columns", "id,epoch"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown column 'epoch' in --columns. Did you mean 'epochs'?");
    expect(bad.stderr).toContain("hint: the columns of clearml tasks: id, name, status, clearml_status, created, seg_total");
  });

  it("--json and --csv are the same at any width", async () => {
    for (const format of ["--json", "--csv", "--markdown"]) {
      const whole = await clearml(["tasks", "--project", "Full", format]);
      expect((await clearml(["tasks", "--project", "Full", format], 20)).stdout).toBe(whole.stdout);
    }
  });
});

describe("clearml compare-scores fits the terminal", () => {
  it("at 60 columns: rank, id and the sort metric whole; the gated metrics that do not fit are named", async () => {
    const r = await clearml(["compare-scores", "--project", "Full", "--sort-by", "pde_mean", "--use-thresholds", "--then-by", "seg_total"], 60);
    expect(r.code, r.stderr).toBe(0);
    const rows = rowsOf(r);
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatch(/^RANK {2}ID {32}pde_mean$/);
    expect(rows.slice(1).map((l) => l.replace(/[0-9a-f]{32}/, "ID"))).toEqual(["   1  ID      17.5", "   -  ID      18.5", "   -  ID      19.5"]);
    expect(r.stdout).toMatch(/^Left out to fit 60 columns: status, failed_gates, train_time_min, seg_total, passed, name \(--wide shows all\)\.$/m);
  });

  it("--columns names its own command in the error", async () => {
    const r = await clearml(["compare-scores", "--project", "Full", "--sort-by", "pde_mean", "--columns", "nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("hint: the columns of clearml compare-scores: rank, id, name, status, pde_mean, passed");
  });
});
