import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunDiffSchema } from "../../src/contracts/index.js";
import type { RunDiffJson } from "../../src/contracts/index.js";
import { run } from "../../src/cli/main.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask } from "../../fake-clearml/tasks.js";
import type { CliResult } from "../helpers/cli.js";
import { record, runCli, runCliAsync, tempDir, writeRegistry } from "../helpers/cli.js";

// Every test has its own home; none reads ~/.expflow.
type Env = Record<string, string | undefined>;
const envOf = (extra: Env = {}): Env => ({ EXPFLOW_HOME: join(tempDir(), "home"), NO_COLOR: "1", COLUMNS: undefined, EXPFLOW_PIN: undefined, EXPFLOW_PIN_HASH: undefined, EXPFLOW_REGISTRY: undefined, ...extra });
/** The CLI spawned from dist/cli.js, as a user runs it. */
const diff = (reg: string, args: string[], extra: Env = {}): CliResult => runCli(["run", "diff", ...args, "--registry", reg], { env: envOf(extra) });

/** Parses `run diff --json` and checks it against its contract. */
function json(r: CliResult): RunDiffJson {
  expect(r.code, r.stderr).toBe(0);
  return RunDiffSchema.parse(JSON.parse(r.stdout));
}

function errorOf(r: CliResult): { code: string; message: string; hint: string | null } {
  return (JSON.parse(r.stderr) as { error: { code: string; message: string; hint: string | null } }).error;
}

const BASE = record("exp-base0001", { pde_mean: 18.5, seg_total: 50, train_time_min: 30, val_loss: 0.3 }, { name: "unet", params: { "Args/--lr": "3e-4", "Args/--model": "unet" } });
const OTHER = record("exp-othr0002", { pde_mean: 17.25, seg_total: 40, train_time_min: 30, val_loss: 0.2 }, { name: "fno", params: { "Args/--lr": "1e-3", "Args/--model": "fno" } });
const THIRD = record("exp-thrd0003", { pde_mean: 19, seg_total: 60 }, { name: "fno", tags: ["task1", "final"], params: { "Args/--lr": "1e-3", "Args/--model": "fno", "Args/--epochs": "10" } });
/** The same run as OTHER under another id and creation time. */
const TWIN = record("exp-twin0004", { pde_mean: 17.25, seg_total: 40, train_time_min: 30, val_loss: 0.2 }, { name: "fno", timestamp: "2026-11-01T00:00:00", params: { "Args/--lr": "1e-3", "Args/--model": "fno" } });

function registry(): string {
  return writeRegistry([BASE, OTHER, THIRD, TWIN]);
}

