// Every `--json` output of the built CLI, validated against its contract (src/contracts): each
// command that has `--json` runs on data that exercises its fields (ClearML ones against the fake
// server), and every error under `--json` fits the one error object. The contracts are strict, so
// a field added, removed, renamed or retyped in an output fails here. The last tests fail when a
// command with `--json` has no contract in JSON_OUTPUTS, or a contract was never exercised.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { JsonOutput } from "../../src/contracts/index.js";
import { JSON_ERROR_OUTPUT, JSON_OUTPUTS, RunRecordSchema } from "../../src/contracts/index.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask } from "../../fake-clearml/tasks.js";
import type { CliResult } from "../helpers/cli.js";
import { record, runCliAsync, tempDir, writeRegistry } from "../helpers/cli.js";
import { openApprovals } from "../../src/app/approvals.js";

// ---------------------------------------------------------------- ClearML's side

const day = (d: number): string => `2025-02-${String(d).padStart(2, "0")}T00:00:00.000Z`;
const scores = (seg: number, pde: number, train: number) => ({ Score: { seg_total: seg }, PDE: { pde_mean: pde }, Time: { train_time_min: train } });
const PROJECT = fakeProject("Contracts");
const SUB = fakeProject("Contracts/sub");
const AMBIG = fakeProject("Ambig");
const T_DONE = fakeTask({ name: "done", project: PROJECT.id, status: "completed", tags: ["final"], created: day(1), metrics: scores(0.81, 16.5, 40), params: { "Args/--sub_step": "2", "Args/--lr": "3e-4" } });
const T_PUBLISHED = fakeTask({ name: "published", project: PROJECT.id, status: "published", created: day(2), metrics: scores(0.7, 18.5, 50) });
const T_STOPPED = fakeTask({ name: "stopped", project: PROJECT.id, status: "stopped", created: day(3), metrics: scores(0.9, 9, 10) });
const T_RUNNING = fakeTask({ name: "running", project: PROJECT.id, status: "in_progress", created: day(4), metrics: { PDE: { pde_mean: 15 } } });
const T_ARCHIVED = fakeTask({ name: "archived", project: PROJECT.id, status: "completed", archived: true, created: day(5), metrics: scores(0.95, 10, 20) });
const T_SUB = fakeTask({ name: "sub", project: SUB.id, status: "closed", created: day(6), metrics: scores(0.5, 17, 30) });
const T_CREATED = fakeTask({ name: "created", project: PROJECT.id, status: "created", created: day(7) });
const T_AMBIG = fakeTask({ name: "ambiguous", project: AMBIG.id, created: day(8), metrics: { Score: { seg_total: 0.8 }, Loss: { seg_total: 0.1 }, PDE: { pde_mean: 16 } } });

let fake: FakeClearml;
beforeAll(async () => {
  fake = await FakeClearml.start({ projects: [PROJECT, SUB, AMBIG], tasks: [T_DONE, T_PUBLISHED, T_STOPPED, T_RUNNING, T_ARCHIVED, T_SUB, T_CREATED, T_AMBIG] });
});
afterAll(() => fake.close());

// ---------------------------------------------------------------- the local side

const PIN = "482615";
const NODE = process.execPath;

/** A registry with every kind of record: passing, failing, missing a metric, unfinished, archived, superseded, the earlier tool's, linked to ClearML. */
function registryFile(): string {
  return writeRegistry([
    record("exp-pass0001", { seg_total: 0.9, pde_mean: 15, train_time_min: 30 }, { tags: ["task1", "final"], project: "PDE", params: { "Args/--sub_step": "2" } }),
    record("exp-fail0002", { seg_total: 0.4, pde_mean: 19.5, train_time_min: 70 }, { project: "PDE", params: { "Args/--sub_step": "0" } }),
    record("exp-miss0003", { seg_total: 0.7, train_time_min: 20 }, { project: "PDE" }),
    record("exp-runn0004", { pde_mean: 12 }, { status: "running", project: "PDE" }),
    record("exp-fail0005", { pde_mean: 11 }, { status: "failed", project: "PDE" }),
    record("exp-arch0006", { pde_mean: 10 }, { project: "PDE", archived: true, rev: 2, updated_at: "2026-10-02T00:00:00.000Z" }),
    '{"experiment_id": "exp-py000007", "name": "legacy", "status": "completed", "project": "PDE", "tags": "task1, old", "timestamp": 1727545330.5, "metrics": {"pde_mean": NaN, "train_time_min": 12, "seg_total": 0.3}, "params": {"Args/--lr": 0.001, "Args/--sub_step": 3}}',
    record("exp-link0008", {}, { clearml_task_id: T_DONE.id, project: "PDE" }),
    record("exp-fail0002", { seg_total: 0.45, pde_mean: 19.25, train_time_min: 70 }, { project: "PDE", params: { "Args/--sub_step": "0" }, rev: 2, updated_at: "2026-10-03T00:00:00.000Z" }),
  ]);
}

const CONFIG = `metrics:
  val_acc:
    direction: higher
    group: Custom
    threshold: 0.9
    unit: "%"
    aliases: [vacc]
    description: validation accuracy
  pde_mean:
    threshold: 20
audit:
  rules: pack.yaml
`;

