import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { record, runInProcessOrSpawn, tempDir, writeRegistry } from "../helpers/cli.js";

// Issue 11, section 1 (ids are names, never paths) and section 4 (a registry line nested
// thousands deep): every case says its exit code, shows no stack trace and loses nothing.

/** A home and its registry; `run` runs the CLI in this process, spawned for the agent. */
function home(): { home: string; registry: string; run: (args: string[]) => ReturnType<typeof runInProcessOrSpawn> } {
  const dir = tempDir("expflow-ids-");
  const h = join(dir, "home");
  mkdirSync(h, { mode: 0o700 });
  const registry = join(h, "experiments.jsonl");
  return { home: h, registry, run: (args) => runInProcessOrSpawn(args, { env: { EXPFLOW_HOME: h, EXPFLOW_REGISTRY: undefined }, cwd: h }) };
}

function queuedLine(id: string): string {
  return JSON.stringify({ experiment_id: id, status: "queued", queue: "default", argv: ["true"], history: [] });
}

function noCrash(r: { code: number | null; stderr: string }): void {
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(r.code).not.toBe(70);
}

describe("a registry record whose id is a path (issue 11, section 1)", () => {
  it("agent --once no longer deletes experiments.jsonl for an id '../experiments'", async () => {
    const { registry, run } = home();
    const submitted = await run(["run", "submit", "--", "true"]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = submitted.stdout.trim();
    appendFileSync(registry, `${queuedLine("../experiments")}\n`);
    const r = await run(["agent", "--once"]);
    noCrash(r);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/1 damaged line skipped \(`expflow registry check` lists them\)/);
    expect(existsSync(registry)).toBe(true);
    const text = readFileSync(registry, "utf8");
    expect(text).toContain('"../experiments"');
    // The real run ran; the damaged line was never claimed.
    const lines = text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l["experiment_id"] === id).at(-1)).toMatchObject({ status: "completed" });
    expect(lines.filter((l) => l["experiment_id"] === "../experiments")).toHaveLength(1);
  });

  it("agent --once neither deletes a *.jsonl nor appends to a *.log outside the home for '../../victim'", async () => {
    const { home: h, registry, run } = home();
    const outside = join(h, "..");
    writeFileSync(join(outside, "victim.jsonl"), "precious\n");
    writeFileSync(join(outside, "victim.log"), "precious\n");
    writeFileSync(registry, `${queuedLine("../../victim")}\n${queuedLine("../../..")}\n`);
    const r = await run(["agent", "--once"]);
    noCrash(r);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(outside, "victim.jsonl"), "utf8")).toBe("precious\n");
    expect(readFileSync(join(outside, "victim.log"), "utf8")).toBe("precious\n");
    expect(existsSync(join(outside, "...log"))).toBe(false);
    expect(existsSync(join(h, "..", "..", "...log"))).toBe(false);
  });

  it("is warned about, listed by registry check (exit 1), skipped by every reader, moved aside by compact", async () => {
    const { registry, run } = home();
    const bad = ["../experiments", "a/b", "", ".hidden", "x..y", "é", "a".repeat(129)];
    writeRegistry([record("exp-good", { pde_mean: 10 }), ...bad.map((id) => record(id, { pde_mean: 1 }))], join(registry, ".."));
    const before = readFileSync(registry, "utf8");

    const check = await run(["registry", "check", "--json"]);
    noCrash(check);
    expect(check.code).toBe(1);
    const health = JSON.parse(check.stdout) as { damaged: { line: number; reason: string }[]; experiments: number };
    expect(health.experiments).toBe(1);
    expect(health.damaged.map((d) => d.line)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(health.damaged[0]!.reason).toMatch(/experiment_id "\.\.\/experiments" is not a valid id/);
    expect(health.damaged[2]!.reason).toBe("record has no experiment_id"); // an empty id is none

    const list = await run(["run", "list", "--json"]);
    noCrash(list);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { experiments: { id: string }[] }).experiments.map((e) => e.id)).toEqual(["exp-good"]);
    expect(list.stderr).toMatch(/line 2 skipped: experiment_id "\.\.\/experiments" is not a valid id/);

    const ranked = await run(["compare-scores", "--sort-by", "pde_mean", "--json"]);
    noCrash(ranked);
    expect(ranked.code, ranked.stderr).toBe(0);
    expect(ranked.stdout).toContain("exp-good");
    expect(ranked.stdout).not.toContain("../experiments");
    expect(ranked.stderr).toMatch(/is not a valid id/);

    expect(readFileSync(registry, "utf8")).toBe(before); // reading changed nothing

    const compact = await run(["registry", "compact"]);
    noCrash(compact);
    expect(compact.code, compact.stderr).toBe(0);
    const moved = readFileSync(`${registry}.damaged`, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { text: string; reason: string });
    expect(moved).toHaveLength(bad.length);
    expect(moved[0]!.text).toContain('"../experiments"');
    expect(readFileSync(registry, "utf8").trim().split("\n")).toHaveLength(1);
    expect((await run(["registry", "check"])).code).toBe(0);
  });
});

