// Output that cannot be turned against its reader (issue 11, section 5): data holding terminal
// escapes, C1 controls, carriage returns, bells and bidi overrides reaches every human output
// neutralised (shown as `\u001b`, `\u009b`, ...), while --json prints the same strings exactly.
// In this process through run(argv, io) (test/helpers/cli.ts), the ClearML paths against the fake
// server; the damaged-line warning and clearml tasks --json are spawned from dist/cli.js.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { record, runCli, runCliAsync, runInProcess, tempDir, writeRegistry } from "../helpers/cli.js";
import type { CliResult } from "../helpers/cli.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask } from "../../fake-clearml/tasks.js";

/** Clears the screen, homes the cursor and paints a fake verdict; then C1 CSI, CR, BEL, RLO. */
const H = "\u001b[2J\u001b[H\u001b[31mFAKE PASS\u009b2J\r\u0007\u202eevil";
/** What a reader sees of {@link H} (tables cut long cells: they show the start). */
const START = "\\u001b[2J\\u001b[H";
/** What a reader sees of {@link H}. */
const SHOWN = "\\u001b[2J\\u001b[H\\u001b[31mFAKE PASS\\u009b2J\\u000d\\u0007\\u202eevil";
// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Neither stream holds a raw control or bidi character (CSV's CRLF line ends aside). */
function expectNeutral(r: CliResult, label: string): void {
  for (const [name, text] of [["stdout", r.stdout], ["stderr", r.stderr]] as const) {
    const found = RAW.exec(text.replace(/\r\n/g, "\n"));
    expect(found, `${label}: raw U+${found?.[0].charCodeAt(0).toString(16).padStart(4, "0")} on ${name}: ${JSON.stringify(text.slice(0, 400))}`).toBeNull();
  }
  expect(r.stderr).not.toContain("internal error");
}

const ID = "hostile-1";
const HOSTILE = record(
  ID,
  { pde_mean: 1, seg_total: 0.5, train_time_min: 3, [`m${H}`]: 2 },
  {
    name: `n${H}`,
    project: `p${H}`,
    tags: [`t${H}`],
    params: { sub_step: `v${H}`, [`k${H}`]: `w${H}` },
    history: [{ time: "2026-10-01T00:00:00Z", event: "fail", from: "running", to: "failed", who: `u${H}`, reason: `r${H}` }],
  },
);
const ODD_STATUS = record("hostile-2", { pde_mean: 2 }, { status: `s${H}` });

function setup(): { dir: string; path: string; home: string; env: Record<string, string> } {
  const dir = tempDir();
  const path = writeRegistry([HOSTILE, ODD_STATUS, `{"damaged line ${H}`], dir);
  const home = join(dir, "home");
  mkdirSync(home, { mode: 0o700 });
  writeFileSync(join(dir, "pack.yaml"), `name: ${JSON.stringify(`pack${H}`)}\ndescription: ${JSON.stringify(`d${H}`)}\nmetrics:\n  ${JSON.stringify(`m${H}`)}: {required: true}\n`);
  const audit = { seq: 1, time: "2026-10-01T00:00:00Z", user: `u${H}`, host: `h${H}`, action: `a${H}`, target: `t${H}`, outcome: `o${H}`, detail: `d${H}`, prev: "0".repeat(64), hash: "0".repeat(64) };
  writeFileSync(join(home, "audit.jsonl"), `${JSON.stringify(audit)}\n`, { mode: 0o600 });
  return { dir, path, home, env: { EXPFLOW_HOME: home, NO_COLOR: "1" } };
}