describe("expflow run diff", () => {
  it("a table of what differs: one column per run, better and worse against the first, * on the best; readable without colour", () => {
    const r = diff(registry(), ["exp-base", "exp-othr"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      [
        "KIND    KEY           exp-base0001  exp-othr0002",
        "field   name          unet          fno",
        "param   Args/--lr     3e-4          1e-3",
        "        Args/--model  unet          fno",
        "metric  seg_total     50 *          40 worse",
        "        pde_mean      18.5          17.25 better *",
        "        val_loss      0.3           0.2",
        "2 runs compared: 6 of 10 rows differ (--all shows every row).",
        "better/worse: against exp-base0001, the first run, in each metric's direction; *: the best value.",
        "1 custom metric (no registered direction) is not marked.",
        "",
      ].join("\n"),
    );
    expect(r.stdout).not.toContain("\u001b");
  });

  it("--all shows every row; the same metric value in both is neither better nor worse", () => {
    const r = diff(registry(), ["exp-base", "exp-othr", "--all"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {8}status +completed +completed$/m);
    expect(r.stdout).toMatch(/^ {8}train_time_min +30 +30$/m);
    expect(r.stdout).toContain("2 runs compared: 10 rows, 6 differ.\n");
  });

  it("three runs: each marked against the first, ties share the best, a missing value is -, unmarked", () => {
    const r = diff(registry(), ["exp-othr0002", "exp-base0001", "exp-thrd0003", "--wide"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^metric {2}seg_total +40 +50 better +60 better \*$/m);
    expect(r.stdout).toMatch(/^ {8}pde_mean +17\.25 \* +18\.5 worse +19 worse$/m);
    expect(r.stdout).toMatch(/^ {8}train_time_min +30 +30 +-$/m);
    expect(r.stdout).toMatch(/^ {8}tags +task1 +task1 +final,task1$/m);
    expect(r.stdout).toMatch(/^ {8}Args\/--epochs +- +- +10$/m);
  });

  it("--json: the contract, fields then params then metrics, one value, mark and best per run", () => {
    const out = json(diff(registry(), ["exp-base", "exp-othr", "--json"]));
    expect(out.runs).toEqual([
      { id: "exp-base0001", name: "unet", status: "completed", created: "2026-10-01T00:00:00" },
      { id: "exp-othr0002", name: "fno", status: "completed", created: "2026-10-01T00:00:00" },
    ]);
    expect(out).toMatchObject({ all: false, differing: 6, compared: 10 });
    expect(out.rows.map((r) => `${r.kind}:${r.key}`)).toEqual(["field:name", "param:Args/--lr", "param:Args/--model", "metric:seg_total", "metric:pde_mean", "metric:val_loss"]);
    expect(out.rows[4]).toEqual({ kind: "metric", key: "pde_mean", values: [18.5, 17.25], differs: true, direction: "lower", marks: [null, "better"], best: [1] });
    expect(out.rows[5]).toEqual({ kind: "metric", key: "val_loss", values: [0.3, 0.2], differs: true, direction: null, marks: [null, null], best: [] });
    const all = json(diff(registry(), ["exp-base", "exp-othr", "--json", "--all"]));
    expect(all.rows).toHaveLength(10);
    expect(all.rows.find((r) => r.key === "train_time_min")).toMatchObject({ differs: false, marks: [null, "same"], best: [] });
  });

  it("nothing differs: says so, exit 0 (a diff is not a verdict); --json has no rows", () => {
    const r = diff(registry(), ["exp-othr", "exp-twin"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("No differences between exp-othr0002 and exp-twin0004: 10 fields, params and metrics compared (--all shows them).\n");
    expect(json(diff(registry(), ["exp-othr", "exp-twin", "--json"]))).toMatchObject({ rows: [], differing: 0, compared: 10 });
    const all = diff(registry(), ["exp-othr", "exp-twin", "--all"]);
    expect(all.stdout).toMatch(/^KIND +KEY +exp-othr0002 +exp-twin0004\n/);
    expect(all.stdout.endsWith("No differences between exp-othr0002 and exp-twin0004: 10 fields, params and metrics compared.\n")).toBe(true);
  });

  it("--csv keeps numbers exact and unmarked, the kind on every row; --markdown shows the marks", () => {
    const csv = diff(registry(), ["exp-base", "exp-othr", "--csv"]);
    expect(csv.stdout.split("\r\n").slice(0, 2)).toEqual(["kind,key,exp-base0001,exp-othr0002", "field,name,unet,fno"]);
    expect(csv.stdout).toContain("\r\nmetric,pde_mean,18.5,17.25\r\n");
    const md = diff(registry(), ["exp-base", "exp-othr", "--markdown"]);
    expect(md.stdout).toContain("| metric | seg\\_total | 50 \\* | 40 worse |\n");
    expect(md.stdout).toContain("|  | pde\\_mean | 18.5 | 17.25 better \\* |\n");
  });

  it("ids by unique prefix, as run status takes them; unknown, ambiguous, invalid ids and a missing registry are exit 2", () => {
    const reg = registry();
    expect(json(diff(reg, ["exp-b", "exp-o", "--json"])).runs.map((r) => r.id)).toEqual(["exp-base0001", "exp-othr0002"]);
    const unknown = diff(reg, ["exp-base", "exp-nope", "--json"]);
    expect(unknown.code).toBe(2);
    expect(errorOf(unknown)).toEqual({ code: "E_EXPERIMENT_NOT_FOUND", message: `no experiment 'exp-nope' in ${reg}`, hint: "`expflow run list` shows the ids" });
    const ambiguous = diff(reg, ["exp-base", "exp-t", "--json"]);
    expect(ambiguous.code).toBe(2);
    expect(errorOf(ambiguous)).toMatchObject({ code: "E_AMBIGUOUS_ID", message: "'exp-t' matches 2 experiments: exp-thrd0003, exp-twin0004" });
    const path = diff(reg, ["exp-base", "../etc/passwd", "--json"]);
    expect(path.code).toBe(2);
    expect(errorOf(path).code).toBe("E_BAD_ID");
    const none = diff(join(tempDir(), "none.jsonl"), ["exp-base", "exp-othr", "--json"]);
    expect(none.code).toBe(2);
    expect(errorOf(none).code).toBe("E_REGISTRY_NOT_FOUND");
  });

  it("the same run twice, by id or by a prefix and the id, is exit 2; fewer than two runs is a usage error", () => {
    const reg = registry();
    const twice = diff(reg, ["exp-base0001", "exp-base0001", "--json"]);
    expect(twice.code).toBe(2);
    expect(errorOf(twice)).toEqual({ code: "E_SAME_RUN", message: "'exp-base0001' is given twice: a diff compares different runs", hint: "name each run once" });
    const same = diff(reg, ["exp-base", "exp-othr", "exp-base0001"]);
    expect(same.code).toBe(2);
    expect(same.stderr).toBe("error: 'exp-base' and 'exp-base0001' are the same run, exp-base0001: a diff compares different runs\nhint: name each run once\n");
    const one = diff(reg, ["exp-base"]);
    expect(one.code).toBe(2);
    expect(one.stderr).toContain("error: missing required argument 'other'");
    expect(one.stdout).toBe("");
  });

  it("a deleted run is not found; an archived one compares; a damaged line is skipped", () => {
    const reg = writeRegistry([BASE, { ...OTHER, archived: true }, THIRD, { ...THIRD, rev: 2, deleted: true }, "{not json"]);
    const r = diff(reg, ["exp-base", "exp-othr"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("2 runs compared: 6 of 10 rows differ");
    expect(diff(reg, ["exp-base", "exp-thrd"]).code).toBe(2);
  });

  it("runs with no params and no metrics compare by their fields", () => {
    const reg = writeRegistry([{ experiment_id: "exp-bare1" }, { experiment_id: "exp-bare2", status: "failed" }]);
    const r = diff(reg, ["exp-bare1", "exp-bare2", "--all"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        "KIND   KEY      exp-bare1  exp-bare2",
        "field  name     -          -",
        "       status   unknown    failed",
        "       project  -          -",
        "       tags     -          -",
        "2 runs compared: 4 rows, 1 differs.",
        "",
      ].join("\n"),
    );
  });

  it("20 runs fit an 80-column terminal: the last runs are left out and named, the key and the first run stay", () => {
    const runs = Array.from({ length: 20 }, (_, i) => record(`exp-many${String(i).padStart(4, "0")}`, { pde_mean: 20 - i / 4 }, { name: `run-${i}` }));
    const reg = writeRegistry(runs);
    const ids = runs.map((r) => String(r["experiment_id"]));
    const r = diff(reg, ids, { COLUMNS: "80" });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^KEY +exp-many0000 +exp-many0001 /);
    expect(lines.find((l) => l.startsWith("pde_mean"))!.length).toBeLessThanOrEqual(80);
    expect(r.stdout).toMatch(/^Left out to fit 80 columns: kind, exp-many0019, exp-many0018, .*\(--wide shows all\)\.$/m);
    expect(r.stdout).toContain("20 runs compared: 2 of 5 rows differ");
    const wide = diff(reg, [...ids, "--wide"], { COLUMNS: "80" });
    expect(wide.stdout).toMatch(/exp-many0019$/m);
    expect(wide.stdout).toMatch(/15\.25 better \*$/m);
    expect(json(diff(reg, [...ids, "--json"])).runs).toHaveLength(20);
  });

  it("hostile names, params and metric names are shown printable; --json keeps them exact", () => {
    const name = "\u001b[2J\u001b[H\u001b[31mFAKE PASS\u0007";
    const reg = writeRegistry([
      record("exp-host1", { "\u009bevil": 1, "\u202espoof": 2, pde_mean: 17 }, { name, params: { "Args/\u001b[31m--lr": "1\r\u001b[Kx", "multi\nline": "a\tb" } }),
      record("exp-host2", { "\u009bevil": 2, pde_mean: 18 }, { name: "ok", project: "\u001b]0;title\u0007" }),
    ]);
    const r = diff(reg, ["exp-host1", "exp-host2", "--wide"]);
    expect(r.code, r.stderr).toBe(0);
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(r.stdout).toContain("\\u001b[2J\\u001b[H\\u001b[31mFAKE PASS\\u0007");
    expect(r.stdout).toContain("Args/\\u001b[31m--lr");
    expect(r.stdout).toContain("\\u009bevil");
    expect(r.stdout).toContain("\\u202espoof");
    expect(r.stdout).toMatch(/multi line +a b/);
    const out = json(diff(reg, ["exp-host1", "exp-host2", "--json"]));
    expect(out.rows.find((row) => row.key === "name")!.values).toEqual([name, "ok"]);
    expect(out.rows.map((row) => row.key)).toContain("Args/\u001b[31m--lr");
  });

  it("on a terminal, better is green, worse red, the best bold, and the rows that do not differ dim", async () => {
    let stdout = "";
    const code = await run(["run", "diff", "exp-base", "exp-othr", "--all", "--registry", registry()], {
      stdin: Readable.from([]),
      stdout: { write: (t: string) => ((stdout += t), true), isTTY: true, columns: 200 } as never,
      stderr: { write: () => true },
      env: { EXPFLOW_HOME: join(tempDir(), "home") },
      cwd: tempDir(),
    });
    expect(code).toBe(0);
    expect(stdout).toContain("\u001b[31m40 worse");
    expect(stdout).toContain("\u001b[1m\u001b[32m17.25 better *");
    expect(stdout).toContain("\u001b[2mcompleted");
  });
});

describe("expflow run diff, a run linked to ClearML", () => {
  const project = fakeProject("PDEBench");
  const task = fakeTask({ project: project.id, name: "fno", status: "completed" });
  let fake: FakeClearml;
  beforeAll(async () => {
    fake = await FakeClearml.start({ projects: [project], tasks: [task] });
  });
  afterAll(() => fake.close());

  function linked(): { reg: string; env: Env } {
    const home = join(tempDir(), "home");
    const reg = writeRegistry([BASE, record("exp-link0009", { pde_mean: 17 }, { status: "queued", method: "clearml", clearml_task_id: task.id, clearml_server: fake.url })]);
    const conf = join(tempDir(), "clearml.conf");
    writeFileSync(conf, "");
    return { reg, env: envOf({ EXPFLOW_HOME: home, CLEARML_CONFIG_FILE: conf, CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey }) };
  }

  it("is refreshed from its task first (one request); --offline compares it as last synced and asks nothing", async () => {
    const { reg, env } = linked();
    fake.resetCounts();
    const fresh = await runCliAsync(["run", "diff", "exp-base", "exp-link", "--registry", reg, "--all", "--json"], { env });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(RunDiffSchema.parse(JSON.parse(fresh.stdout)).runs[1]).toMatchObject({ id: "exp-link0009", status: "completed" });
    expect(fake.count("tasks.get_all_ex") + fake.count("tasks.get_all")).toBe(1);
    fake.resetCounts();
    const { reg: reg2 } = linked();
    const offline = await runCliAsync(["run", "diff", "exp-base", "exp-link", "--registry", reg2, "--offline"], { env });
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stderr).toBe("");
    expect(offline.stdout).toMatch(/^ {8}status +completed +queued$/m);
    expect(fake.count()).toBe(0);
  });

  it("when ClearML cannot be reached, it is compared as last synced with a warning, exit 0", () => {
    const { reg } = linked();
    const r = diff(reg, ["exp-base", "exp-link"], { CLEARML_CONFIG_FILE: join(tempDir(), "none.conf"), CLEARML_API_HOST: undefined, CLEARML_API_ACCESS_KEY: undefined, CLEARML_API_SECRET_KEY: undefined });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: .*; the run linked to ClearML is shown as last synced\n$/);
    expect(r.stdout).toMatch(/^ {8}status +completed +queued$/m);
  });
});