describe("ids given on the command line (issue 11, section 1)", () => {
  it("run archive \"\" is exit 2 and archives nothing (it used to act on the only run)", async () => {
    const { registry, run } = home();
    writeRegistry([record("exp-only", {})], join(registry, ".."));
    const before = readFileSync(registry, "utf8");
    const r = await run(["run", "archive", ""]);
    noCrash(r);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: not a valid experiment id: "": an id is never empty$/m);
    expect(readFileSync(registry, "utf8")).toBe(before);
  });

  const commands: [string, (id: string) => string[]][] = [
    ["run status", (id) => ["run", "status", id]],
    ["run cancel", (id) => ["run", "cancel", id]],
    ["run archive", (id) => ["run", "archive", id]],
    ["run restore", (id) => ["run", "restore", id]],
    ["run delete", (id) => ["run", "delete", id]],
    ["metrics report", (id) => ["metrics", "report", id, "pde_mean=1"]],
    ["audit validate", (id) => ["audit", "validate", id]],
    ["audit report", (id) => ["audit", "report", id]],
  ];
  const ids = ["", "..", "../experiments", "/etc/passwd", "exp/..", ".exp", "exp 1", "exp\u001b[2J", "a".repeat(129)];
  for (const [name, args] of commands) {
    it(`${name}: an id that is not a name is exit 2, with one line, and nothing changes`, async () => {
      const { registry, run } = home();
      writeRegistry([record("exp-only", {}, { archived: true })], join(registry, ".."));
      const before = readFileSync(registry, "utf8");
      for (const id of ids) {
        const r = await run(args(id));
        noCrash(r);
        expect(r.code, `${name} ${JSON.stringify(id)}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(/^error: not a valid experiment id: /m);
        expect(r.stderr).not.toContain("\u001b");
      }
      expect(readFileSync(registry, "utf8")).toBe(before);
    });
  }

  it("a valid prefix still resolves", async () => {
    const { registry, run } = home();
    writeRegistry([record("exp-only", {})], join(registry, ".."));
    expect((await run(["run", "status", "exp-o", "--json"])).code).toBe(0);
  });

  it("--task-id that is not a name is exit 2 before ClearML is asked", async () => {
    const { run } = home();
    for (const args of [
      ["metrics", "report", "--task-id", "../x", "pde_mean=1"],
      ["audit", "validate", "label", "--task-id", ""],
      ["audit", "report", "label", "--task-id", "a/b"],
    ]) {
      const r = await run(args);
      noCrash(r);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^error: not a valid ClearML task id: /m);
    }
  });

  it("a registry record linked to a ClearML task id that is a path is exit 2", async () => {
    const { registry, run } = home();
    writeRegistry([record("exp-linked", {}, { clearml_task_id: "../../etc" })], join(registry, ".."));
    const r = await run(["audit", "validate", "exp-linked"]);
    noCrash(r);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a valid ClearML task id: "\.\.\/\.\.\/etc"/);
  });
});

describe("a registry line nested 4,500 deep (issue 11, section 4)", () => {
  const deep = (d: number, field: string): string => `{"experiment_id":"exp-deep","status":"completed","${field}":{"x":${'{"a":'.repeat(d)}1${"}".repeat(d)}}}`;
  for (const field of ["metrics", "params", "name"]) {
    it(`(in ${field}) is skipped with a warning by run list, run status, compare-scores, audit validate; registry check lists it`, async () => {
      const { registry, run } = home();
      writeRegistry([record("exp-good", { pde_mean: 10, train_time_min: 5 }, { params: { sub_step: 1 } }), deep(4500, field)], join(registry, ".."));
      const cases: [string[], number, RegExp | null][] = [
        [["run", "list"], 0, /line 2 skipped: nested deeper than 64 levels/],
        [["run", "status", "exp-good"], 0, null],
        [["run", "status", "exp-deep"], 2, /no experiment 'exp-deep'/],
        [["compare-scores", "--sort-by", "pde_mean"], 0, /line 2 skipped: nested deeper than 64 levels/],
        [["audit", "validate", "exp-deep"], 2, /no experiment 'exp-deep'/],
        [["registry", "check"], 1, null],
      ];
      for (const [args, code, stderr] of cases) {
        const r = await run(args);
        noCrash(r);
        expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(code);
        if (stderr !== null) expect(r.stderr).toMatch(stderr);
      }
      expect((await run(["compare-scores", "--sort-by", "pde_mean", "--json"])).stdout).toContain("exp-good");
      expect((await run(["registry", "check"])).stdout).toMatch(/line 2: nested deeper than 64 levels/);
    });
  }

  it("a line 64 deep is read; 65 deep is damaged", async () => {
    const { registry, run } = home();
    // The record is level 1, "metrics" level 2, so d nested objects inside make d + 2 levels.
    writeRegistry([deep(62, "metrics").replace("exp-deep", "exp-64"), deep(63, "metrics").replace("exp-deep", "exp-65")], join(registry, ".."));
    const check = await run(["registry", "check", "--json"]);
    expect(check.code).toBe(1);
    expect((JSON.parse(check.stdout) as { damaged: { line: number }[] }).damaged.map((d) => d.line)).toEqual([2]);
  });
});
