import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir } from "../helpers/cli.js";
import { alive, latest, script } from "../helpers/runs.js";

// Issue 11, section 4 ("Bounded input") and the left-over processes of section 7: each case was
// reproduced on the code before the fix.

function env(): { home: string; registry: string; run: (args: string[]) => ReturnType<typeof runCli> } {
  const home = tempDir("expflow-bounded-");
  const registry = join(home, "experiments.jsonl");
  return { home, registry, run: (args) => runCli(args, { env: { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: registry }, cwd: home }) };
}

function submit(run: (args: string[]) => ReturnType<typeof runCli>, ...command: string[]): string {
  const r = run(["run", "submit", "--", ...command]);
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
    ["18 MB of garbage lines", `require("crypto").randomBytes(13.5e6).toString("base64").replace(/(.{70})/g, "$1\\n")`, /over the limit of 4194304/],
    ["one 2 MB line", `"{\\"seg1\\": \\"" + "x".repeat(2e6) + "\\"}"`, /line 1 is longer than 65536 characters/],
    ["5,000 metric names", `"{" + Array.from({ length: 5000 }, (_, i) => "\\"m" + i + "\\": 1").join(",") + "}"`, /more than 1000 distinct metric names/],
  ])("%s: the run completes with the rejection kept and logged, the registry line stays small", (_case, expr, reason) => {
    const { home, registry, run } = env();
    const s = script(home, "m.cjs", `require("fs").writeFileSync(process.env.EXPFLOW_METRICS_FILE, ${expr}); require("fs").appendFileSync(process.env.EXPFLOW_METRICS_FILE, "\\n{\\"pde_mean\\": 3}\\n");`);
    const id = submit(run, node, s);
    const r = run(["agent", "--once"]);
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

  it("a runner error fails the run with the reason and agent --once exits 1 (it left the run running and exited 0)", () => {
    const { home, registry, run } = env();
    const id = submit(run, "true");
    writeFileSync(join(home, "metrics"), "not a directory");
    const r = run(["agent", "--once"]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/runner error: EEXIST/);
    expect(r.stdout).toMatch(/1 run failed/);
    expect(latest(registry, id)).toMatchObject({ status: "failed", reason: expect.stringMatching(/^runner error: EEXIST/) });
  });
});

describe("agent: processes left in the run's group", () => {
  it("`sleep 301 & exit 0`: the run completes, the sleep is terminated and the log says so", () => {
    const { home, registry, run } = env();
    const pidFile = join(home, "sleep.pid");
    const r0 = run(["run", "submit", "--shell", "--", `sleep 301 & echo $! > ${pidFile}; exit 0`]);
    expect(r0.code, r0.stderr).toBe(0);
    const id = r0.stdout.trim();
    const r = run(["agent", "--once"]);
    expect(r.code, r.stderr).toBe(0);
    expect(latest(registry, id)!["status"]).toBe("completed");
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    expect(alive(pid)).toBe(false);
    expect(readFileSync(join(home, "logs", `${id}.log`), "utf8")).toMatch(/processes are left in the run's process group \d+ after the command ended: stopping them[^\n]*\n[^\n]*left-over processes terminated \(SIGTERM\)/);
  });
});