describe("hostile data never reaches a human output raw", () => {
  const s = setup();
  const reg = ["--registry", s.path];
  const cases: { label: string; args: string[]; code: number; shows?: string; env?: Record<string, string> }[] = [
    { label: "run list (table)", args: ["run", "list", ...reg], code: 0, shows: `n${START}` },
    { label: "run list --csv", args: ["run", "list", ...reg, "--csv"], code: 0, shows: `n${SHOWN}` },
    { label: "run list --markdown", args: ["run", "list", ...reg, "--markdown"], code: 0 },
    { label: "run list --status echoes an unknown status", args: ["run", "list", ...reg, "--status", `x${H}`], code: 2 },
    { label: "run status", args: ["run", "status", ID, ...reg], code: 0, shows: `r${SHOWN}` },
    { label: "run status of an unknown id echoes it", args: ["run", "status", `nope${H}`, ...reg], code: 2 },
    { label: "run diff (table)", args: ["run", "diff", ID, "hostile-2", ...reg], code: 0, shows: `n${START}` },
    { label: "run diff --wide", args: ["run", "diff", ID, "hostile-2", ...reg, "--all", "--wide"], code: 0, shows: `w${SHOWN}` },
    { label: "run diff --csv", args: ["run", "diff", ID, "hostile-2", ...reg, "--csv"], code: 0, shows: `s${SHOWN}` },
    { label: "run diff --markdown", args: ["run", "diff", ID, "hostile-2", ...reg, "--markdown"], code: 0 },
    { label: "run diff of an unknown id echoes it", args: ["run", "diff", ID, `nope${H}`, ...reg], code: 2 },
    { label: "compare-scores (table)", args: ["compare-scores", ...reg, "--sort-by", "pde_mean", "--status", `completed,s${H}`], code: 0, shows: `n${START}` },
    { label: "compare-scores --markdown", args: ["compare-scores", ...reg, "--sort-by", "pde_mean", "--markdown"], code: 0 },
    { label: "compare-scores --csv", args: ["compare-scores", ...reg, "--sort-by", "pde_mean", "--csv"], code: 0 },
    { label: "compare-scores by a hostile metric name", args: ["compare-scores", ...reg, "--sort-by", `m${H}`, "--descending"], code: 0 },
    { label: "compare-scores by a hostile metric name, without a direction (its refusal echoes it)", args: ["compare-scores", ...reg, "--sort-by", `m${H}`], code: 2 },
    { label: "compare-scores: an unknown metric echoed", args: ["compare-scores", ...reg, "--sort-by", "pde_mean", "--gate", `zz${H}:lt:1`], code: 2 },
    { label: "compare-scores --pareto of a hostile metric name (columns and summary)", args: ["compare-scores", ...reg, "--pareto", `m${H}:max,pde_mean:min`], code: 0 },
    { label: "compare-scores --pareto: a hostile objective echoed", args: ["compare-scores", ...reg, "--pareto", `pde_mean:min,zz:${H}`], code: 2 },
    { label: "compare-scores: an unknown status echoed", args: ["compare-scores", ...reg, "--sort-by", "pde_mean", "--status", `x${H}`], code: 2 },
    { label: "audit validate (table)", args: ["audit", "validate", ID, ...reg], code: 1, shows: `v${START}` },
    { label: "audit validate --markdown", args: ["audit", "validate", ID, ...reg, "--markdown"], code: 1 },
    { label: "audit validate --csv", args: ["audit", "validate", ID, ...reg, "--csv"], code: 1 },
    { label: "audit validate of a hostile status", args: ["audit", "validate", "hostile-2", ...reg], code: 1 },
    { label: "audit validate with a hostile pack", args: ["audit", "validate", ID, ...reg, "--rules", join(s.dir, "pack.yaml")], code: 0, shows: `pack${SHOWN}` },
    { label: "audit report", args: ["audit", "report", ID, ...reg], code: 0, shows: "n\\\\u001b\\[2J" },
    { label: "audit rules", args: ["audit", "rules", "--rules", join(s.dir, "pack.yaml")], code: 0, shows: `d${SHOWN}` },
    { label: "audit log", args: ["audit", "log"], code: 0, shows: `d${START}` },
    { label: "audit log --verify", args: ["audit", "log", "--verify"], code: 1 },
    { label: "registry check", args: ["registry", "check", ...reg], code: 1 },
    { label: "config show (a hostile registry path)", args: ["config", "show"], code: 0, env: { EXPFLOW_REGISTRY: join(s.dir, `r${H}.jsonl`) } },
    { label: "pin status (a hostile registry path)", args: ["pin", "status"], code: 0, env: { EXPFLOW_REGISTRY: join(s.dir, `r${H}.jsonl`) } },
    { label: "metrics report: a hostile metric name echoed", args: ["metrics", "report", ID, `q${H}=1`, ...reg], code: 2 },
  ];
  it.each(cases)("$label", async ({ label, args, code, shows, env }) => {
    const r = await runInProcess(args, { env: { ...s.env, ...env } });
    expectNeutral(r, label);
    expect(r.code, r.stderr).toBe(code);
    if (shows !== undefined) expect(r.stdout).toContain(shows);
  });

  it("the warning about a damaged line quotes it neutralised", () => {
    const r = runCli(["run", "list", ...reg], { env: s.env });
    expect(r.stderr).toMatch(/^warning: .*line 3 skipped/m);
    expectNeutral(r, "warning");
  });

  it("--json prints the same strings exactly", async () => {
    const list = await runInProcess(["run", "list", ...reg, "--raw"], { env: s.env });
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as Record<string, unknown>[];
    expect(rows.find((r) => r["experiment_id"] === ID)).toEqual(HOSTILE);
    expect(rows.find((r) => r["experiment_id"] === "hostile-2")).toEqual(ODD_STATUS);
    const experiments = (JSON.parse((await runInProcess(["run", "list", ...reg, "--json"], { env: s.env })).stdout) as { experiments: Record<string, unknown>[] }).experiments;
    expect(experiments.find((e) => e["id"] === ID)).toMatchObject({ name: HOSTILE["name"], project: HOSTILE["project"], tags: HOSTILE["tags"], metrics: HOSTILE["metrics"], params: HOSTILE["params"] });
    const status = await runInProcess(["run", "status", ID, ...reg, "--json"], { env: s.env });
    expect(JSON.parse(status.stdout)).toEqual(HOSTILE);
    // Raw C1 and bidi characters are valid in JSON strings and stay as they are.
    expect(status.stdout).toContain("\u009b2J");
    expect(status.stdout).toContain("\u202eevil");
    const ranked = await runInProcess(["compare-scores", ...reg, "--sort-by", "pde_mean", "--json"], { env: s.env });
    const out = JSON.parse(ranked.stdout) as { results: { name: string; metrics: Record<string, unknown> }[] };
    expect(out.results[0]!.name).toBe(`n${H}`);
    const audit = await runInProcess(["audit", "validate", ID, ...reg, "--json"], { env: s.env });
    expect(audit.stdout).toContain(JSON.stringify(`v${H}`).slice(1, -1));
    const health = await runInProcess(["registry", "check", ...reg, "--json"], { env: s.env });
    expect(health.code).toBe(1);
    // An id with control characters breaks the id rule: refused before anything is read, and the
    // message quotes it escaped (it is not data being reported, it is input being refused).
    const error = await runInProcess(["run", "status", `nope${H}`, ...reg, "--json"], { env: s.env });
    const e = (JSON.parse(error.stderr) as { error: { code: string; message: string } }).error;
    expect(e.code).toBe("E_BAD_ID");
    expect(e.message).toContain("nope\\u001b[2J");
  });
});

