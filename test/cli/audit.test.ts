import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, describe, expect, it } from "vitest";
import type { CliResult } from "../helpers/cli.js";
import { record, runCliAsync, runInProcess, writeRegistry } from "../helpers/cli.js";

// In this process through run(argv, io) (test/helpers/cli.ts); the earlier tool's first two
// cases (exit 0 and exit 1) are spawned from dist/cli.js, as a user runs them.

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "expflow-audit-"));
  made.push(d);
  return d;
}

/** The CLI (in this process), run from `cwd` (default: a fresh directory) with its own EXPFLOW_HOME. */
function cli(args: readonly string[], cwd = tempDir()): Promise<CliResult> {
  return runInProcess(args, { cwd, env: { EXPFLOW_HOME: join(cwd, ".home"), NO_COLOR: "1" } });
}

/** {@link cli}, spawned from the built binary. */
function spawned(args: readonly string[], cwd = tempDir()): Promise<CliResult> {
  return runCliAsync(args, { cwd, env: { EXPFLOW_HOME: join(cwd, ".home"), NO_COLOR: "1" } });
}

const ID = "exp-audit0000001";
const GOOD = { seg_total: 57.09, pde_mean: 15.0, train_time_min: 45.5 };
const SUB5 = { "Args/--sub_step": "5" };

/** A registry with one experiment in a fresh directory; returns the directory and the file. */
function oneRecord(metrics: Record<string, unknown>, params: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): { dir: string; path: string } {
  const dir = tempDir();
  const r = record(ID, metrics, extra);
  if (params === undefined) delete r["params"];
  else r["params"] = params;
  return { dir, path: writeRegistry([r], dir) };
}

interface ValidateJson {
  experiment_id: string;
  status: string;
  clearml_status: string | null;
  rules: string;
  all_pass: boolean;
  checks: { name: string; label: string; value: number | string | null; passed: boolean; detail: string }[];
  metrics: Record<string, unknown>;
}

async function validate(metrics: Record<string, unknown>, params: Record<string, unknown> | undefined, args: string[] = [], run = cli): Promise<{ r: CliResult; json: ValidateJson }> {
  const { dir, path } = oneRecord(metrics, params);
  const r = await run(["audit", "validate", ID, "--competition-rules", "--registry", path, "--json", ...args], dir);
  return { r, json: JSON.parse(r.stdout) as ValidateJson };
}

