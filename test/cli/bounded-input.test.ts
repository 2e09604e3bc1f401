import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { record, runInProcessOrSpawn, tempDir, writeRegistry } from "../helpers/cli.js";
import { alive, latest, script } from "../helpers/runs.js";

// Issue 11, section 4 ("Bounded input") and the left-over processes of section 7: each case was
// reproduced on the code before the fix.

/** A home and its registry; `run` runs the CLI in this process, spawned for the agent. */
function env(): { home: string; registry: string; run: (args: string[]) => ReturnType<typeof runInProcessOrSpawn> } {
  const home = tempDir("expflow-bounded-");
  const registry = join(home, "experiments.jsonl");
  return { home, registry, run: (args) => runInProcessOrSpawn(args, { env: { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: registry }, cwd: home }) };
}

async function submit(run: (args: string[]) => ReturnType<typeof runInProcessOrSpawn>, ...command: string[]): Promise<string> {
  const r = await run(["run", "submit", "--", ...command]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

const node = process.execPath;

/** The longest line of the registry, in bytes. */
function longestLine(registry: string): number {
  return Math.max(...readFileSync(registry, "utf8").split("\n").map((l) => Buffer.byteLength(l)));
}

describe("agent: the metrics file is bounded", () => {
  it.each([
    ["nested 5,000 deep", `"{\\"x\\":".repeat(5000) + "1" + "}".repeat(5000)`, /nests deeper than 32 levels/],
    // Read whole now (4 MiB a look, the agent's other runs going on between looks): each line refused, 100 kept.
    ["18 MB of garbage lines", `require("crypto").randomBytes(13.5e6).toString("base64").replace(/(.{70})/g, "$1\\n")`, /\d+ more rejected entries not kept \(at most 100 are\)/],
    ["one 2 MB line", `"{\\"seg1\\": \\"" + "x".repeat(2e6) + "\\"}"`, /line 1 is longer than 65536 characters/],
    ["5,000 metric names", `"{" + Array.from({ length: 5000 }, (_, i) => "\\"m" + i + "\\": 1").join(",") + "}"`, /more than 1000 distinct metric names/],
  ])("%s: the run completes with the rejection kept and logged, the registry line stays small", async (_case, expr, reason) => {
    const { home, registry, run } = env();
    const s = script(home, "m.cjs", `require("fs").writeFileSync(process.env.EXPFLOW_METRICS_FILE, ${expr}); require("fs").appendFileSync(process.env.EXPFLOW_METRICS_FILE, "\\n{\\"pde_mean\\": 3}\\n");`);
    const id = await submit(run, node, s);
    const r = await run(["agent", "--once"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/warning: \d+ metrics entr(y|ies) rejected/);
    const rec = latest(registry, id)!;
    expect(rec["status"]).toBe("completed");
    const rejected = rec["rejected_metrics"] as { reason: string }[];
    expect(rejected.map((x) => x.reason).join("\n")).toMatch(reason);
    expect(rejected.length).toBeLessThanOrEqual(101);
    expect(longestLine(registry)).toBeLessThan(100_000);
    expect(readFileSync(join(home, "logs", `${id}.log`), "utf8")).toMatch(reason);
    expect(r.stderr).not.toMatch(/internal error/);
  }, 60_000);

  it("a metrics file that is a FIFO is rejected, the agent does not hang on it", async () => {
    const { registry, run } = env();
    const r0 = await run(["run", "submit", "--shell", "--", 'mkfifo "$EXPFLOW_METRICS_FILE"']);
    expect(r0.code, r0.stderr).toBe(0);
    const id = r0.stdout.trim();
    const r = await run(["agent", "--once"]);
    expect(r.code, r.stderr).toBe(0);
    expect(latest(registry, id)).toMatchObject({ status: "completed", rejected_metrics: [{ name: null, value: null, reason: "the metrics file is not a regular file (a FIFO): not read" }] });
  }, 90_000);

  it("a runner error fails the run with the reason and agent --once exits 1 (it left the run running and exited 0)", async () => {
    const { home, registry, run } = env();
    const id = await submit(run, "true");
    writeFileSync(join(home, "metrics"), "not a directory");
    const r = await run(["agent", "--once"]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/runner error: (EEXIST|a part of .*metrics is not a directory)/);
    expect(r.stdout).toMatch(/1 run failed/);
    expect(latest(registry, id)).toMatchObject({ status: "failed", reason: expect.stringMatching(/^runner error: (EEXIST|a part of .*metrics is not a directory)/) });
  });
});

describe("agent: processes left in the run's group", () => {
  it("`sleep 301 & exit 0`: the run completes, the sleep is terminated and the log says so", async () => {
    const { home, registry, run } = env();
    const pidFile = join(home, "sleep.pid");
    const r0 = await run(["run", "submit", "--shell", "--", `sleep 301 & echo $! > ${pidFile}; exit 0`]);
    expect(r0.code, r0.stderr).toBe(0);
    const id = r0.stdout.trim();
    const r = await run(["agent", "--once"]);
    expect(r.code, r.stderr).toBe(0);
    expect(latest(registry, id)!["status"]).toBe("completed");
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    expect(alive(pid)).toBe(false);
    expect(readFileSync(join(home, "logs", `${id}.log`), "utf8")).toMatch(/processes are left in the run's process group \d+ after the command ended: stopping them[^\n]*\n[^\n]*left-over processes terminated \(SIGTERM\)/);
  });
});

/** A billion-laughs document: nine levels of nine aliases each. */
function aliasBomb(): string {
  const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  let prev = "a";
  for (const c of "bcdefghi") {
    lines.push(`${c}: &${c} [${Array.from({ length: 9 }, () => `*${prev}`).join(", ")}]`);
    prev = c;
  }
  return `${lines.join("\n")}\n`;
}

describe("hostile configuration: one clear line and exit 2 or 4, never a stack trace", () => {
  const rulesBody = 'name: t\nparams:\n  sub_step: {match: "sub_?step"}\n';
  it.each([
    ["an alias bomb in config.yaml, run list", (home: string) => writeFileSync(join(home, "config.yaml"), aliasBomb()), ["run", "list"], 2, /config\.yaml: its aliases expand too far/],
    ["an alias bomb in config.yaml, config show", (home: string) => writeFileSync(join(home, "config.yaml"), aliasBomb()), ["config", "show"], 2, /config\.yaml: its aliases expand too far/],
    ["an alias bomb in expflow.yaml", (home: string) => writeFileSync(join(home, "expflow.yaml"), aliasBomb()), ["run", "list"], 2, /expflow\.yaml: its aliases expand too far/],
    ["an alias bomb in a rule pack (--rules)", (home: string) => writeFileSync(join(home, "r.yaml"), aliasBomb() + rulesBody), ["audit", "rules", "--rules", "r.yaml"], 2, /r\.yaml: its aliases expand too far/],
    [
      "an alias bomb in a rule pack named by audit.rules",
      (home: string) => {
        writeFileSync(join(home, "r.yaml"), rulesBody + aliasBomb().replace(/^a:/, "x:"));
        writeFileSync(join(home, "config.yaml"), "audit:\n  rules: r.yaml\n");
      },
      ["audit", "rules"],
      2,
      /r\.yaml: its aliases expand too far/,
    ],
    ["a clearml.conf nested 20,000 deep", (home: string) => writeFileSync(join(home, "clearml.conf"), `api ${"{a ".repeat(20_000)}${"}".repeat(20_000)}\n`), ["clearml", "status"], 4, /cannot parse the ClearML configuration .*clearml\.conf: line 1: objects and arrays nest deeper than 64 levels/],
    ["a clearml.conf with a 20,000-part dotted key", (home: string) => writeFileSync(join(home, "clearml.conf"), `api.${Array.from({ length: 20_000 }, () => "a").join(".")} = 1\n`), ["clearml", "status"], 4, /line 1: a dotted key has more than 64 parts/],
  ])("%s", async (_case, arrange, args, code, message) => {
    const home = tempDir("expflow-hostile-");
    writeFileSync(join(home, "experiments.jsonl"), "");
    arrange(home);
    const r = await runInProcessOrSpawn(args, { env: { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: undefined, CLEARML_CONFIG_FILE: join(home, "clearml.conf"), CLEARML_API_HOST: undefined, CLEARML_API_ACCESS_KEY: undefined, CLEARML_API_SECRET_KEY: undefined }, cwd: home });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error|RangeError|ReferenceError|\n {4}at /);
  });
});

describe("metrics report: a name given twice or a name that is not a plain key is exit 2, nothing written", () => {
  it.each([
    // Issue 14: an unknown name is kept as a custom metric (constructor=5 is one), but __proto__
    // cannot be a metric's name: objects keyed by name would take it for their prototype.
    ["__proto__=5", ["__proto__=5"], /metric "__proto__" cannot be kept as a custom metric: __proto__ cannot be a metric's name/],
    ["__proto__=5 beside a good value", ["pde_mean=3", "__proto__=5"], /metric "__proto__" cannot be kept as a custom metric/],
    ["pde_mean=1 pde_mean=2", ["pde_mean=1", "pde_mean=2"], /metric 'pde_mean' is given twice/],
    ["an empty name", [" =2"], /expected name=value/],
  ])("%s", async (_case, pairs, message) => {
    const { registry, run } = env();
    const id = await submit(run, "true");
    const before = readFileSync(registry, "utf8");
    const r = await run(["metrics", "report", id, ...pairs]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(readFileSync(registry, "utf8")).toBe(before);
  });
});

describe("config show refuses what the other commands refuse", () => {
  it.each([
    ["a metric alias that is another metric's name", "metrics:\n  foo:\n    direction: higher\n    aliases: [pde_mean]\n", ["run", "list"], /alias 'pde_mean' is already the name of a metric/],
    ["a new metric without a direction", "metrics:\n  foo: {}\n", ["run", "list"], /needs a direction/],
    ["audit.rules naming a missing rule pack", "audit:\n  rules: nope.yaml\n", ["audit", "rules"], /nope\.yaml: cannot read the rule file/],
    ["audit.rules naming an invalid rule pack", "audit:\n  rules: bad.yaml\n", ["audit", "rules"], /bad\.yaml: .*unknown key/],
  ])("%s", async (_case, config, other, message) => {
    const home = tempDir("expflow-config-");
    writeFileSync(join(home, "experiments.jsonl"), "");
    writeFileSync(join(home, "bad.yaml"), "name: t\nbogus: 1\n");
    writeFileSync(join(home, "config.yaml"), config);
    const opts = { env: { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: undefined }, cwd: home };
    const theOther = await runInProcessOrSpawn(other, opts);
    expect(theOther.code, theOther.stderr).toBe(2);
    expect(theOther.stderr).toMatch(message);
    for (const args of [["config", "show"], ["config", "show", "--json"]]) {
      const r = await runInProcessOrSpawn(args, opts);
      expect(r.code, r.stdout).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe("");
    }
  });
});

describe("rule-pack patterns run in linear time (RE2 syntax)", () => {
  it("match: '(a+)+$' on a 31-character parameter key answers (it hung)", async () => {
    const dir = tempDir("expflow-redos-");
    const key = `Args/${"a".repeat(30)}!`;
    const path = writeRegistry([record("exp-redos0001", { pde_mean: 10 }, { params: { [key]: "1", "Args/sub_step": "2" } })], dir);
    writeFileSync(join(dir, "r.yaml"), "name: redos\nparams:\n  evil: {match: '(a+)+$', required: false}\n  tail: {match: 'a+!$', type: integer}\n");
    const r = await runInProcessOrSpawn(["audit", "validate", "exp-redos0001", "--rules", "r.yaml", "--registry", path, "--json"], { env: { EXPFLOW_HOME: dir }, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { checks: { name: string; passed: boolean; detail: string }[] };
    expect(out.checks.find((p) => p.name === "evil")).toMatchObject({ passed: true, detail: "not set (optional)" });
    expect(out.checks.find((p) => p.name === "tail")).toMatchObject({ passed: true, detail: `${key} = "1"` });
  }, 120_000);

  it.each([
    ["a backreference", "'(a)\\1'", /backreferences are not supported/],
    ["a lookahead", "'x(?=y)'", /lookaround is not supported/],
  ])("%s in a pack is exit 2 naming the file, line and key", async (_case, match, message) => {
    const dir = tempDir("expflow-re2-");
    writeFileSync(join(dir, "r.yaml"), `name: t\nparams:\n  p: {match: ${match}}\n`);
    const r = await runInProcessOrSpawn(["audit", "rules", "--rules", "r.yaml"], { env: { EXPFLOW_HOME: dir }, cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/r\.yaml: key 'params\.p\.match': line 3: not a valid regular expression \(RE2 syntax\)/);
    expect(r.stderr).toMatch(message);
  });

  it("the built-in pdebench pack still finds sub_step", async () => {
    const dir = tempDir("expflow-pde-");
    const path = writeRegistry([record("exp-pde000001", { pde_mean: 10 }, { params: { "Args/sub_step": "2" } })], dir);
    const r = await runInProcessOrSpawn(["audit", "validate", "exp-pde000001", "--registry", path, "--json"], { env: { EXPFLOW_HOME: dir }, cwd: dir });
    const out = JSON.parse(r.stdout) as { checks: { name: string; passed: boolean }[] };
    expect(out.checks.find((p) => p.name === "sub_step")).toMatchObject({ passed: true });
  });
});
