import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { record, runInProcessOrSpawn, tempDir, writeRegistry } from "../helpers/cli.js";
import { alive, envDumpScript, latest, readEnvDump, script, spawnCli, waitFor, waitForPids } from "../helpers/runs.js";

/** A fresh home and registry; `run` runs the CLI in this process, spawned for the agent. */
function env(): { home: string; registry: string; run: (args: string[], extra?: Record<string, string | undefined>) => ReturnType<typeof runInProcessOrSpawn> } {
  const home = tempDir("expflow-agent-");
  const registry = join(home, "experiments.jsonl");
  return { home, registry, run: (args, extra = {}) => runInProcessOrSpawn(args, { env: { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: registry, ...extra }, cwd: home }) };
}

async function submit(run: (args: string[]) => ReturnType<typeof runInProcessOrSpawn>, ...command: string[]): Promise<string> {
  const r = await run(["run", "submit", "--", ...command]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

const node = process.execPath;

describe("expflow agent --once", () => {
  it("runs the queue first-in first-out, completes and fails runs, writes logs, exits 1 when any failed", async () => {
    const { home, registry, run } = env();
    const order = join(home, "order.txt");
    const s = script(home, "step.cjs", `require("fs").appendFileSync(${JSON.stringify(order)}, process.env.EXPFLOW_EXPERIMENT_ID + "\\n"); console.log("step " + process.argv[2]); process.exit(Number(process.argv[3] ?? 0));`);
    const ids = [await submit(run, node, s, "one"), await submit(run, node, s, "two", "3"), await submit(run, node, s, "three")];
    const other = (await run(["run", "submit", "--queue", "gpu", "--", node, s, "gpu"])).stdout.trim();
    const r = await run(["agent", "--once"]);
    expect(r.code, r.stderr).toBe(1);
    expect(readFileSync(order, "utf8").trim().split("\n")).toEqual(ids);
    expect(ids.map((id) => latest(registry, id)!["status"])).toEqual(["completed", "failed", "completed"]);
    expect(latest(registry, ids[1]!)).toMatchObject({ reason: "exit code 3", exit_code: 3 });
    expect(latest(registry, other)!["status"]).toBe("queued");
    expect(readFileSync(join(home, "logs", `${ids[0]}.log`), "utf8")).toContain("step one\n");
    expect(r.stdout).toMatch(/drained; 1 run failed/);
  });

  it("exits 0 when every run completed, and when nothing is queued", async () => {
    const { run } = env();
    expect((await run(["agent", "--once"])).code).toBe(0);
    await submit(run, node, "-e", "");
    expect((await run(["agent", "--once"])).code).toBe(0);
  });

  it("ingests the metrics file: JSON lines, later values winning, unregistered names kept as custom metrics, invalid entries kept in rejected_metrics", async () => {
    const { home, registry, run } = env();
    const s = script(
      home,
      "metrics.cjs",
      `const fs = require("fs"); const f = process.env.EXPFLOW_METRICS_FILE;
fs.appendFileSync(f, JSON.stringify({ pde_mean: 30, seg_total: 50 }) + "\\n");
fs.appendFileSync(f, JSON.stringify({ pde_mean: 14.5, pde_maen: 1, epochs: "lots" }) + "\\n");
fs.appendFileSync(f, "not json\\n");
fs.appendFileSync(f, JSON.stringify({ train_time_min: 42 }) + "\\n");`,
    );
    const id = await submit(run, node, s);
    expect((await run(["agent", "--once"])).code).toBe(0);
    const rec = latest(registry, id)!;
    expect(rec["status"]).toBe("completed");
    expect(rec["metrics"]).toEqual({ pde_mean: 14.5, seg_total: 50, pde_maen: 1, train_time_min: 42 });
    // In the order they came (each entry is judged as it is read).
    const rejected = rec["rejected_metrics"] as { name: string | null; value: unknown; reason: string }[];
    expect(rejected.map((x) => [x.name, x.value])).toEqual([
      ["epochs", "lots"],
      [null, "not json"],
    ]);
    const log = readFileSync(join(home, "logs", `${id}.log`), "utf8");
    expect(log).toMatch(/note: custom metric 'pde_maen' \(not registered\) kept as reported; .* 'pde_maen': Did you mean 'pde_mean'\?/);
    expect(log).toMatch(/rejected metric 'epochs'/);
  });

  it("reads a single JSON object and records train_time_min from wall time when the run did not report it", async () => {
    const { home, registry, run } = env();
    const s = script(home, "one.cjs", `require("fs").writeFileSync(process.env.EXPFLOW_METRICS_FILE, JSON.stringify({ seg_total: 7 }, null, 2));`);
    const id = await submit(run, node, s);
    expect((await run(["agent", "--once"])).code).toBe(0);
    const metrics = latest(registry, id)!["metrics"] as Record<string, unknown>;
    expect(metrics["seg_total"]).toBe(7);
    expect(typeof metrics["train_time_min"]).toBe("number");
    expect(metrics["train_time_min"]).toBeGreaterThanOrEqual(0);
  });

  it("gives the command EXPFLOW_EXPERIMENT_ID and EXPFLOW_METRICS_FILE, and passes arguments without a shell", async () => {
    const { home, run } = env();
    const s = script(home, "env.cjs", `console.log(JSON.stringify({ id: process.env.EXPFLOW_EXPERIMENT_ID, file: process.env.EXPFLOW_METRICS_FILE, args: process.argv.slice(2) }));`);
    const id = await submit(run, node, s, "$HOME", "a;b", "`x`");
    expect((await run(["agent", "--once"])).code).toBe(0);
    const line = readFileSync(join(home, "logs", `${id}.log`), "utf8").split("\n").find((l) => l.startsWith("{"))!;
    expect(JSON.parse(line)).toEqual({ id, file: join(home, "metrics", `${id}.jsonl`), args: ["$HOME", "a;b", "`x`"] });
  });

  it("runs a record of the earlier tool (a command string, no argv) through the shell, and says so in the log", async () => {
    const home = tempDir("expflow-agent-");
    const registry = writeRegistry([record("exp-legacy1", {}, { status: "queued", command: "echo legacy:$EXPFLOW_EXPERIMENT_ID", metrics: {} })], home);
    const r = await runInProcessOrSpawn(["agent", "--once", "--registry", registry], { env: { EXPFLOW_HOME: home }, cwd: home });
    expect(r.code, r.stderr).toBe(0);
    expect(latest(registry, "exp-legacy1")!["status"]).toBe("completed");
    const log = readFileSync(join(home, "logs", "exp-legacy1.log"), "utf8");
    expect(log).toContain("legacy:exp-legacy1\n");
    expect(log).toMatch(/earlier tool.*\/bin\/sh -c/);
  });

  it("--concurrency 2 runs two at once (two runs that wait for each other both complete)", async () => {
    const { home, registry, run } = env();
    const s = script(
      home,
      "meet.cjs",
      `const fs = require("fs"); const [me, other] = process.argv.slice(2);
fs.writeFileSync(${JSON.stringify(home)} + "/" + me, "");
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(home)} + "/" + other)) { clearInterval(t); process.exit(0); } }, 20);
setTimeout(() => process.exit(9), 20000);`,
    );
    const a = await submit(run, node, s, "a.flag", "b.flag");
    const b = await submit(run, node, s, "b.flag", "a.flag");
    expect((await run(["agent", "--once", "--concurrency", "2"])).code).toBe(0);
    expect([latest(registry, a)!["status"], latest(registry, b)!["status"]]).toEqual(["completed", "completed"]);
  });
});

describe("expflow agent (serving)", () => {
  it("on SIGTERM stops its running run's process group, fails it with the reason, and exits 143", async () => {
    const { home, registry, run } = env();
    const pidFile = join(home, "pids");
    const s = script(
      home,
      "hang.cjs",
      `const { spawn } = require("child_process");
const c = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
require("fs").writeFileSync(${JSON.stringify(pidFile)}, process.pid + " " + c.pid);
setInterval(() => {}, 1000);`,
    );
    const agent = spawnCli(["agent", "--registry", registry], { env: { EXPFLOW_HOME: home }, cwd: home });
    try {
      const id = await submit(run, node, s);
      const pids = await waitForPids(pidFile, 2);
      await waitFor(() => (latest(registry, id)!["runner"] as { pgid?: number } | undefined)?.pgid, "the runner record");
      agent.child.kill("SIGTERM");
      const exit = await agent.exited;
      expect(exit.code, exit.stdout + exit.stderr).toBe(143);
      const rec = latest(registry, id)!;
      expect(rec).toMatchObject({ status: "failed", reason: "agent interrupted (SIGTERM)" });
      expect((rec["history"] as { event: string; reason?: string }[]).at(-1)).toMatchObject({ event: "fail", reason: "agent interrupted (SIGTERM)" });
      await waitFor(() => pids.every((p) => !alive(p)), "the run's processes to die");
      expect(exit.stdout).toMatch(/1 run interrupted and failed/);
    } finally {
      agent.child.kill("SIGKILL");
    }
  });

  it("picks up runs submitted while it waits, and exits 0 on SIGTERM when idle", async () => {
    const { home, registry, run } = env();
    const agent = spawnCli(["agent", "--registry", registry], { env: { EXPFLOW_HOME: home }, cwd: home });
    try {
      const id = await submit(run, node, "-e", "");
      await waitFor(() => latest(registry, id)!["status"] === "completed", "the run to complete");
      agent.child.kill("SIGTERM");
      expect((await agent.exited).code).toBe(0);
    } finally {
      agent.child.kill("SIGKILL");
    }
  });
});

describe("expflow agent and the PIN in its environment", () => {
  // A PIN hash in the scrypt format (of some PIN): the variable must not reach runs either way.
  const PIN_HASH = "scrypt$ln=14,r=12,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

  it("refuses to start while EXPFLOW_PIN is set: exit 2, one line saying to unset it, nothing claimed or run", async () => {
    const { home, registry, run } = env();
    const dump = join(home, "dump.json");
    const id = await submit(run, node, envDumpScript(home, dump));
    const before = readFileSync(registry, "utf8");
    const r = await run(["agent", "--once"], { EXPFLOW_PIN: "1234", EXPFLOW_PIN_HASH: PIN_HASH });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/EXPFLOW_PIN is set: unset it .*--allow-pin-env/);
    expect(r.stderr).not.toContain("1234");
    expect(r.stdout).toBe("");
    expect(latest(registry, id)!["status"]).toBe("queued");
    expect(readFileSync(registry, "utf8")).toBe(before);
    expect(existsSync(dump)).toBe(false);
    expect(existsSync(join(home, "logs", `${id}.log`))).toBe(false);
  });

  it("EXPFLOW_PIN set but empty counts as unset: the run gets neither EXPFLOW_PIN nor EXPFLOW_PIN_HASH nor another EXPFLOW_* secret", async () => {
    const { home, registry, run } = env();
    const dump = join(home, "dump.json");
    const id = await submit(run, node, envDumpScript(home, dump));
    const r = await run(["agent", "--once"], { EXPFLOW_PIN: "", EXPFLOW_PIN_HASH: PIN_HASH, EXPFLOW_CLEARML_TOKEN: "tok", KEEP_ME: "yes" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    const { env: runEnv, parent } = readEnvDump(dump);
    for (const name of ["EXPFLOW_PIN", "EXPFLOW_PIN_HASH", "EXPFLOW_CLEARML_TOKEN"]) expect(runEnv, name).not.toHaveProperty(name);
    expect(runEnv).toMatchObject({ KEEP_ME: "yes", EXPFLOW_HOME: home, EXPFLOW_REGISTRY: registry, EXPFLOW_EXPERIMENT_ID: id, EXPFLOW_METRICS_FILE: join(home, "metrics", `${id}.jsonl`) });
    // The agent's own environment held no PIN to read.
    if (parent !== null) expect(parent["EXPFLOW_PIN"] ?? "").toBe("");
  });

  it("--allow-pin-env starts anyway, warning that runs can read the PIN from /proc; the run's environment still lacks it", async () => {
    const { home, registry, run } = env();
    const dump = join(home, "dump.json");
    const id = await submit(run, node, envDumpScript(home, dump));
    const r = await run(["agent", "--once", "--allow-pin-env"], { EXPFLOW_PIN: "1234", EXPFLOW_PIN_HASH: PIN_HASH });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: EXPFLOW_PIN is set and --allow-pin-env is given: runs started here can read the PIN from \/proc\/\d+\/environ$/m);
    expect(latest(registry, id)!["status"]).toBe("completed");
    const { env: runEnv, parent } = readEnvDump(dump);
    expect(runEnv).not.toHaveProperty("EXPFLOW_PIN");
    expect(runEnv).not.toHaveProperty("EXPFLOW_PIN_HASH");
    // What the warning says, and why the agent refuses without the flag.
    if (parent !== null) expect(parent["EXPFLOW_PIN"]).toBe("1234");
  });
});