function check(json: ValidateJson, name: string): ValidateJson["checks"][number] {
  const c = json.checks.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no check ${name} in ${JSON.stringify(json)}`);
  return c;
}

describe("expflow audit validate: the earlier tool's cases", () => {
  it("passes 57.09 / 15.0 / 45.5 with sub_step 5 (exit 0)", async () => {
    const { r, json } = await validate(GOOD, SUB5, [], spawned);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(json.all_pass).toBe(true);
    expect(json.checks.map((c) => c.name)).toEqual(["status", "seg_total", "pde_mean", "train_time_min", "sub_step"]);
    expect(json.checks.every((c) => c.passed)).toBe(true);
  });

  it("fails pde_mean 20 (exit 1)", async () => {
    const { r, json } = await validate({ ...GOOD, pde_mean: 20 }, SUB5, [], spawned);
    expect(r.code).toBe(1);
    expect(json.all_pass).toBe(false);
    expect(check(json, "pde_mean")).toMatchObject({ passed: false, value: 20, label: "pde_mean < 18.09" });
    expect(check(json, "train_time_min").passed).toBe(true);
  });

  it("fails train_time_min 75", async () => {
    const { r, json } = await validate({ ...GOOD, train_time_min: 75 }, SUB5);
    expect(r.code).toBe(1);
    expect(check(json, "train_time_min")).toMatchObject({ passed: false, value: 75 });
  });

  it("fails a missing metric with `metric 'x' not found`", async () => {
    const { r, json } = await validate({ seg_total: 57.09, pde_mean: 15 }, SUB5);
    expect(r.code).toBe(1);
    expect(check(json, "train_time_min")).toMatchObject({ passed: false, value: null, detail: "metric 'train_time_min' not found" });
  });

  it("fails when the record has no params at all (sub_step missing)", async () => {
    const { r, json } = await validate(GOOD, undefined);
    expect(r.code).toBe(1);
    expect(check(json, "sub_step")).toMatchObject({ passed: false, value: null });
    expect(check(json, "sub_step").detail).toContain("not found");
  });

  it('fails sub_step "0"', async () => {
    const { r, json } = await validate(GOOD, { "Args/--sub_step": "0" });
    expect(r.code).toBe(1);
    expect(check(json, "sub_step")).toMatchObject({ passed: false, value: "0" });
  });

  it("fails empty metrics, naming each missing metric", async () => {
    const { r, json } = await validate({}, SUB5);
    expect(r.code).toBe(1);
    expect(json.checks.filter((c) => !c.passed).map((c) => c.detail)).toEqual([
      "metric 'seg_total' not found",
      "metric 'pde_mean' not found",
      "metric 'train_time_min' not found",
    ]);
    expect(json.metrics).toEqual({});
  });

  it("is strict at the boundaries: pde_mean 18.09 and train_time_min 60 fail", async () => {
    const pde = await validate({ ...GOOD, pde_mean: 18.09 }, SUB5);
    expect(pde.r.code).toBe(1);
    expect(check(pde.json, "pde_mean").passed).toBe(false);
    const time = await validate({ ...GOOD, train_time_min: 60 }, SUB5);
    expect(time.r.code).toBe(1);
    expect(check(time.json, "train_time_min").passed).toBe(false);
  });

  for (const key of ["Args/--sub_step", "General/SubStep", "sub_step", "Args/substep"]) {
    it(`accepts ${key} = "5" and rejects 0, -1, abc, 2.5`, async () => {
      const ok = await validate(GOOD, { [key]: "5" });
      expect(ok.r.code).toBe(0);
      expect(check(ok.json, "sub_step").detail).toContain(key);
      for (const bad of ["0", "-1", "abc", "2.5"]) {
        const { r, json } = await validate(GOOD, { [key]: bad });
        expect(r.code, `${key}=${bad}`).toBe(1);
        expect(check(json, "sub_step")).toMatchObject({ passed: false, value: bad });
        expect(check(json, "sub_step").detail).toContain(key);
      }
    });
  }
});

describe("expflow audit validate: output, config, packs", () => {
  it("--json has exactly the documented keys", async () => {
    const { json } = await validate(GOOD, SUB5);
    expect(Object.keys(json)).toEqual(["experiment_id", "status", "clearml_status", "rules", "all_pass", "checks", "metrics"]);
    expect(json.experiment_id).toBe(ID);
    expect(json.status).toBe("completed");
    expect(json.clearml_status).toBeNull();
    expect(json.rules).toBe("pdebench");
    expect(json.metrics).toEqual(GOOD);
    for (const c of json.checks) expect(Object.keys(c)).toEqual(["name", "label", "value", "passed", "detail"]);
  });

  it("prints the pack, PASS/FAIL with label, value and detail per check, and a summary", async () => {
    const { dir, path } = oneRecord({ ...GOOD, pde_mean: 20 }, SUB5);
    const r = await cli(["audit", "validate", ID.slice(0, 10), "--registry", path], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("pdebench (built-in)");
    expect(r.stdout).toMatch(/^Status +completed$/m);
    expect(r.stdout).toMatch(/PASS +status is completed +completed +the run's status is completed/);
    expect(r.stdout).toMatch(/FAIL +pde_mean < 18\.09 +20 +20 is not < 18\.09/);
    expect(r.stdout).toMatch(/PASS +train_time_min < 60 +45\.5 +45\.5 < 60/);
    expect(r.stdout).toContain("FAIL: 1 of 5 checks fail.");
  });

  it("--markdown prints a table", async () => {
    const { dir, path } = oneRecord(GOOD, SUB5);
    const r = await cli(["audit", "validate", ID, "--registry", path, "--markdown"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("| RESULT | RULE | VALUE | DETAIL |");
    expect(r.stdout).toContain("| PASS | pde\\_mean \\< 18.09 | 15 | 15 \\< 18.09 |");
  });

  it("a threshold override in expflow.yaml moves the pdebench rule (pde_mean 19 passes under 20)", async () => {
    const { dir, path } = oneRecord({ ...GOOD, pde_mean: 19 }, SUB5);
    expect((await cli(["audit", "validate", ID, "--registry", path], dir)).code).toBe(1);
    writeFileSync(join(dir, "expflow.yaml"), "metrics:\n  pde_mean: {threshold: 20}\n");
    const r = await cli(["audit", "validate", ID, "--registry", path, "--json"], dir);
    expect(r.code).toBe(0);
    expect(check(JSON.parse(r.stdout) as ValidateJson, "pde_mean")).toMatchObject({ passed: true, label: "pde_mean < 20" });
  });

  const CUSTOM = [
    "name: my-competition",
    "description: a custom pack",
    "metrics:",
    "  seg_total: {required: true}",
    "  val_mse: {op: le, value: 0.01}",
    "params:",
    '  dataset: {match: "dataset", allowed: [pdebench-2d, pdebench-3d]}',
    "",
  ].join("\n");

  it("a custom pack file (--rules) with a params allowed list and an op rule", async () => {
    const { dir, path } = oneRecord({ seg_total: 50, val_mse: 0.01 }, { "General/Dataset": "pdebench-2d" });
    writeFileSync(join(dir, "pack.yaml"), CUSTOM);
    const ok = await cli(["audit", "validate", ID, "--registry", path, "--rules", "pack.yaml", "--json"], dir);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    const json = JSON.parse(ok.stdout) as ValidateJson;
    expect(json.rules).toBe("my-competition");
    expect(json.checks.map((c) => c.name)).toEqual(["seg_total", "val_mse", "dataset"]);

    const bad = oneRecord({ seg_total: 50, val_mse: 0.02 }, { "General/Dataset": "imagenet" });
    writeFileSync(join(bad.dir, "pack.yaml"), CUSTOM);
    const r = await cli(["audit", "validate", ID, "--registry", bad.path, "--rules", "pack.yaml", "--json"], bad.dir);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as ValidateJson;
    expect(check(j, "val_mse")).toMatchObject({ passed: false, value: 0.02 });
    expect(check(j, "dataset")).toMatchObject({ passed: false, value: "imagenet" });
    expect(check(j, "dataset").detail).toContain("not one of pdebench-2d, pdebench-3d");
  });

  it("audit.rules in config selects the pack; --rules overrides it", async () => {
    const { dir, path } = oneRecord({ seg_total: 50, val_mse: 0.001 }, { dataset: "pdebench-3d" });
    mkdirSync(join(dir, "rules"));
    writeFileSync(join(dir, "rules", "pack.yaml"), CUSTOM);
    writeFileSync(join(dir, "expflow.yaml"), "audit:\n  rules: rules/pack.yaml\n");
    const r = await cli(["audit", "validate", ID, "--registry", path, "--json"], dir);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as ValidateJson).rules).toBe("my-competition");
    writeFileSync(join(dir, "other.yaml"), "name: other\nmetrics:\n  seg_total: {op: gt, value: 60}\n");
    const o = await cli(["audit", "validate", ID, "--registry", path, "--rules", "other.yaml", "--json"], dir);
    expect(o.code).toBe(1);
    expect((JSON.parse(o.stdout) as ValidateJson).rules).toBe("other");
  });

  const BROKEN: [string, string, RegExp, string | null][] = [
    ["invalid YAML", "name: x\nmetrics:\n  pde_mean: {op: lt, value: 1\n", /line \d+/, null],
    ["an unknown key", "name: x\nmetrics:\n  pde_mean: {op: lt, value: 1, bogus: 2}\n", /line 3/, "metrics.pde_mean.bogus"],
    ["a bad op", "name: x\nmetrics:\n  pde_mean: {op: lessthan, value: 1}\n", /line 3/, "metrics.pde_mean.op"],
    ["a bad regex", 'name: x\nparams:\n  sub_step: {match: "sub_(step"}\n', /line 3/, "params.sub_step.match"],
    ["a missing name", "metrics:\n  pde_mean: {op: lt, value: 1}\n", /line 1/, "name"],
  ];
  for (const [what, text, line, key] of BROKEN) {
    it(`a rule file with ${what} is exit 2 naming the file, the line${key ? " and the key" : ""}`, async () => {
      const { dir, path } = oneRecord(GOOD, SUB5);
      const file = join(dir, "broken.yaml");
      writeFileSync(file, text);
      const r = await cli(["audit", "validate", ID, "--registry", path, "--rules", "broken.yaml"], dir);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(file);
      expect(r.stderr).toMatch(line);
      if (key !== null) expect(r.stderr).toContain(`'${key}'`);
      // The same for audit rules.
      expect((await cli(["audit", "rules", "--rules", file], dir)).code).toBe(2);
    });
  }

  it("a broken pack named by config says so in the hint", async () => {
    const { dir, path } = oneRecord(GOOD, SUB5);
    writeFileSync(join(dir, "pack.yaml"), "metrics:\n  pde_mean: {op: lt, value: 1}\n");
    writeFileSync(join(dir, "expflow.yaml"), "audit:\n  rules: pack.yaml\n");
    const r = await cli(["audit", "validate", ID, "--registry", path], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(dir, "pack.yaml"));
    expect(r.stderr).toContain(`audit.rules in ${join(dir, "expflow.yaml")}`);
  });

  it("--task-id is exit 4 (ClearML not configured), even for an id unknown locally", async () => {
    const dir = tempDir();
    const path = writeRegistry([record("exp-other", GOOD)], dir);
    const r = await cli(["audit", "validate", "label-only", "--task-id", "abc123", "--registry", path], dir);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("ClearML is not configured");
    const j = await cli(["audit", "validate", "label-only", "--task-id", "abc123", "--json"], dir);
    expect(j.code).toBe(4);
    expect((JSON.parse(j.stderr) as { error: { code: string } }).error.code).toBe("E_CLEARML_NOT_CONFIGURED");
  });

  it("a record linked to a ClearML task is exit 4 naming the task", async () => {
    const { dir, path } = oneRecord(GOOD, SUB5, { clearml_task_id: "task-42" });
    const r = await cli(["audit", "validate", ID, "--registry", path], dir);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("ClearML is not configured");
    expect(r.stderr).toContain("task-42");
  });

  it("an unknown experiment is exit 2; an ambiguous prefix is exit 2", async () => {
    const dir = tempDir();
    const path = writeRegistry([record("exp-aa01", GOOD, { params: SUB5 }), record("exp-aa02", GOOD, { params: SUB5 })], dir);
    const r = await cli(["audit", "validate", "exp-zz", "--registry", path], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("exp-zz");
    expect((await cli(["audit", "validate", "exp-aa", "--registry", path], dir)).code).toBe(2);
    expect((await cli(["audit", "validate", "exp-aa02", "--registry", path], dir)).code).toBe(0);
  });
});

describe("expflow audit validate --junit", () => {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", isArray: (name) => name === "testcase" || name === "property" });
  interface Case {
    "@classname": string;
    "@name": string;
    failure?: { "@message": string; "#text": string };
  }
  async function junit(metrics: Record<string, unknown>, params: Record<string, unknown>, extra: string[] = []): Promise<{ r: CliResult; xml: string; suite: Record<string, unknown>; cases: Case[] }> {
    const { dir, path } = oneRecord(metrics, params);
    const r = await cli(["audit", "validate", ID, "--registry", path, "--junit", "reports/junit.xml", ...extra], dir);
    const xml = readFileSync(join(dir, "reports", "junit.xml"), "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = parser.parse(xml) as { testsuites: { testsuite: Record<string, unknown> & { testcase: Case[] } } };
    return { r, xml, suite: doc.testsuites.testsuite, cases: doc.testsuites.testsuite.testcase };
  }

  it("writes one testsuite with counts and one testcase per check, in addition to the normal output", async () => {
    const { r, suite, cases } = await junit({ ...GOOD, pde_mean: 20 }, { "Args/--sub_step": "0" });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAIL: 2 of 5 checks fail.");
    expect(r.stdout).toContain("junit.xml");
    expect(suite["@name"]).toBe("pdebench");
    expect(suite["@tests"]).toBe("5");
    expect(suite["@failures"]).toBe("2");
    expect(cases.map((c) => c["@name"])).toEqual(["status is completed", "seg_total present (primary score)", "pde_mean < 18.09", "train_time_min < 60", "sub_step is an integer >= 1"]);
    expect(cases.every((c) => c["@classname"] === ID)).toBe(true);
    expect(cases.filter((c) => c.failure !== undefined).map((c) => c.failure!["@message"])).toEqual(["20 is not < 18.09", 'Args/--sub_step = "0" is below the minimum 1']);
    expect(cases[2]!.failure!["#text"]).toContain("20 is not < 18.09");
    expect(cases[0]!.failure).toBeUndefined();
    expect(cases[1]!.failure).toBeUndefined();
  });

  it("escapes hostile values and drops characters XML 1.0 cannot hold", async () => {
    const hostile = `x"'<&>]]>\u0001\u0008\u001f\uFFFE\n<script>`;
    const { xml, cases } = await junit(GOOD, { "Args/--sub_step": hostile }, ["--json"]);
    for (const ch of ["\u0001", "\u0008", "\u001f", "\uFFFE"]) expect(xml).not.toContain(ch);
    expect(xml).toContain("\uFFFD");
    expect(xml).not.toContain("<script>");
    expect(xml).not.toContain("]]>");
    const failure = cases[4]!.failure!;
    expect(failure["@message"]).toContain(`x\\"'<&>]]>`);
    expect(failure["@message"]).toContain("<script>");
    expect(failure["#text"]).toContain("<script>");
  });

  it("escapes a hostile pack name and labels", async () => {
    const { dir, path } = oneRecord(GOOD, SUB5);
    writeFileSync(join(dir, "pack.yaml"), `name: "a<b & \\"c\\""\nmetrics:\n  pde_mean: {op: lt, value: 1, label: "<x> & 'y'"}\n`);
    const r = await cli(["audit", "validate", ID, "--registry", path, "--rules", "pack.yaml", "--junit", "j.xml"], dir);
    expect(r.code).toBe(1);
    const xml = readFileSync(join(dir, "j.xml"), "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = parser.parse(xml) as { testsuites: { testsuite: { "@name": string; testcase: Case[] } } };
    expect(doc.testsuites.testsuite["@name"]).toBe('a<b & "c"');
    expect(doc.testsuites.testsuite.testcase[0]!["@name"]).toBe("<x> & 'y'");
  });

  it("an unwritable --junit path is exit 2 with a clear message", async () => {
    const { dir, path } = oneRecord(GOOD, SUB5);
    const r = await cli(["audit", "validate", ID, "--registry", path, "--junit", join(path, "junit.xml")], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot write the JUnit report");
    expect(r.stderr).toContain(join(path, "junit.xml"));
  });
});