describe("CSV cells a spreadsheet would run as formulas", () => {
  const cases: [string, string][] = [
    ["=HYPERLINK(\"http://x\",\"y\")", `"'=HYPERLINK(""http://x"",""y"")"`],
    ["+1+2", "'+1+2"],
    ["-2+3", "'-2+3"],
    ["@SUM(A1)", "'@SUM(A1)"],
    ["\tx", "'\tx"],
    ["\rx", "'\\u000dx"],
    ["-3.5", "-3.5"],
    ["plain", "plain"],
  ];
  it.each(cases)("a name %j is written as %s", async (name, cell) => {
    const path = writeRegistry([record("c1", { pde_mean: -3.5 }, { name })]);
    const r = await runInProcess(["run", "list", "--registry", path, "--csv"]);
    expect(r.code).toBe(0);
    const row = r.stdout.split("\r\n")[1]!;
    expect(row.startsWith(`c1,${cell},`), row).toBe(true);
    expect(row).toMatch(/,-3\.5(,|$)/);
    const ranked = await runInProcess(["compare-scores", "--registry", path, "--sort-by", "pde_mean", "--csv"]);
    expect(ranked.stdout).toContain(`,${cell},`);
    expect(ranked.stdout).toContain(",-3.5,");
  });

  it("audit validate --csv prefixes a parameter value that starts a formula", async () => {
    const path = writeRegistry([record("c2", { pde_mean: 1, seg_total: 1, train_time_min: 1 }, { params: { sub_step: "=1+1" } })]);
    const r = await runInProcess(["audit", "validate", "c2", "--registry", path, "--csv"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(",'=1+1,");
  });
});

describe("ClearML outputs with hostile task data", () => {
  const P = fakeProject(`Proj${H}`);
  const T = fakeTask({ name: `task${H}`, project: P.id, status: "completed", tags: [`tag${H}`], metrics: { PDE: { pde_mean: 1 }, [`T${H}`]: { [`v${H}`]: 2 } }, params: { [`Args/k${H}`]: `val${H}` } });
  let fake: FakeClearml;
  beforeAll(async () => {
    fake = await FakeClearml.start({ projects: [P], tasks: [T] });
  });
  afterAll(() => fake.close());
  const env = (): Record<string, string> => ({ CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey, NO_COLOR: "1" });

  it.each([
    ["clearml tasks", ["clearml", "tasks", "--project", `Proj${H}`], 0],
    ["clearml tasks --markdown", ["clearml", "tasks", "--project", `Proj${H}`, "--markdown"], 0],
    ["clearml tasks --csv", ["clearml", "tasks", "--project", `Proj${H}`, "--csv"], 0],
    ["clearml compare-scores", ["clearml", "compare-scores", "--project", `Proj${H}`, "--sort-by", "pde_mean"], 0],
    ["clearml compare-scores of an unknown project echoes it", ["clearml", "compare-scores", "--project", `Nope${H}`, "--sort-by", "pde_mean"], 2],
    ["clearml status", ["clearml", "status"], 0],
  ] as const)("%s", async (label, args, code) => {
    const r = await runInProcess(args, { env: env() });
    expectNeutral(r, label);
    expect(r.code, r.stderr).toBe(code);
    if (label === "clearml tasks") expect(r.stdout).toContain(`task${START}`);
  });

  it("clearml tasks --json prints the task's strings exactly", async () => {
    const r = await runCliAsync(["clearml", "tasks", "--project", `Proj${H}`, "--json"], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { experiments: { name: string; tags: string[] }[] };
    expect(out.experiments[0]!.name).toBe(`task${H}`);
    expect(out.experiments[0]!.tags).toEqual([`tag${H}`]);
  });
});