const PACK = `name: custom
description: a pack that uses every kind of rule
status: {allowed: [completed, failed]}
metrics:
  pde_mean: {threshold: registry}
  val_mse: {op: le, value: 0.01, label: "val_mse small"}
  epochs: {required: false}
  seg_total: {required: true}
  val_acc: {threshold: registry}
params:
  lr: {match: "^Args/--lr$", type: number, min: 0.00001, max: 1}
  model: {match: "model", allowed: [unet, fno], required: false}
  sub_step: {match: "sub_?step", type: integer, min: 1}
`;

let reg: string;
/** No config, no PIN. */
let plain: string;
/** config.yaml (metrics, audit.rules), a PIN, --force allowed by its owner, an audit log. */
let governed: string;
/** A PIN whose owner allows --force, and a config file that forbids it. */
let forbidding: string;
/** An audit log altered after the fact. */
let tampered: string;

type Env = Record<string, string | undefined>;
const clearmlEnv = (): Env => ({ CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey });

function cli(home: string, args: readonly string[], options: { env?: Env; input?: string; cwd?: string } = {}): Promise<CliResult> {
  return runCliAsync(args, { env: { EXPFLOW_HOME: home, NO_COLOR: "1", EXPFLOW_PIN: undefined, EXPFLOW_PIN_HASH: undefined, EXPFLOW_REGISTRY: undefined, ...options.env }, input: options.input, cwd: options.cwd });
}

async function ok(r: Promise<CliResult> | CliResult, code = 0): Promise<CliResult> {
  const done = await r;
  expect(done.code, done.stderr).toBe(code);
  return done;
}

function newHome(): string {
  return join(tempDir(), "home");
}