describe("expflow audit rules", () => {
  it("shows the built-in pack with resolved bounds", async () => {
    const r = await cli(["audit", "rules"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("pdebench (built-in)");
    expect(r.stdout).toContain("pde_mean < 18.09 (registered threshold)");
    expect(r.stdout).toContain("train_time_min < 60 (registered threshold)");
    expect(r.stdout).toContain("seg_total present and finite (reported, not gated)");
    expect(r.stdout).toMatch(/sub_step +key matches \/sub_\?step\/i; type integer; min 1; required/);
  });

  it("--json gives the pack as data, bounds following the config", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "expflow.yaml"), "metrics:\n  pde_mean: {threshold: 20}\n");
    const r = await cli(["audit", "rules", "--json"], dir);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown> & { metrics: Record<string, unknown>[]; params: Record<string, unknown>[] };
    expect(Object.keys(j)).toEqual(["name", "description", "source", "status", "metrics", "params"]);
    expect(j["name"]).toBe("pdebench");
    expect(j["status"]).toEqual({ label: "status is completed", allowed: ["completed"] });
    expect(j.metrics[1]).toEqual({ name: "pde_mean", label: "pde_mean < 20", required: true, op: "lt", value: 20, bound_source: "registry" });
    expect(j.params[0]).toEqual({ name: "sub_step", label: "sub_step is an integer >= 1", match: "sub_?step", type: "integer", min: 1, max: null, allowed: null, required: true });
  });

  it("shows a custom pack's rules", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "p.yaml"), 'name: c\nmetrics:\n  val_mse: {op: le, value: 0.01}\nparams:\n  dataset: {allowed: [a, b], required: false}\n');
    const r = await cli(["audit", "rules", "--rules", "p.yaml"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`c (${join(dir, "p.yaml")})`);
    expect(r.stdout).toContain("val_mse <= 0.01 (rule)");
    expect(r.stdout).toContain("key matches /dataset/i; allowed: a, b; optional");
  });
});

