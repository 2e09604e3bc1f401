// `expflow audit validate|report --task-id` (and local records linked to a ClearML task) and
// `expflow metrics report --task-id` against the fake ClearML server, in this process through
// run(argv, io) (test/helpers/cli.ts); the first case of each command is spawned from dist/cli.js.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { record, runCliAsync, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";
import type { CliResult } from "../helpers/cli.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask, md5 } from "../../fake-clearml/tasks.js";

interface AuditJson {
  experiment_id: string;
  status: string;
  clearml_status: string | null;
  rules: string;
  all_pass: boolean;
  checks: { name: string; label: string; value: unknown; passed: boolean; detail: string }[];
  metrics: Record<string, unknown>;
}

const PROJECT = fakeProject("Competition");

/** A task as the competition's training script reports it: three titles, argparse parameters. */
const run = (name: string, seg: number, pde: number, train: number, subStep: string, extra: { status?: string; params?: Record<string, string> } = {}) =>
  fakeTask({
    name,
    project: PROJECT.id,
    status: extra.status ?? "completed",
    metrics: { Score: { seg_total: seg }, PDE: { pde_mean: pde }, Time: { train_time_min: train } },
    params: extra.params ?? { "Args/--sub_step": subStep, "Args/lr": "0.001" },
  });

const PASSING = run("passing", 0.8, 16.2, 42, "2");
const FAILING = run("failing", 0.6, 19.5, 42, "0");
// argparse-bound parameters may be stored without dashes.
const NO_DASHES = run("no-dashes", 0.7, 17, 30, "", { params: { "Args/sub_step": "3" } });
const TARGET = fakeTask({ name: "target", project: PROJECT.id, status: "in_progress" });
const TARGET_ALL = fakeTask({ name: "target-all", project: PROJECT.id, status: "in_progress" });
const PUBLISHED = run("published", 0.9, 12, 20, "1", { status: "published" });
// The run on ClearML: every metric and parameter passes, but it was stopped early.
const STOPPED = run("stopped", 0.85, 15, 12, "2", { status: "stopped" });
const UNKNOWN_ID = "0123456789abcdef0123456789abcdef";

let fake: FakeClearml;

beforeAll(async () => {
  fake = await FakeClearml.start({ projects: [PROJECT], tasks: [PASSING, FAILING, NO_DASHES, TARGET, TARGET_ALL, PUBLISHED, STOPPED] });
});
afterEach(() => fake.assertClean());
afterAll(() => fake.close());

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey, NO_COLOR: "1", ...extra };
}