beforeAll(async () => {
  reg = registryFile();
  plain = newHome();

  governed = newHome();
  mkdirSync(governed, { mode: 0o700 });
  writeFileSync(join(governed, "config.yaml"), CONFIG);
  writeFileSync(join(governed, "pack.yaml"), PACK);
  await ok(cli(governed, ["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` }));
  await ok(cli(governed, ["pin", "policy", "--allow-force", "--pin-stdin"], { input: `${PIN}\n` }));
  await ok(cli(governed, ["pin", "check", "--pin-stdin"], { input: "000000\n" }), 3);

  forbidding = newHome();
  await ok(cli(forbidding, ["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` }));
  await ok(cli(forbidding, ["pin", "policy", "--allow-force", "--pin-stdin"], { input: `${PIN}\n` }));
  writeFileSync(join(forbidding, "config.yaml"), "pin:\n  allow_force: false\n");

  tampered = newHome();
  await ok(cli(tampered, ["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` }));
  await ok(cli(tampered, ["pin", "check", "--pin-stdin"], { input: `${PIN}\n` }));
  const log = join(tampered, "audit.jsonl");
  writeFileSync(log, readFileSync(log, "utf8").replace('"outcome":"allowed"', '"outcome":"no-pin"'));
}, 120_000);

// ---------------------------------------------------------------- validation

/** Outputs validated, by contract: the last test checks that each was exercised. */
const exercised = new Map<JsonOutput, unknown[]>();

/** Standard output is one JSON document (one line, or pretty-printed), and fits `key`'s contract. */
function fits(key: JsonOutput, r: CliResult): unknown {
  expect(r.stdout.endsWith("\n"), `${key}: output ends with a newline`).toBe(true);
  let value: unknown;
  try {
    value = JSON.parse(r.stdout);
  } catch (e) {
    throw new Error(`${key}: standard output is not one JSON document (${(e as Error).message}): ${r.stdout.slice(0, 200)}`);
  }
  const result = JSON_OUTPUTS[key].safeParse(value);
  if (!result.success) throw new Error(`${key} does not fit its contract:\n${z.prettifyError(result.error)}\n${r.stdout.slice(0, 2000)}`);
  exercised.set(key, [...(exercised.get(key) ?? []), value]);
  return value;
}

/** Standard error ends with exactly one error object (warnings may come before it) that fits the contract; returns it. */
function errorFits(r: CliResult, code: string, exit: number): { code: string; message: string; hint: string | null } {
  expect(r.code, r.stderr).toBe(exit);
  const lines = r.stderr.trimEnd().split("\n");
  const last = lines.at(-1)!;
  expect(lines.slice(0, -1).every((l) => l.startsWith("warning: ")), r.stderr).toBe(true);
  const result = JSON_ERROR_OUTPUT.safeParse(JSON.parse(last));
  if (!result.success) throw new Error(`the error does not fit its contract:\n${z.prettifyError(result.error)}\n${last}`);
  expect(result.data.error.code).toBe(code);
  return result.data.error;
}

// ---------------------------------------------------------------- the commands

describe("compare-scores --json", () => {
  it("gates passing, failing and missing; the default status selection leaving runs out", async () => {
    const out = fits("compare-scores", await ok(cli(plain, ["compare-scores", "--registry", reg, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--gate", "train_time_min:lt:60", "--json"]))) as {
      results: { passed: boolean; gates: { reason: string | null }[] }[];
      selection: { excluded: number };
    };
    expect(out.results.some((r) => r.passed)).toBe(true);
    expect(out.results.flatMap((r) => r.gates.map((g) => g.reason))).toEqual(expect.arrayContaining([null, "missing", "not_met"]));
    expect(out.selection.excluded).toBeGreaterThan(0);
  });

  it("--status, --use-thresholds, --then-by, --max, --only-passing, an alias, nothing passing", async () => {
    fits("compare-scores", await ok(cli(plain, ["compare-scores", "--registry", reg, "--sort-by", "pde_mean", "--status", "completed,running,failed", "--use-thresholds", "--then-by", "seg_total", "--max", "3", "--json"])));
    fits("compare-scores", await ok(cli(plain, ["compare-scores", "--registry", reg, "--sort-by", "pde_mean", "--gate", "pde_mean:lt:18.09", "--only-passing", "--include-archived", "--descending", "--json"])));
    fits("compare-scores", await ok(cli(plain, ["compare-scores", "--registry", reg, "--sort-by", "seg_total", "--gate", "pde_mean:lt:0", "--json"]), 1));
    fits("compare-scores", await ok(cli(plain, ["compare-scores", "--registry", reg, "--tags", "nope", "--sort-by", "pde_mean", "--json"]), 1));
  });

  it("--pareto: fronts with gates, a missing objective, --sort-by within a front, --max, nothing passing", async () => {
    const out = fits("compare-scores", await ok(cli(plain, ["compare-scores", "--registry", reg, "--pareto", "pde_mean:min,train_time_min:min", "--status", "completed,running,failed", "--json"]))) as {
      pareto: { metric: string; direction: string }[];
      results: { rank: number | null }[];
    };
    expect(out.pareto).toEqual([
      { metric: "pde_mean", direction: "min" },
      { metric: "train_time_min", direction: "min" },
    ]);
    expect(out.results.filter((r) => r.rank === 1).length).toBeGreaterThan(1);
    fits("compare-scores", await ok(cli(plain, ["compare-scores", "--registry", reg, "--pareto", "seg_total:max,pde_mean:min,train_time_min:min", "--sort-by", "pde_mean", "--descending", "--gate", "pde_mean:lt:18.09", "--then-by", "seg_total", "--max", "2", "--json"])));
    fits("compare-scores", await ok(cli(plain, ["compare-scores", "--registry", reg, "--pareto", "seg_total:max,train_time_min:min", "--gate", "pde_mean:lt:0", "--only-passing", "--json"]), 1));
    errorFits(await cli(plain, ["compare-scores", "--registry", reg, "--pareto", "pde_mean:up,seg_total:max", "--json"]), "E_PARETO_SYNTAX", 2);
    errorFits(await cli(plain, ["compare-scores", "--registry", reg, "--json"]), "E_USAGE", 2);
  });

  it("errors: an unknown option, an unknown metric, a malformed gate, a missing registry", async () => {
    expect(errorFits(await cli(plain, ["compare-scores", "--registry", reg, "--sort-by", "pde_mean", "--gates", "x", "--json"]), "E_USAGE", 2).hint).toBe("Did you mean --gate?");
    errorFits(await cli(plain, ["compare-scores", "--registry", reg, "--sort-by", "pde_mena", "--json"]), "E_UNKNOWN_METRIC", 2);
    errorFits(await cli(plain, ["compare-scores", "--registry", reg, "--sort-by", "pde_mean", "--gate", "pde_mean:lt", "--json"]), "E_GATE_SYNTAX", 2);
    errorFits(await cli(plain, ["compare-scores", "--registry", join(tempDir(), "none.jsonl"), "--sort-by", "pde_mean", "--json"]), "E_REGISTRY_NOT_FOUND", 2);
  });
});

describe("clearml --json", () => {
  it("status: working, not configured, unreachable, credentials refused (the report on standard output every time)", async () => {
    fits("clearml status", await ok(cli(plain, ["clearml", "status", "--json"], { env: clearmlEnv() })));
    const none = await cli(plain, ["clearml", "status", "--json"]);
    expect((fits("clearml status", none) as { configured: boolean }).configured).toBe(false);
    errorFits(none, "E_CLEARML_NOT_CONFIGURED", 4);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const down = await cli(plain, ["clearml", "status", "--json"], { env: { ...clearmlEnv(), CLEARML_API_HOST: `http://127.0.0.1:${port}` } });
    expect(down.code).toBe(4);
    expect((fits("clearml status", down) as { reachable: boolean }).reachable).toBe(false);
    const refused = await cli(plain, ["clearml", "status", "--json"], { env: { ...clearmlEnv(), CLEARML_API_SECRET_KEY: "wrong" } });
    expect(refused.code).toBe(4);
    expect(fits("clearml status", refused)).toMatchObject({ reachable: true, credentials_ok: false });
  });

  it("compare-scores: ClearML statuses, subprojects, archived tasks, qualified names", async () => {
    fits("clearml compare-scores", await ok(cli(plain, ["clearml", "compare-scores", "--project", "Contracts", "--sort-by", "pde_mean", "--use-thresholds", "--json"], { env: clearmlEnv() })));
    fits(
      "clearml compare-scores",
      await ok(cli(plain, ["clearml", "compare-scores", "--project", "Contracts", "--include-subprojects", "--include-archived", "--status", "completed,cancelled,running", "--sort-by", "seg_total", "--gate", "pde_mean:lt:18", "--json"], { env: clearmlEnv() })),
    );
    fits("clearml compare-scores", await ok(cli(plain, ["clearml", "compare-scores", "--project", "Ambig", "--sort-by", "Score/seg_total", "--json"], { env: clearmlEnv() })));
    errorFits(await cli(plain, ["clearml", "compare-scores", "--project", "Ambig", "--sort-by", "seg_total", "--json"], { env: clearmlEnv() }), "E_METRIC_AMBIGUOUS", 2);
    fits("clearml compare-scores", await ok(cli(plain, ["clearml", "compare-scores", "--project", "Contracts", "--status", "completed,cancelled,running", "--pareto", "seg_total:max,train_time_min:min", "--use-thresholds", "--json"], { env: clearmlEnv() })));
    errorFits(await cli(plain, ["clearml", "compare-scores", "--project", "Ambig", "--pareto", "seg_total:max,pde_mean:min", "--json"], { env: clearmlEnv() }), "E_METRIC_AMBIGUOUS", 2);
  });

  it("tasks: every status, archived, a subproject, a metric under two titles", async () => {
    const out = fits("clearml tasks", await ok(cli(plain, ["clearml", "tasks", "--project", "Contracts", "--include-subprojects", "--include-archived", "--json"], { env: clearmlEnv() }))) as {
      experiments: { clearml_status: string | null }[];
    };
    expect(out.experiments).toHaveLength(7);
    fits("clearml tasks", await ok(cli(plain, ["clearml", "tasks", "--project", "Ambig", "--json"], { env: clearmlEnv() })));
    fits("clearml tasks", await ok(cli(plain, ["clearml", "tasks", "--project", "Contracts", "--tags", "nope", "--json"], { env: clearmlEnv() })));
    errorFits(await cli(plain, ["clearml", "tasks", "--project", "Contract", "--json"], { env: clearmlEnv() }), "E_PROJECT_NOT_FOUND", 2);
    errorFits(await cli(plain, ["clearml", "tasks", "--project", "Contracts", "--json"]), "E_CLEARML_NOT_CONFIGURED", 4);
  });

  it("run list --json and clearml tasks --json print the same experiment shape", async () => {
    const tasks = fits("clearml tasks", await ok(cli(plain, ["clearml", "tasks", "--project", "Contracts", "--json"], { env: clearmlEnv() }))) as { experiments: object[] };
    const runs = fits("run list", await ok(cli(plain, ["run", "list", "--registry", reg, "--json"]))) as { experiments: object[] };
    expect(Object.keys(runs)).toEqual(Object.keys(tasks));
    expect(Object.keys(runs.experiments[0]!)).toEqual(Object.keys(tasks.experiments[0]!));
  });
});

describe("metrics --json", () => {
  it("list and show: the standard metrics, a group, one added and one overridden in config", async () => {
    fits("metrics list", await ok(cli(plain, ["metrics", "list", "--json"])));
    fits("metrics list", await ok(cli(plain, ["metrics", "list", "--group", "PDE", "--json"])));
    const mine = fits("metrics list", await ok(cli(governed, ["metrics", "list", "--json"]))) as { name: string; standard: boolean }[];
    expect(mine.find((m) => m.name === "val_acc")).toMatchObject({ standard: false });
    fits("metrics show", await ok(cli(plain, ["metrics", "show", "pde_mean", "--json"])));
    fits("metrics show", await ok(cli(governed, ["metrics", "show", "vacc", "--json"])));
    errorFits(await cli(plain, ["metrics", "show", "pde_mena", "--json"]), "E_UNKNOWN_METRIC", 2);
    errorFits(await cli(plain, ["metrics", "list", "--group", "Nope", "--json"]), "E_UNKNOWN_GROUP", 2);
  });

  it("report: to a local run (its record), to a ClearML task (the scalars sent)", async () => {
    const r = registryFile();
    fits("metrics report", await ok(cli(plain, ["metrics", "report", "exp-pass", "pde_mean=14.5", "epochs=50", "--registry", r, "--json"])));
    fits("metrics report --task-id", await ok(cli(plain, ["metrics", "report", "--task-id", T_RUNNING.id, "seg_total=0.75", "pde_mean=14", "--json"], { env: clearmlEnv() })));
    errorFits(await cli(plain, ["metrics", "report", "exp-pass", "pde_mean=x", "--registry", r, "--json"]), "E_METRIC_VALIDATION", 2);
    errorFits(await cli(plain, ["metrics", "report", "--task-id", T_PUBLISHED.id, "pde_mean=1", "--json"], { env: clearmlEnv() }), "E_TASK_PUBLISHED", 2);
    // A custom metric (not registered) is kept in the record.
    fits("metrics report", await ok(cli(plain, ["metrics", "report", "exp-pass", "val_loss=0.25", "--registry", r, "--json"])));
  });

  it("add: the file written and the metric's definition; a name that is already a metric is an error", async () => {
    const home = newHome();
    const cwd = tempDir();
    const added = fits("metrics add", await ok(cli(home, ["metrics", "add", "val_loss", "--direction", "lower", "--threshold", "0.2", "--unit", "nats", "--json"], { cwd }))) as { file: string; created: boolean };
    expect(added).toMatchObject({ file: join(home, "config.yaml"), created: true });
    fits("metrics add", await ok(cli(home, ["metrics", "add", "top5", "--direction", "higher", "--group", "Score", "--description", "top-5 accuracy", "--json"], { cwd })));
    errorFits(await cli(home, ["metrics", "add", "pde_mean", "--direction", "lower", "--json"], { cwd }), "E_METRIC_EXISTS", 2);
    errorFits(await cli(home, ["metrics", "add", "val_loss", "--direction", "lower", "--json"], { cwd }), "E_METRIC_EXISTS", 2);
  });
});

describe("run --json", () => {
  it("submit: the queued record; with --wait, the final record of a completed and of a failed run", async () => {
    const r = join(tempDir(), "runs.jsonl");
    const home = newHome();
    const queued = fits("run submit", await ok(cli(home, ["run", "submit", "--registry", r, "--name", "n", "--project", "P", "--tags", "a,b", "--arg", "lr=3e-4", "--json", "--", NODE, "-e", "1"]))) as { experiment_id: string };
    fits("run status", await ok(cli(home, ["run", "status", queued.experiment_id, "--registry", r, "--json"])));

    const dir = tempDir();
    const script = join(dir, "train.mjs");
    writeFileSync(
      script,
      `import { appendFileSync } from "node:fs";
const f = process.env.EXPFLOW_METRICS_FILE;
appendFileSync(f, JSON.stringify({ pde_mean: 16.25, seg_total: 0.5 }) + "\\n");
appendFileSync(f, '{"seg1": NaN, "not_a_metric": 1}\\n');
process.exit(Number(process.argv[2] ?? 0));
`,
    );
    const done = fits("run submit --wait", await ok(cli(home, ["run", "submit", "--registry", r, "--wait", "--shell", "--json", "--", NODE, script], { cwd: dir }))) as Record<string, unknown>;
    expect(done).toMatchObject({ status: "completed", exit_code: 0 });
    expect(done["rejected_metrics"]).toHaveLength(1);
    const failed = fits("run submit --wait", await ok(cli(home, ["run", "submit", "--registry", r, "--wait", "--json", "--", NODE, script, "3"], { cwd: dir }), 1)) as Record<string, unknown>;
    expect(failed).toMatchObject({ status: "failed", exit_code: 3, reason: "exit code 3" });
    // An expflow-written run's status is the whole run record, every field fixed.
    const status = fits("run status", await ok(cli(home, ["run", "status", String(failed["experiment_id"]), "--registry", r, "--json"])));
    expect(RunRecordSchema.safeParse(status).success).toBe(true);

    expect(errorFits(await cli(home, ["run", "submit", "--registry", r, "--queue", " ", "--json", "--", "true"]), "E_USAGE", 2).hint).toBeNull();
  });

  it("submit --clearml: the dispatched record; sync: with nothing linked, then the report of what moved", async () => {
    const r = join(tempDir(), "runs.jsonl");
    const home = newHome();
    const env = { ...clearmlEnv(), CLEARML_CONFIG_FILE: join(home, "none.conf"), CLEARML_WEB_HOST: "https://app.example" };
    writeFileSync(r, "");
    const nothing = fits("run sync", await ok(cli(home, ["run", "sync", "--registry", r, "--json"], { env }))) as { server: string | null };
    expect(nothing.server).toBeNull();
    const sent = fits("run submit", await ok(cli(home, ["run", "submit", "--clearml", "--no-repo", "--registry", r, "--project", "Contracts", "--name", "dispatched", "--arg", "lr=3e-4", "--json", "--", NODE, "-e", "1"], { env, cwd: tempDir() }))) as Record<string, unknown>;
    expect(sent).toMatchObject({ method: "clearml", status: "queued", queue: "default" });
    const task = fake.tasks.find((t) => t.id === sent["clearml_task_id"])!;
    task.status = "completed";
    task.status_reason = "worker execution done";
    task.last_metrics = T_DONE.last_metrics;
    const report = fits("run sync", await ok(cli(home, ["run", "sync", "--registry", r, "--json"], { env }))) as { moved: unknown[]; metricsImported: number };
    expect(report.moved).toHaveLength(1);
    expect(report.metricsImported).toBe(3);
    fits("run status", await ok(cli(home, ["run", "status", String(sent["experiment_id"]), "--registry", r, "--json"], { env })));
  });

  it("retry: the runs made from a cancelled run", async () => {
    const r = join(tempDir(), "runs.jsonl");
    writeFileSync(r, `${JSON.stringify({ experiment_id: "exp-cancelled", status: "cancelled", argv: [NODE, "-e", "1"], command: "node -e 1", cwd: tempDir(), queue: "default" })}\n`);
    const made = fits("run retry", await ok(cli(newHome(), ["run", "retry", "exp-cancelled", "--registry", r, "--json"]))) as { retried: unknown[] };
    expect(made.retried).toHaveLength(1);
  });

  it("list: the experiment list (archived included, nothing matching), and --raw the records", async () => {
    fits("run list", await ok(cli(plain, ["run", "list", "--registry", reg, "--json"])));
    fits("run list", await ok(cli(plain, ["run", "list", "--registry", reg, "--include-archived", "--json"])));
    fits("run list", await ok(cli(plain, ["run", "list", "--registry", reg, "--project", "Nope", "--json"])));
    fits("run list --raw", await ok(cli(plain, ["run", "list", "--registry", reg, "--include-archived", "--raw"])));
    fits("run list --raw", await ok(cli(plain, ["run", "list", "--registry", reg, "--status", "failed", "--raw", "--json"])));
    errorFits(await cli(plain, ["run", "list", "--registry", reg, "--status", "runing", "--json"]), "E_UNKNOWN_STATUS", 2);
  });

  it("status: the earlier tool's record as it is; unknown and ambiguous ids", async () => {
    fits("run status", await ok(cli(plain, ["run", "status", "exp-py", "--registry", reg, "--json"])));
    fits("run status", await ok(cli(plain, ["run", "status", "exp-fail0002", "--registry", reg, "--json"])));
    errorFits(await cli(plain, ["run", "status", "exp-zzz", "--registry", reg, "--json"]), "E_EXPERIMENT_NOT_FOUND", 2);
    errorFits(await cli(plain, ["run", "status", "exp-fail", "--registry", reg, "--json"]), "E_AMBIGUOUS_ID", 2);
  });

  it("diff: two runs, the earlier tool's record (NaN, numeric params) among three with --all, runs that do not differ; a run named twice, unknown and ambiguous ids", async () => {
    const two = fits("run diff", await ok(cli(plain, ["run", "diff", "exp-pass", "exp-fail0002", "--registry", reg, "--json"]))) as { rows: { kind: string }[] };
    expect(new Set(two.rows.map((r) => r.kind))).toEqual(new Set(["field", "param", "metric"]));
    fits("run diff", await ok(cli(plain, ["run", "diff", "exp-pass", "exp-py", "exp-miss", "--registry", reg, "--all", "--json"])));
    // Linked to ClearML, compared as last synced.
    fits("run diff", await ok(cli(plain, ["run", "diff", "exp-link", "exp-arch", "--registry", reg, "--offline", "--json"])));
    const same = writeRegistry([record("exp-a", { pde_mean: 1 }), record("exp-b", { pde_mean: 1 }, { name: "run-exp-a" })]);
    expect(fits("run diff", await ok(cli(plain, ["run", "diff", "exp-a", "exp-b", "--registry", same, "--json"])))).toMatchObject({ rows: [], differing: 0 });
    errorFits(await cli(plain, ["run", "diff", "exp-pass", "exp-pass0001", "--registry", reg, "--json"]), "E_SAME_RUN", 2);
    errorFits(await cli(plain, ["run", "diff", "exp-pass", "exp-zzz", "--registry", reg, "--json"]), "E_EXPERIMENT_NOT_FOUND", 2);
    errorFits(await cli(plain, ["run", "diff", "exp-pass", "exp-fail", "--registry", reg, "--json"]), "E_AMBIGUOUS_ID", 2);
    errorFits(await cli(plain, ["run", "diff", "exp-pass", "--registry", reg, "--json"]), "E_USAGE", 2);
  });

  it("commands without --json say so as a JSON error", async () => {
    errorFits(await cli(plain, ["run", "cancel", "exp-runn0004", "--registry", reg, "--json"]), "E_USAGE", 2);
    errorFits(await cli(plain, ["run", "archive", "exp-pass0001", "--registry", reg, "--json"]), "E_USAGE", 2);
  });
});

describe("registry check --json", () => {
  it("healthy and damaged", async () => {
    fits("registry check", await ok(cli(plain, ["registry", "check", "--registry", reg, "--json"])));
    const damaged = writeRegistry([record("exp-1", {}), "{not json", '{"name": "no id"}', record("exp-2", {})]);
    const out = fits("registry check", await ok(cli(plain, ["registry", "check", "--registry", damaged, "--json"]), 1)) as { damaged: unknown[] };
    expect(out.damaged).toHaveLength(2);
    errorFits(await cli(plain, ["registry", "check", "--registry", join(tempDir(), "none.jsonl"), "--json"]), "E_REGISTRY_NOT_FOUND", 2);
  });
});

describe("config show --json", () => {
  it("defaults only; a config file with metrics and a rule pack; one that forbids --force", async () => {
    fits("config show", await ok(cli(plain, ["config", "show", "--json"])));
    const mine = fits("config show", await ok(cli(governed, ["config", "show", "--json"]))) as { metrics: Record<string, unknown>; pin: { allow_force: { value: boolean } } };
    expect(Object.keys(mine.metrics).sort()).toEqual(["pde_mean", "val_acc"]);
    expect(mine.pin.allow_force.value).toBe(true);
    fits("config show", await ok(cli(forbidding, ["config", "show", "--json"])));
    const bad = newHome();
    mkdirSync(bad, { mode: 0o700 });
    writeFileSync(join(bad, "config.yaml"), "metrics:\n  foo: {direction: sideways}\n");
    errorFits(await cli(bad, ["config", "show", "--json"]), "E_CONFIG", 2);
  });
});

describe("pin --json", () => {
  it("status: no PIN, a PIN, a lockout", async () => {
    fits("pin status", await ok(cli(plain, ["pin", "status", "--json"])));
    fits("pin status", await ok(cli(governed, ["pin", "status", "--json"])));
    const locked = newHome();
    await ok(cli(locked, ["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` }));
    for (let i = 0; i < 5; i++) await cli(locked, ["pin", "check", "--pin-stdin"], { input: "000000\n" });
    errorFits(await cli(locked, ["pin", "policy", "--allow-force", "--pin-stdin", "--json"], { input: `${PIN}\n` }), "E_PIN_LOCKED", 3);
    expect(fits("pin status", await ok(cli(locked, ["pin", "status", "--json"])))).toMatchObject({ locked_until: expect.any(String) });
  });

  it("policy: the default, allowed by the owner, forbidden by a config file; changing it; a wrong PIN", async () => {
    fits("pin policy", await ok(cli(plain, ["pin", "policy", "--json"])));
    expect(fits("pin policy", await ok(cli(governed, ["pin", "policy", "--json"])))).toMatchObject({ allow_force: true });
    expect(fits("pin policy", await ok(cli(forbidding, ["pin", "policy", "--json"])))).toMatchObject({ allow_force: false, owner_allows_force: true });
    const home = newHome();
    await ok(cli(home, ["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` }));
    fits("pin policy", await ok(cli(home, ["pin", "policy", "--allow-force", "--pin-stdin", "--json"], { input: `${PIN}\n` })));
    fits("pin policy", await ok(cli(home, ["pin", "policy", "--no-allow-force", "--json"])));
    errorFits(await cli(home, ["pin", "policy", "--allow-force", "--pin-stdin", "--json"], { input: "000000\n" }), "E_PIN_WRONG", 3);
    errorFits(await cli(plain, ["pin", "policy", "--allow-force", "--json"]), "E_NO_PIN", 2);
  });
});

describe("approvals --json", () => {
  it("the list (empty, pending, every one), approve (performed, a wrong PIN, twice), deny, expired", async () => {
    const home = newHome();
    const registry = join(tempDir(), "experiments.jsonl");
    await ok(cli(home, ["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` }));
    const runs = await Promise.all([1, 2].map(async () => (await ok(cli(home, ["run", "submit", "--registry", registry, "--", NODE, "-e", ""]))).stdout.trim()));
    expect(fits("approvals", await ok(cli(home, ["approvals", "--json"])))).toEqual([]);
    const approvals = openApprovals({ home, now: () => new Date() });
    const requester = { client: "contracts-test/1.0", tool: "cancel_run", note: "\u001b[31mhostile\u001b[0m note" };
    const cancel = await approvals.request({ action: "run.cancel", target: runs[0]!, params: { registry }, requester });
    const other = await approvals.request({ action: "run.cancel", target: runs[1]!, params: { registry }, requester: { client: "c", tool: "t" } });
    const soon = await approvals.request({ action: "pin.clear", target: "pin", requester, ttlMs: 1 });
    await new Promise((r) => setTimeout(r, 5));
    expect((fits("approvals", await ok(cli(home, ["approvals", "--json"]))) as { id: string }[]).map((a) => a.id)).toEqual([other.id, cancel.id]);
    errorFits(await cli(home, ["approve", cancel.id, "--pin-stdin", "--json"], { input: "000000\n" }), "E_PIN_WRONG", 3);
    expect(fits("approve", await ok(cli(home, ["approve", cancel.id, "--pin-stdin", "--json"], { input: `${PIN}\n` })))).toMatchObject({ state: "approved", outcome: expect.stringContaining("Cancelled") });
    errorFits(await cli(home, ["approve", cancel.id, "--pin-stdin", "--json"], { input: `${PIN}\n` }), "E_APPROVAL_DECIDED", 2);
    expect(fits("deny", await ok(cli(home, ["deny", other.id.slice(4, 10), "--reason", "not that one", "--json"])))).toMatchObject({ state: "denied", outcome: "denied: not that one" });
    errorFits(await cli(home, ["approve", soon.id, "--json"]), "E_APPROVAL_EXPIRED", 3);
    errorFits(await cli(home, ["deny", "apr-ffffffffffff", "--json"]), "E_APPROVAL_NOT_FOUND", 2);
    const all = fits("approvals", await ok(cli(home, ["approvals", "--all", "--json"]))) as { state: string }[];
    expect(all.map((a) => a.state)).toEqual(["expired", "denied", "approved"]);
  });
});

describe("audit --json", () => {
  it("validate: passing, failing, the earlier tool's record, a custom pack, a ClearML task, a record linked to one", async () => {
    expect(fits("audit validate", await ok(cli(plain, ["audit", "validate", "exp-pass0001", "--registry", reg, "--json"])))).toMatchObject({ all_pass: true, clearml_status: null });
    fits("audit validate", await ok(cli(plain, ["audit", "validate", "exp-fail0002", "--registry", reg, "--json"]), 1));
    fits("audit validate", await ok(cli(plain, ["audit", "validate", "exp-py000007", "--registry", reg, "--competition-rules", "--json"]), 1));
    fits("audit validate", await ok(cli(plain, ["audit", "validate", "exp-runn0004", "--registry", reg, "--json"]), 1));
    fits("audit validate", await ok(cli(governed, ["audit", "validate", "exp-fail0005", "--registry", reg, "--json"]), 1));
    expect(fits("audit validate", await ok(cli(plain, ["audit", "validate", "submission", "--task-id", T_PUBLISHED.id, "--json"], { env: clearmlEnv() }), 1))).toMatchObject({
      clearml_status: "published",
    });
    expect(fits("audit validate", await ok(cli(plain, ["audit", "validate", "exp-link0008", "--registry", reg, "--json"], { env: clearmlEnv() })))).toMatchObject({
      experiment_id: "exp-link0008",
      clearml_status: "completed",
    });
    errorFits(await cli(plain, ["audit", "validate", "exp-link0008", "--registry", reg, "--json"]), "E_CLEARML_NOT_CONFIGURED", 4);
    errorFits(await cli(plain, ["audit", "validate", "x", "--task-id", "0".repeat(32), "--json"], { env: clearmlEnv() }), "E_TASK_NOT_FOUND", 2);
  });

  it("rules: the built-in pack, a pack with every kind of rule from config and from --rules", async () => {
    fits("audit rules", await ok(cli(plain, ["audit", "rules", "--json"])));
    const pack = fits("audit rules", await ok(cli(governed, ["audit", "rules", "--json"]))) as { status: unknown; metrics: { bound_source: string | null }[] };
    expect(pack.metrics.map((m) => m.bound_source)).toEqual(["registry", "rule", null, null, "registry"]);
    const dir = tempDir();
    writeFileSync(join(dir, "open.yaml"), "name: open\nparams:\n  dataset: {}\n");
    expect(fits("audit rules", await ok(cli(plain, ["audit", "rules", "--rules", join(dir, "open.yaml"), "--json"])))).toMatchObject({ status: null, description: null, metrics: [] });
    writeFileSync(join(dir, "bad.yaml"), "name: bad\nmetrics:\n  pde_mean: {op: lt}\n");
    errorFits(await cli(plain, ["audit", "rules", "--rules", join(dir, "bad.yaml"), "--json"]), "E_CONFIG", 2);
  });

  it("log: empty, and the records of PIN operations; --verify intact and tampered", async () => {
    expect(fits("audit log", await ok(cli(plain, ["audit", "log", "--json"])))).toEqual([]);
    expect((fits("audit log", await ok(cli(governed, ["audit", "log", "--json"]))) as unknown[]).length).toBeGreaterThan(2);
    fits("audit log --verify", await ok(cli(plain, ["audit", "log", "--verify", "--json"])));
    expect(fits("audit log --verify", await ok(cli(governed, ["audit", "log", "--verify", "--json"])))).toMatchObject({ ok: true });
    const broken = fits("audit log --verify", await ok(cli(tampered, ["audit", "log", "--verify", "--json"]), 1)) as { problems: unknown[] };
    expect(broken.problems.length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- coverage of the table itself

/** The commands listed under `Commands:` in a help text (not `help`). */
function subcommands(help: string): string[] {
  const lines = help.split("\n");
  const start = lines.indexOf("Commands:");
  if (start < 0) return [];
  const end = lines.indexOf("", start);
  return lines
    .slice(start + 1, end < 0 ? undefined : end)
    .map((l) => /^ {2}([a-z][\w-]*)/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined && c !== "help");
}

/** Every leaf command of the CLI, with its help text. */
async function leafCommands(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (path: string[]): Promise<void> => {
    const r = await ok(cli(plain, [...path, "--help"]));
    const children = subcommands(r.stdout);
    if (children.length === 0 && path.length > 0) out.set(path.join(" "), r.stdout);
    await Promise.all(children.map((c) => visit([...path, c])));
  };
  await visit([]);
  return out;
}

describe("JSON_OUTPUTS covers every --json of the CLI", () => {
  it("each command with a --json option has a contract, each contract a command (and the flag of its variant)", async () => {
    const leaves = await leafCommands();
    expect(leaves.size).toBeGreaterThan(20);
    const withJson = [...leaves].filter(([, help]) => /^ {2}--json\b/m.test(help)).map(([path]) => path);
    const keys = Object.keys(JSON_OUTPUTS);
    const commandOf = (key: string): string => key.replace(/ --.*$/, "");
    expect(new Set(keys.map(commandOf))).toEqual(new Set(withJson));
    for (const key of keys) {
      const flag = / (--[\w-]+)$/.exec(key)?.[1];
      if (flag !== undefined) expect(leaves.get(commandOf(key)), key).toMatch(new RegExp(`^ {2}${flag}\\b`, "m"));
    }
  });

  it("every contract was exercised by a real output above", (test) => {
    // Only a run of the whole file exercises them all (not one filtered with -t).
    if (exercised.size === 0) return test.skip();
    const missing = Object.keys(JSON_OUTPUTS).filter((k) => !exercised.has(k as JsonOutput));
    expect(missing).toEqual([]);
  });

  it("an output with a field added or taken away no longer fits (every strict contract bites)", () => {
    const loose = new Set<JsonOutput>(["metrics report", "run status", "run list --raw"]);
    for (const [key, samples] of exercised) {
      const sample = samples.find((s) => s !== null && typeof s === "object" && (!Array.isArray(s) || s.length > 0));
      if (sample === undefined) continue;
      const schema = JSON_OUTPUTS[key];
      const target = (v: unknown): Record<string, unknown> => (Array.isArray(v) ? (v[0] as Record<string, unknown>) : (v as Record<string, unknown>));
      const added = structuredClone(sample);
      target(added)["unexpected_field"] = 1;
      expect(schema.safeParse(added).success, `${key}: a field added`).toBe(loose.has(key));
      const removed = structuredClone(sample);
      const first = Object.keys(target(removed)).find((k) => k !== "experiment_id")!;
      delete target(removed)[first];
      expect(schema.safeParse(removed).success, `${key}: '${first}' taken away`).toBe(loose.has(key));
    }
  });
});
