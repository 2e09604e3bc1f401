import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runInProcessOrSpawn, tempDir } from "../helpers/cli.js";
import { alive, latest, script, snapshots, spawnCli, waitFor, waitForPids } from "../helpers/runs.js";

/** A fresh home and registry; `run` runs the CLI in this process, spawned for the agent. */
function env(): { home: string; registry: string; run: (args: string[], input?: string, extra?: Record<string, string>) => ReturnType<typeof runInProcessOrSpawn> } {
  const home = tempDir("expflow-cancel-");
  const registry = join(home, "experiments.jsonl");
  return { home, registry, run: (args, input, extra = {}) => runInProcessOrSpawn(args, { env: { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: registry, EXPFLOW_PIN: undefined, ...extra }, cwd: home, input }) };
}

async function submit(run: (args: string[]) => ReturnType<typeof runInProcessOrSpawn>, ...command: string[]): Promise<string> {
  const r = await run(["run", "submit", "--", ...command]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe("expflow run cancel", () => {
  it("cancels a queued run (by a unique prefix), with a history entry and an audit record; the agent then skips it", async () => {
    const { home, registry, run } = env();
    const id = await submit(run, process.execPath, "-e", "");
    const r = await run(["run", "cancel", id.slice(0, 10)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Cancelled ${id} (it was queued)`);
    const rec = latest(registry, id)!;
    expect(rec["status"]).toBe("cancelled");
    expect((rec["history"] as { event: string; from: string }[]).at(-1)).toMatchObject({ event: "cancel", from: "queued", to: "cancelled" });
    const audit = readFileSync(join(home, "audit.jsonl"), "utf8");
    expect(audit).toContain('"action":"run.cancel"');
    expect(audit).toContain(id);
    expect((await run(["agent", "--once"])).code).toBe(0);
    expect(latest(registry, id)!["status"]).toBe("cancelled");
    expect(existsSync(join(home, "logs", `${id}.log`))).toBe(false);
  });

  it("refuses to cancel a finished run with exit 2, naming its state", async () => {
    const { registry, run } = env();
    const id = await submit(run, process.execPath, "-e", "");
    expect((await run(["agent", "--once"])).code).toBe(0);
    const r = await run(["run", "cancel", id]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot cancel .* it is completed/);
    expect(latest(registry, id)!["status"]).toBe("completed");
  });

  it("an unknown id is exit 2", async () => {
    const { run } = env();
    await submit(run, "true");
    const r = await run(["run", "cancel", "exp-nothere"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no experiment 'exp-nothere'/);
  });

  it("with a PIN set, cancelling without it is exit 3 and changes nothing; with it, the run is cancelled", async () => {
    const { registry, run } = env();
    expect((await run(["pin", "init", "--new-pin-stdin"], "4821\n")).code).toBe(0);
    const id = await submit(run, "true");
    const before = snapshots(registry);
    const denied = await run(["run", "cancel", id]);
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/PIN is required to cancel run .* \(run\.cancel\)/);
    expect(snapshots(registry)).toEqual(before);
    const wrong = await run(["run", "cancel", id, "--pin-stdin"], "0000\n");
    expect(wrong.code).toBe(3);
    expect(snapshots(registry)).toEqual(before);
    const ok = await run(["run", "cancel", id, "--pin-stdin"], "4821\n");
    expect(ok.code, ok.stderr).toBe(0);
    expect(latest(registry, id)!["status"]).toBe("cancelled");
  });

  it("stops a command a background agent is running: its process group dies and the run ends cancelled", async () => {
    const { home, registry, run } = env();
    const pidFile = join(home, "pids");
    const s = script(
      home,
      "hang.cjs",
      `const { spawn } = require("child_process");
const c = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
require("fs").writeFileSync(process.env.EXPFLOW_METRICS_FILE, JSON.stringify({ seg1: 1 }));
require("fs").writeFileSync(${JSON.stringify(pidFile)}, process.pid + " " + c.pid);
setInterval(() => {}, 1000);`,
    );
    const agent = spawnCli(["agent"], { env: { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: registry }, cwd: home });
    try {
      const id = await submit(run, process.execPath, s);
      const pids = await waitForPids(pidFile, 2);
      await waitFor(() => (latest(registry, id)!["runner"] as { pgid?: number } | undefined)?.pgid, "the runner record");
      expect(pids.every(alive)).toBe(true);
      const r = await run(["run", "cancel", id]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Cancelled ${id} \\(it was running\\); (stopped|killed) its process group|its process group had already ended`));
      await waitFor(() => pids.every((p) => !alive(p)), "the run's processes to die");
      // The agent records the end (metrics ingested) and leaves the run cancelled.
      await waitFor(() => latest(registry, id)!["finished_at"] !== undefined, "the agent to record the end");
      const rec = latest(registry, id)!;
      expect(rec["status"]).toBe("cancelled");
      expect(rec["metrics"]).toMatchObject({ seg1: 1 });
      expect((rec["history"] as { event: string }[]).map((h) => h.event)).toEqual(["create", "dispatch", "queue", "start", "cancel"]);
      // The agent keeps serving, and stops idle with 0.
      agent.child.kill("SIGTERM");
      expect((await agent.exited).code).toBe(0);
    } finally {
      agent.child.kill("SIGKILL");
    }
  });
});
