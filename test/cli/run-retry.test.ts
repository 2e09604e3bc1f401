// Issue 14, retry: Ctrl-C on an agent fails the runs in progress, and nothing could requeue them
// (`run retry` was "did you mean restore?"). `run retry ID` and `run retry --interrupted` requeue
// them as new runs linked to the originals.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { record, runInProcessOrSpawn, tempDir, writeRegistry } from "../helpers/cli.js";
import { latest, script, snapshots, spawnCli, waitFor } from "../helpers/runs.js";

const node = process.execPath;

function env() {
  const home = tempDir("expflow-retry-");
  const registry = join(home, "experiments.jsonl");
  const run = (args: string[], extra: Record<string, string | undefined> = {}) =>
    runInProcessOrSpawn(args, { env: { EXPFLOW_HOME: home, EXPFLOW_REGISTRY: registry, EXPFLOW_PIN: undefined, ...extra }, cwd: home });
  return { home, registry, run };
}

describe("run retry", () => {
  it("an agent stopped with SIGINT fails its run; run retry --interrupted requeues it once, and the agent then completes it", async () => {
    const { home, registry, run } = env();
    const marker = join(home, "first-try");
    // The first try waits to be interrupted; the retry finds the marker and completes.
    const s = script(home, "flaky.cjs", `const fs = require("fs"); if (fs.existsSync(${JSON.stringify(marker)})) process.exit(0); fs.writeFileSync(${JSON.stringify(marker)}, ""); setInterval(() => {}, 1000);`);
    const id = (await run(["run", "submit", "--name", "train", "--tags", "t1", "--arg", "lr=0.1", "--", node, s])).stdout.trim();
    const agent = spawnCli(["agent", "--registry", registry], { env: { EXPFLOW_HOME: home }, cwd: home });
    try {
      await waitFor(() => existsSync(marker) && latest(registry, id)!["status"] === "running", "the first try to run");
      agent.child.kill("SIGINT");
      expect((await agent.exited).code).toBe(130);
    } finally {
      agent.child.kill("SIGKILL");
    }
    expect(latest(registry, id)).toMatchObject({ status: "failed", reason: "agent interrupted (SIGINT)" });
    const r = await run(["run", "retry", "--interrupted", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { retried: { of: string; id: string; queue: string; status: string }[]; alreadyRetried: string[] };
    expect(report.retried).toHaveLength(1);
    const retry = report.retried[0]!;
    expect(retry).toMatchObject({ of: id, queue: "default", status: "queued" });
    const made = latest(registry, retry.id)!;
    expect(made).toMatchObject({ retry_of: id, name: "train", tags: ["t1"], params: { "Args/lr": "0.1" }, argv: latest(registry, id)!["argv"] });
    expect((made["history"] as { event: string; reason?: string }[])[0]).toMatchObject({ event: "create", reason: `retry of ${id} (failed: agent interrupted (SIGINT))` });
    // The original is as it was.
    expect(latest(registry, id)).toMatchObject({ status: "failed" });
    // Once is enough: a second --interrupted finds it retried.
    const again = await run(["run", "retry", "--interrupted"]);
    expect(again.stdout).toContain("No interrupted run to retry.");
    expect(again.stdout).toContain(`retried already: ${id}`);
    expect((await run(["agent", "--once"])).code).toBe(0);
    expect(latest(registry, retry.id)).toMatchObject({ status: "completed" });
  });

  it("run retry ID requeues a failed or cancelled run (on another queue with --queue); a finished or running one is exit 2", async () => {
    const home = tempDir("expflow-retry-");
    const registry = writeRegistry(
      [
        record("exp-cancelled1", {}, { status: "cancelled", argv: ["echo", "hi"], command: "echo hi", cwd: home, queue: "gpu" }),
        record("exp-done00001", { pde_mean: 1 }, { status: "completed" }),
        record("exp-running01", {}, { status: "running" }),
        // The earlier tool's record: only a command line, run through the shell.
        record("exp-legacy001", {}, { status: "failed", command: "python train.py --sub_step 2" }),
      ],
      home,
    );
    const run = (args: string[]) => runInProcessOrSpawn([...args, "--registry", registry], { env: { EXPFLOW_HOME: home }, cwd: home });
    const r = await run(["run", "retry", "exp-cancelled1", "--queue", "cpu"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Retried exp-cancelled1 as (exp-\w+) \(queued on 'cpu'\)\.\n$/);
    const newId = /as (exp-\w+)/.exec(r.stdout)![1]!;
    expect(latest(registry, newId)).toMatchObject({ retry_of: "exp-cancelled1", queue: "cpu", argv: ["echo", "hi"], shell: false, status: "queued" });
    const legacy = await run(["run", "retry", "exp-legacy001", "--json"]);
    const legacyId = (JSON.parse(legacy.stdout) as { retried: { id: string }[] }).retried[0]!.id;
    expect(latest(registry, legacyId)).toMatchObject({ argv: ["python train.py --sub_step 2"], shell: true, command: "python train.py --sub_step 2" });
    for (const id of ["exp-done00001", "exp-running01"]) {
      const refused = await run(["run", "retry", id]);
      expect(refused.code, id).toBe(2);
      expect(refused.stderr).toMatch(/cannot retry .*only failed or cancelled runs can be retried/);
    }
    expect((await run(["run", "retry"])).code).toBe(2);
    expect((await run(["run", "retry", "exp-cancelled1", "--interrupted"])).code).toBe(2);
    expect((await run(["run", "retry", "exp-nope"])).code).toBe(2);
    const before = snapshots(registry).length;
    expect((await run(["run", "retry", "--interrupted"])).stdout).toBe("No interrupted run to retry.\n");
    expect(snapshots(registry).length).toBe(before);
  });
});