function cli(args: readonly string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<CliResult> {
  return runInProcess(args, { env: options.env ?? env(), cwd: options.cwd });
}

/** {@link cli}, spawned from the built binary. */
function spawned(args: readonly string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<CliResult> {
  return runCliAsync(args, { env: options.env ?? env(), cwd: options.cwd });
}

function jsonError(stderr: string): { code: string; message: string } {
  return (JSON.parse(stderr) as { error: { code: string; message: string } }).error;
}

function audit(stdout: string): AuditJson {
  return JSON.parse(stdout) as AuditJson;
}

// ---------------------------------------------------------------- audit validate --task-id

describe("expflow audit validate --task-id", () => {
  it("a task meeting the competition rules: exit 0, its metrics shown as coming from ClearML", async () => {
    const r = await spawned(["audit", "validate", "submission-1", "--competition-rules", "--task-id", PASSING.id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^Experiment +submission-1$/m);
    expect(r.stdout).toContain(`from ClearML task ${PASSING.id} on ${fake.url}`);
    expect(r.stdout).toMatch(/^Status +completed$/m);
    expect(r.stdout).toContain("PASS: all 5 checks pass.");
    expect(r.stdout).toMatch(/^PASS +pde_mean < 18\.09 +16\.2 /m);
  });

  it("--json: the verdict, every check and the task's metrics (the label need not exist locally)", async () => {
    const r = await cli(["audit", "validate", "submission-1", "--competition-rules", "--task-id", PASSING.id, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = audit(r.stdout);
    expect(out.experiment_id).toBe("submission-1");
    expect(out.rules).toBe("pdebench");
    expect(out.all_pass).toBe(true);
    expect(out.status).toBe("completed");
    expect(out.clearml_status).toBe("completed");
    expect(out.checks.map((c) => [c.name, c.value, c.passed])).toEqual([
      ["status", "completed", true],
      ["seg_total", 0.8, true],
      ["pde_mean", 16.2, true],
      ["train_time_min", 42, true],
      ["sub_step", "2", true],
    ]);
    expect(out.metrics).toMatchObject({ seg_total: 0.8, pde_mean: 16.2, train_time_min: 42 });
  });

  it("a task breaking the rules: exit 1 naming what fails", async () => {
    const r = await cli(["audit", "validate", "submission-2", "--competition-rules", "--task-id", FAILING.id, "--json"]);
    expect(r.code, r.stderr).toBe(1);
    const out = audit(r.stdout);
    expect(out.all_pass).toBe(false);
    expect(out.checks.filter((c) => !c.passed).map((c) => [c.name, c.value])).toEqual([
      ["pde_mean", 19.5],
      ["sub_step", "0"],
    ]);
    const t = await cli(["audit", "validate", "submission-2", "--task-id", FAILING.id]);
    expect(t.code).toBe(1);
    expect(t.stdout).toContain("FAIL: 2 of 5 checks fail.");
    expect(t.stdout).toContain("19.5 is not < 18.09");
  });

  it("a parameter stored without dashes (Args/sub_step) is found", async () => {
    const r = await cli(["audit", "validate", "x", "--task-id", NO_DASHES.id, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(audit(r.stdout).checks.at(-1)).toMatchObject({ name: "sub_step", value: "3", passed: true });
  });

  it("--junit FILE: one testcase per check, the task named as the metrics' source", async () => {
    const dir = tempDir();
    const r = await cli(["audit", "validate", "submission-2", "--task-id", FAILING.id, "--junit", "reports/junit.xml"], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    const xml = readFileSync(join(dir, "reports", "junit.xml"), "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", isArray: (name) => name === "testcase" || name === "property" });
    const suite = (parser.parse(xml) as { testsuites: { testsuite: Record<string, unknown> } }).testsuites.testsuite as {
      "@name": string;
      "@tests": string;
      "@failures": string;
      properties: { property: { "@name": string; "@value": string }[] };
      testcase: { "@classname": string; "@name": string; failure?: unknown }[];
    };
    expect(suite["@name"]).toBe("pdebench");
    expect(suite["@tests"]).toBe("5");
    expect(suite["@failures"]).toBe("2");
    expect(suite.testcase.every((c) => c["@classname"] === "submission-2")).toBe(true);
    expect(suite.testcase.filter((c) => c.failure !== undefined).map((c) => c["@name"])).toEqual(["pde_mean < 18.09", "sub_step is an integer >= 1"]);
    const props = Object.fromEntries(suite.properties.property.map((p) => [p["@name"], p["@value"]]));
    expect(props["metrics_source"]).toBe(`ClearML task ${FAILING.id} on ${fake.url}`);
    expect(props["experiment_id"]).toBe("submission-2");

    const ok = await cli(["audit", "validate", "submission-1", "--task-id", PASSING.id, "--junit", "ok.xml", "--json"], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(readFileSync(join(dir, "ok.xml"), "utf8")).toContain('failures="0"');
  });

  it("a stopped task whose metrics pass fails (exit 1): its status comes from the task, shown in every output", async () => {
    const dir = tempDir();
    const r = await cli(["audit", "validate", "submission-3", "--competition-rules", "--task-id", STOPPED.id, "--junit", "j.xml"], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^Status +cancelled \(ClearML status stopped\)$/m);
    expect(r.stdout).toMatch(/^FAIL +status is completed +cancelled +the run's status is cancelled \(stopped\), not completed$/m);
    expect(r.stdout).toContain("FAIL: 1 of 5 checks fail.");
    const props = readFileSync(join(dir, "j.xml"), "utf8");
    expect(props).toContain('<property name="status" value="cancelled"/>');
    expect(props).toContain('<property name="clearml_status" value="stopped"/>');
    expect(props).toContain(`<failure message="the run&apos;s status is cancelled (stopped), not completed" type="status">`);

    const j = await cli(["audit", "validate", "submission-3", "--task-id", STOPPED.id, "--json"]);
    expect(j.code).toBe(1);
    const out = audit(j.stdout);
    expect([out.status, out.clearml_status]).toEqual(["cancelled", "stopped"]);
    expect(out.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(["status"]);

    const report = await cli(["audit", "report", "submission-3", "--task-id", STOPPED.id]);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain("| Status | cancelled \\(ClearML status stopped\\) |");
    expect(report.stdout).toContain("## Validation: FAIL");
  });

  it("a published task is completed: it passes the status rule, and says it was published", async () => {
    const r = await cli(["audit", "validate", "submission-4", "--task-id", PUBLISHED.id, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = audit(r.stdout);
    expect([out.status, out.clearml_status]).toEqual(["completed", "published"]);
    expect(out.checks[0]).toEqual({ name: "status", label: "status is completed", value: "completed", passed: true, detail: "the run's status is completed (published)" });
  });

  it("costs at most 2 requests besides the one login (never one per metric or parameter)", async () => {
    fake.resetCounts();
    const r = await cli(["audit", "validate", "submission-1", "--task-id", PASSING.id, "--json"]);
    expect(r.code).toBe(0);
    expect(fake.count("auth.login")).toBe(1);
    expect(fake.count() - fake.count("auth.login")).toBeLessThanOrEqual(2);
  });

  it("an unknown task id: exit 2 E_TASK_NOT_FOUND", async () => {
    const r = await cli(["audit", "validate", "x", "--task-id", UNKNOWN_ID]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`no ClearML task '${UNKNOWN_ID}' on ${fake.url}`);
    const j = await cli(["audit", "validate", "x", "--task-id", UNKNOWN_ID, "--json"]);
    expect(j.code).toBe(2);
    expect(jsonError(j.stderr).code).toBe("E_TASK_NOT_FOUND");
  });

  it("ClearML not configured: exit 4, whatever the label", async () => {
    const r = await cli(["audit", "validate", "x", "--task-id", PASSING.id, "--json"], { env: { NO_COLOR: "1" } });
    expect(r.code).toBe(4);
    expect(jsonError(r.stderr).code).toBe("E_CLEARML_NOT_CONFIGURED");
  });
});

// ---------------------------------------------------------------- records linked to a task

describe("expflow audit of a local record linked to a ClearML task (clearml_task_id)", () => {
  // Local metrics that are stale: they would give the opposite verdict.
  const stalePassing = { seg_total: 0.9, pde_mean: 10, train_time_min: 5 };
  const staleFailing = { seg_total: 0.1, pde_mean: 99, train_time_min: 500 };

  function registry(): { dir: string; path: string } {
    const dir = tempDir();
    const path = writeRegistry(
      [
        record("exp-linkedpass", staleFailing, { clearml_task_id: PASSING.id, params: { "Args/--sub_step": "0" } }),
        record("exp-linkedfail", stalePassing, { clearml_task_id: FAILING.id, params: { "Args/--sub_step": "5" } }),
        record("exp-unlinked", stalePassing, { params: { "Args/--sub_step": "5" } }),
      ],
      dir,
    );
    return { dir, path };
  }

  it("is audited with the task's metrics and parameters, not the stale local ones", async () => {
    const { path } = registry();
    const pass = await cli(["audit", "validate", "exp-linkedpass", "--registry", path, "--json"]);
    expect(pass.code, pass.stderr).toBe(0);
    const p = audit(pass.stdout);
    expect(p.experiment_id).toBe("exp-linkedpass");
    expect(p.metrics).toMatchObject({ pde_mean: 16.2, seg_total: 0.8, train_time_min: 42 });
    expect(p.checks.at(-1)).toMatchObject({ value: "2", passed: true });

    const fail = await cli(["audit", "validate", "exp-linkedfail", "--registry", path, "--json"]);
    expect(fail.code, fail.stderr).toBe(1);
    expect(audit(fail.stdout).metrics).toMatchObject({ pde_mean: 19.5 });

    const text = await cli(["audit", "validate", "exp-linkedpass", "--registry", path]);
    expect(text.stdout).toContain(`from ClearML task ${PASSING.id}`);
  });

  it("takes the status from the task, not from the stale local record: a stopped task fails though the record says completed", async () => {
    const dir = tempDir();
    const path = writeRegistry([record("exp-linkedstop", stalePassing, { clearml_task_id: STOPPED.id, status: "completed" })], dir);
    const r = await cli(["audit", "validate", "exp-linkedstop", "--registry", path, "--json"]);
    expect(r.code, r.stderr).toBe(1);
    const out = audit(r.stdout);
    expect([out.status, out.clearml_status]).toEqual(["cancelled", "stopped"]);
    expect(out.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(["status"]);
  });

  it("an unlinked record needs no ClearML at all", async () => {
    const { path } = registry();
    fake.resetCounts();
    const r = await cli(["audit", "validate", "exp-unlinked", "--registry", path], { env: { NO_COLOR: "1" } });
    expect(r.code, r.stderr).toBe(0);
    expect(fake.count()).toBe(0);
  });

  it("a linked record when ClearML is not configured: exit 4, saying why ClearML is needed", async () => {
    const { path } = registry();
    const r = await cli(["audit", "validate", "exp-linkedpass", "--registry", path], { env: { NO_COLOR: "1" } });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`experiment exp-linkedpass is linked to ClearML task ${PASSING.id}`);
    expect(r.stderr).toContain("ClearML is not configured");
  });

  it("a linked record whose task is gone: exit 2", async () => {
    const dir = tempDir();
    const path = writeRegistry([record("exp-gone", stalePassing, { clearml_task_id: UNKNOWN_ID })], dir);
    const r = await cli(["audit", "validate", "exp-gone", "--registry", path, "--json"]);
    expect(r.code).toBe(2);
    expect(jsonError(r.stderr)).toMatchObject({ code: "E_TASK_NOT_FOUND" });
    expect(jsonError(r.stderr).message).toContain("exp-gone is linked to ClearML task");
  });

  it("audit report of a linked record shows the task's metrics", async () => {
    const { path } = registry();
    const r = await cli(["audit", "report", "exp-linkedpass", "--registry", path]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("## Validation: PASS");
    expect(r.stdout).toContain("| pde\\_mean | 16.2 |");
    expect(r.stdout).not.toContain("| pde\\_mean | 99 |");
  });

  it("a linked record when ClearML refuses the credentials: exit 4 naming the link, and no secret printed", async () => {
    const { path } = registry();
    const wrong = "wrong-s3cr#t$//x";
    const r = await cli(["audit", "validate", "exp-linkedpass", "--registry", path, "--verbose"], { env: env({ CLEARML_API_SECRET_KEY: wrong }) });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`experiment exp-linkedpass is linked to ClearML task ${PASSING.id}`);
    expect(r.stderr).toContain("the credentials were refused");
    for (const s of [fake.accessKey, wrong]) expect(r.stderr + r.stdout).not.toContain(s);
  });
});

// ---------------------------------------------------------------- audit report --task-id

describe("expflow audit report --task-id", () => {
  it("a Markdown report with the task's verdict, parameters and metrics", async () => {
    const r = await cli(["audit", "report", "submission-2", "--task-id", FAILING.id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("submission-2");
    expect(r.stdout).toContain("## Validation: FAIL");
    expect(r.stdout).toContain("| Name | failing |");
    // Markdown-escaped (`\_`), straight from the task's hyperparams and last_metrics.
    expect(r.stdout).toMatch(/## Parameters\n\n\| Parameter \| Value \|\n\| --- \| --- \|\n\| Args\/--sub\\_step \| 0 \|\n\| Args\/lr \| 0\.001 \|\n/);
    expect(r.stdout).toMatch(/## Metrics\n\n\| Metric \| Value \|\n\| --- \| --- \|\n\| pde\\_mean \| 19\.5 \|\n\| seg\\_total \| 0\.6 \|\n\| train\\_time\\_min \| 42 \|\n/);
    // Markdown tables, no colour codes.
    expect(r.stdout).toMatch(/^\| .* \|$/m);
    expect(r.stdout).not.toContain("\u001b[");
  });

  it("--output FILE writes it and says where", async () => {
    const dir = tempDir();
    const r = await cli(["audit", "report", "submission-1", "--task-id", PASSING.id, "--output", "report.md"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("(PASS) written to");
    const text = readFileSync(join(dir, "report.md"), "utf8");
    expect(text).toContain("## Validation: PASS");
    expect(text).toContain("16.2");
  });

  it("an unknown task id: exit 2", async () => {
    const r = await cli(["audit", "report", "x", "--task-id", UNKNOWN_ID]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
  });
});

// ---------------------------------------------------------------- metrics report --task-id

describe("expflow metrics report --task-id", () => {
  /** The value ClearML now holds as the last value of `metric`/`variant` on `taskId`. */
  function lastValue(taskId: string, metric: string, variant: string): number | undefined {
    return fake.tasks.find((t) => t.id === taskId)?.last_metrics[md5(metric)]?.[md5(variant)]?.value;
  }

  it("sends the values as scalars in one events.add_batch: metric = the registry group, variant = the name, iteration 0", async () => {
    fake.resetCounts();
    const before = fake.events.length;
    const r = await spawned(["metrics", "report", "--task-id", TARGET.id, "pde_mean=16.2", "seg_total=0.8"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`to ClearML task ${TARGET.id}`);
    expect(r.stdout).toContain("PDE/pde_mean=16.2");
    expect(r.stdout).toContain("Score/seg_total=0.8");
    expect(fake.count("events.add_batch")).toBe(1);
    expect(fake.requests.find((q) => q.endpoint === "events.add_batch")!.contentType).toMatch(/^application\/json-lines/);
    const events = fake.events.slice(before);
    expect(events).toHaveLength(2);
    const byVariant = Object.fromEntries(events.map((e) => [e["variant"], e]));
    expect(byVariant["pde_mean"]).toMatchObject({ type: "training_stats_scalar", task: TARGET.id, metric: "PDE", variant: "pde_mean", value: 16.2, iter: 0 });
    expect(byVariant["seg_total"]).toMatchObject({ type: "training_stats_scalar", task: TARGET.id, metric: "Score", variant: "seg_total", value: 0.8, iter: 0 });
    for (const e of events) expect(typeof e["timestamp"]).toBe("number");
    expect(lastValue(TARGET.id, "PDE", "pde_mean")).toBe(16.2);
    expect(lastValue(TARGET.id, "Score", "seg_total")).toBe(0.8);

    // ...and the reported values are read back as the task's metrics.
    const back = await cli(["audit", "validate", "t", "--task-id", TARGET.id, "--json"]);
    expect(audit(back.stdout).metrics).toMatchObject({ pde_mean: 16.2, seg_total: 0.8 });
  });

  it("every standard group: Score, Loss, PDE, Time, Model, Training; 0 and negative values travel", async () => {
    const groups: Record<string, string> = { seg1: "Score", val_mse: "Loss", pde_seg2: "PDE", train_time_min: "Time", arch_params: "Model", epochs: "Training" };
    const values: Record<string, number> = { seg1: 0, val_mse: 0.25, pde_seg2: -1.5, train_time_min: 41, arch_params: 1200000, epochs: 3 };
    const before = fake.events.length;
    const r = await cli(["metrics", "report", "--task-id", TARGET_ALL.id, ...Object.entries(values).map(([k, v]) => `${k}=${v}`), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { task_id: string; server: string; iteration: number; scalars: { metric: string; variant: string; value: number }[] };
    expect(out).toMatchObject({ task_id: TARGET_ALL.id, server: fake.url, iteration: 0 });
    expect(Object.fromEntries(out.scalars.map((s) => [s.variant, s.metric]))).toEqual(groups);
    const events = fake.events.slice(before);
    expect(Object.fromEntries(events.map((e) => [e["variant"], e["metric"]]))).toEqual(groups);
    expect(Object.fromEntries(events.map((e) => [e["variant"], e["value"]]))).toEqual(values);
    for (const [name, value] of Object.entries(values)) expect(lastValue(TARGET_ALL.id, groups[name]!, name)).toBe(value);
  });

  it("a value the registry refuses is exit 2 and no request at all reaches ClearML", async () => {
    for (const bad of [["pde_mean=abc"], ["pde_mean=NaN"], ["pde_mean=Infinity"], ["pde_mean="], ["no such=1"], ["seg_total=0.8", "pde_mean=abc"], ["pde_mean"]]) {
      fake.resetCounts();
      const r = await cli(["metrics", "report", "--task-id", TARGET.id, ...bad]);
      expect(r.code, `${bad.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^error: /m);
      expect(fake.count(), bad.join(" ")).toBe(0);
    }
    fake.resetCounts();
    const j = await cli(["metrics", "report", "--task-id", TARGET.id, "pde_mean=NaN", "--json"]);
    expect(j.code).toBe(2);
    expect(jsonError(j.stderr).message).toContain("pde_mean");
    const none = await cli(["metrics", "report", "--task-id", TARGET.id]);
    expect(none.code).toBe(2);
    expect(fake.count()).toBe(0);
  });

  it("an unknown task: exit 2, nothing sent", async () => {
    fake.resetCounts();
    const r = await cli(["metrics", "report", "--task-id", UNKNOWN_ID, "pde_mean=16.2", "--json"]);
    expect(r.code).toBe(2);
    expect(jsonError(r.stderr).code).toBe("E_TASK_NOT_FOUND");
    expect(fake.count("events.add_batch")).toBe(0);
  });

  it("a published task: exit 2 and no events.add_batch", async () => {
    fake.resetCounts();
    const before = fake.events.length;
    const r = await cli(["metrics", "report", "--task-id", PUBLISHED.id, "pde_mean=16.2"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is published");
    expect(fake.count("events.add_batch")).toBe(0);
    expect(fake.events.length).toBe(before);
    expect(lastValue(PUBLISHED.id, "PDE", "pde_mean")).toBe(12);
  });

  it("--verbose logs the requests, never the credentials", async () => {
    fake.resetCounts();
    const r = await cli(["metrics", "report", "--task-id", TARGET.id, "epochs=4", "--verbose"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines.map((l) => /^clearml: (\S+) -> (\d+)/.exec(l)?.slice(1).join(" "))).toEqual(fake.requests.map((q) => `${q.endpoint} ${q.status}`));
    expect(lines.at(-1)).toMatch(/^clearml: events\.add_batch -> 200 /);
    for (const s of [fake.accessKey, fake.secretKey]) expect(r.stderr + r.stdout).not.toContain(s);
    expect(r.stderr).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
  });

  it("a lost answer to events.add_batch is not retried (a write): exit 4", async () => {
    fake.resetCounts();
    const before = fake.events.length;
    fake.malformNext("events.add_batch", "drop");
    const r = await cli(["metrics", "report", "--task-id", TARGET.id, "epochs=5"]);
    expect(r.code).toBe(4);
    expect(fake.count("events.add_batch")).toBe(1);
    // The server applied it; the client cannot know, and says it could not reach ClearML.
    expect(fake.events.length).toBe(before + 1);
  });
});