describe("expflow audit report", () => {
  const HOSTILE = "a|b\nc `code` <script>alert(1)</script> *bold* [x](y) _u_ # h &amp;";

  it("escapes every value so a parameter cannot break the Markdown", async () => {
    const { dir, path } = oneRecord({ ...GOOD, pde_mean: 20 }, { ...SUB5, [`Args/${HOSTILE}`]: HOSTILE }, { name: HOSTILE, tags: ["t|1", "<b>"] });
    const r = await cli(["audit", "report", ID, "--registry", path], dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const md = r.stdout;
    expect(md.startsWith(`# Audit report: ${ID} (`)).toBe(true);
    expect(md).toContain("## Validation: FAIL");
    expect(md).toContain("| FAIL | pde\\_mean \\< 18.09 | 20 | 20 is not \\< 18.09 |");
    expect(md).toContain("## Parameters");
    expect(md).toContain("## Metrics");
    expect(md).not.toContain("<script>");
    expect(md).not.toMatch(/[^\\]`/);
    expect(md).not.toContain("](");
    const escaped = "a\\|b c \\`code\\` \\<script\\>alert\\(1\\)\\</script\\> \\*bold\\* \\[x\\]\\(y\\) \\_u\\_ \\# h &amp;amp;";
    expect(md).toContain(`| Args/${escaped} | ${escaped} |`);
    expect(md).toContain("| Tags | t\\|1, \\<b\\> |");
    // Every table row has exactly its columns' unescaped pipes.
    for (const line of md.split("\n").filter((l) => l.startsWith("|"))) {
      const pipes = line.replace(/\\\\/g, "").match(/(?<!\\)\|/g)!.length;
      expect([3, 5], line).toContain(pipes);
    }
  });

  it("--output writes the file and says where; exit 0 whatever the verdict", async () => {
    const { dir, path } = oneRecord({ ...GOOD, pde_mean: 20 }, SUB5);
    const r = await cli(["audit", "report", ID, "--registry", path, "--output", "out/report.md"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(join(dir, "out", "report.md"));
    expect(readFileSync(join(dir, "out", "report.md"), "utf8")).toContain("## Validation: FAIL");
  });

  it("an unknown experiment is exit 2", async () => {
    const { dir, path } = oneRecord(GOOD, SUB5);
    expect((await cli(["audit", "report", "exp-nope", "--registry", path], dir)).code).toBe(2);
  });
});

describe("expflow audit: no certificate for an unfinished run (issue 10)", () => {
  /** The run: perfect metrics and parameters, but cancelled at 30 of 200 epochs. */
  const cancelled = (): { dir: string; path: string } => oneRecord({ ...GOOD, epochs: 30 }, SUB5, { status: "cancelled" });

  it("audit validate fails a cancelled run whose metrics pass (exit 1), with a check line saying why", async () => {
    const { dir, path } = cancelled();
    const r = await cli(["audit", "validate", ID, "--competition-rules", "--registry", path], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Status +cancelled$/m);
    expect(r.stdout).toMatch(/^FAIL +status is completed +cancelled +the run's status is cancelled, not completed$/m);
    expect(r.stdout).toContain("FAIL: 1 of 5 checks fail.");
  });

  it.each(["failed", "running", "queued"])("fails a %s run too", async (status) => {
    const { dir, path } = oneRecord(GOOD, SUB5, { status });
    const r = await cli(["audit", "validate", ID, "--registry", path, "--json"], dir);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as ValidateJson;
    expect(j.status).toBe(status);
    expect(j.checks.filter((c) => !c.passed)).toEqual([{ name: "status", label: "status is completed", value: status, passed: false, detail: `the run's status is ${status}, not completed` }]);
  });

  it("fails a record of the earlier tool that has no status: unknown is not completed", async () => {
    const dir = tempDir();
    const path = writeRegistry([`{"experiment_id": "${ID}", "metrics": ${JSON.stringify(GOOD)}, "params": ${JSON.stringify(SUB5)}}`], dir);
    const r = await cli(["audit", "validate", ID, "--registry", path, "--json"], dir);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "unknown", all_pass: false });
  });

  it("every output shows the status: --json, --csv, --markdown, --junit (a testcase) and audit report", async () => {
    const { dir, path } = cancelled();
    const json = await cli(["audit", "validate", ID, "--registry", path, "--json", "--junit", "j.xml"], dir);
    expect(json.code).toBe(1);
    const j = JSON.parse(json.stdout) as ValidateJson;
    expect([j.status, j.clearml_status, j.all_pass]).toEqual(["cancelled", null, false]);
    expect(j.checks[0]).toEqual({ name: "status", label: "status is completed", value: "cancelled", passed: false, detail: "the run's status is cancelled, not completed" });

    const xml = readFileSync(join(dir, "j.xml"), "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", isArray: (name) => name === "testcase" || name === "property" });
    const suite = (parser.parse(xml) as { testsuites: { testsuite: Record<string, unknown> } }).testsuites.testsuite as {
      "@failures": string;
      properties: { property: { "@name": string; "@value": string }[] };
      testcase: { "@name": string; failure?: { "@message": string; "@type": string } }[];
    };
    expect(suite["@failures"]).toBe("1");
    expect(suite.testcase[0]).toMatchObject({ "@name": "status is completed", failure: { "@message": "the run's status is cancelled, not completed", "@type": "status" } });
    expect(Object.fromEntries(suite.properties.property.map((p) => [p["@name"], p["@value"]]))).toMatchObject({ experiment_id: ID, status: "cancelled" });

    const csv = await cli(["audit", "validate", ID, "--registry", path, "--csv"], dir);
    expect(csv.code).toBe(1);
    expect(csv.stdout.split("\r\n")[1]).toBe(`status,status is completed,cancelled,false,"the run's status is cancelled, not completed"`);
    const md = await cli(["audit", "validate", ID, "--registry", path, "--markdown"], dir);
    expect(md.code).toBe(1);
    expect(md.stdout.split("\n")[2]).toBe("| FAIL | status is completed | cancelled | the run's status is cancelled, not completed |");

    const report = await cli(["audit", "report", ID, "--registry", path], dir);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain("| Status | cancelled |");
    expect(report.stdout).toContain("## Validation: FAIL");
    expect(report.stdout).toContain("| FAIL | status is completed | cancelled | the run's status is cancelled, not completed |");
    expect(report.stdout).toContain("4 of 5 checks pass.");
  });

  it("a custom pack without a status rule checks no status (and still shows it); one may allow several", async () => {
    const { dir, path } = cancelled();
    writeFileSync(join(dir, "any.yaml"), "name: any-status\nmetrics:\n  pde_mean: {op: lt, value: 18.09}\n");
    const any = await cli(["audit", "validate", ID, "--registry", path, "--rules", "any.yaml"], dir);
    expect(any.code).toBe(0);
    expect(any.stdout).toMatch(/^Status +cancelled$/m);
    expect(any.stdout).toContain("PASS: all 1 check pass.");
    writeFileSync(join(dir, "two.yaml"), "name: two\nstatus: {allowed: [completed, cancelled]}\nmetrics:\n  pde_mean: {op: lt, value: 18.09}\n");
    const two = await cli(["audit", "validate", ID, "--registry", path, "--rules", "two.yaml", "--json"], dir);
    expect(two.code).toBe(0);
    expect((JSON.parse(two.stdout) as ValidateJson).checks[0]).toMatchObject({ label: "status is one of completed, cancelled", passed: true });
    const rules = await cli(["audit", "rules", "--rules", "two.yaml"], dir);
    expect(rules.stdout).toMatch(/^Status\n {2}completed, cancelled \(any of them\): a run in another state fails$/m);
    expect((await cli(["audit", "rules", "--rules", "any.yaml", "--json"], dir)).stdout).toContain('"status":null');
  });

  it("an unknown state in a rule pack is exit 2 naming the file, the line and the key, with a suggestion", async () => {
    const { dir, path } = cancelled();
    const file = join(dir, "typo.yaml");
    writeFileSync(file, "name: typo\nstatus:\n  allowed: [completed, canceled]\nmetrics:\n  pde_mean: {op: lt, value: 18.09}\n");
    for (const args of [["audit", "validate", ID, "--registry", path, "--rules", "typo.yaml"], ["audit", "rules", "--rules", "typo.yaml"], ["audit", "report", ID, "--registry", path, "--rules", "typo.yaml"]]) {
      const r = await cli(args, dir);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(file);
      expect(r.stderr).toContain("key 'status.allowed'");
      expect(r.stderr).toContain("line 3");
      expect(r.stderr).toContain("unknown state 'canceled'. Did you mean 'cancelled'?");
    }
    const j = await cli(["audit", "validate", ID, "--registry", path, "--rules", "typo.yaml", "--json"], dir);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stderr)).toMatchObject({ error: { code: "E_CONFIG" } });
  });

  it("a status from the data reaches the terminal printable", async () => {
    const { dir, path } = oneRecord(GOOD, SUB5, { status: "done\u001b]0;pwned\u0007" });
    const r = await cli(["audit", "validate", ID, "--registry", path], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Status +done\\u001b\]0;pwned\\u0007$/m);
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});
