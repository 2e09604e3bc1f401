import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runInProcessOrSpawn, tempDir } from "../helpers/cli.js";
import { alive, envDumpScript, latest, readEnvDump, script, snapshots, spawnCli, waitFor } from "../helpers/runs.js";

/** A fresh home and registry for one test; `run` runs the CLI in this process, spawned for --wait. */
function env(): { home: string; registry: string; run: (args: string[], input?: string, extra?: Record<string, string | undefined>) => ReturnType<typeof runInProcessOrSpawn> } {
  const home = tempDir("expflow-submit-");
  // The registry's directory exists: a --registry in a missing directory is exit 2 (issue 11).
  mkdirSync(join(home, "reg"));
  const registry = join(home, "reg", "experiments.jsonl");
  return { home, registry, run: (args, input, extra = {}) => runInProcessOrSpawn(args, { env: { EXPFLOW_HOME: home, ...extra }, cwd: home, input }) };
}

describe("expflow run submit", () => {
  it("creates a queued record with its history and prints the id", async () => {
    const { home, registry, run } = env();
    const r = await run(["run", "submit", "--registry", registry, "--name", "n1", "--project", "P", "--tags", "a,b", "--queue", "gpu", "--", "python", "train.py", "--epochs", "3"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^exp-[0-9a-z]{12}$/);
    const rec = latest(registry, id)!;
    expect(rec).toMatchObject({
      experiment_id: id,
      name: "n1",
      status: "queued",
      queue: "gpu",
      command: "python train.py --epochs 3",
      argv: ["python", "train.py", "--epochs", "3"],
      shell: false,
      cwd: home,
      project: "P",
      tags: ["a", "b"],
      method: "local",
      clearml_task_id: null,
      metrics: {},
      params: {},
      archived: false,
      rev: 1,
    });
    expect(Number.isNaN(Date.parse(String(rec["timestamp"])))).toBe(false);
    expect((rec["history"] as { event: string; from: string | null; to: string }[]).map((h) => [h.event, h.from, h.to])).toEqual([
      ["create", null, "created"],
      ["dispatch", "created", "dispatched"],
      ["queue", "dispatched", "queued"],
    ]);
    expect(snapshots(registry)).toHaveLength(1);
  });

  it("--json prints the record; --arg becomes Args/k and --k v; the display command is shell-quoted", async () => {
    const { registry, run } = env();
    const r = await run(["run", "submit", "--registry", registry, "--json", "--arg", "lr=3e-4", "--arg", "note=a b", "--", "python", "train.py", "it's"]);
    expect(r.code).toBe(0);
    const rec = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(rec["params"]).toEqual({ "Args/lr": "3e-4", "Args/note": "a b" });
    expect(rec["argv"]).toEqual(["python", "train.py", "it's", "--lr", "3e-4", "--note", "a b"]);
    expect(rec["command"]).toBe("python train.py 'it'\\''s' --lr 3e-4 --note 'a b'");
    expect(latest(registry, String(rec["experiment_id"]))).toEqual(rec);
  });

  it("refuses an empty command and a malformed --arg with exit 2, writing nothing", async () => {
    const { registry, run } = env();
    const empty = await run(["run", "submit", "--registry", registry, "--", ""]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/no command to run/);
    for (const bad of ["novalue", "=v", "-x=1"]) {
      const r = await run(["run", "submit", "--registry", registry, "--arg", bad, "--", "true"]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/--arg expects name=value/);
    }
    const twice = await run(["run", "submit", "--registry", registry, "--arg", "a=1", "--arg", "a=2", "--", "true"]);
    expect(twice.code).toBe(2);
    expect(existsSync(registry)).toBe(false);
  });

  it("--wait runs it now: exit 0 when it completes, with the output in the log and the args passed", async () => {
    const { home, registry, run } = env();
    const s = script(home, "echo.cjs", 'console.log("args=" + JSON.stringify(process.argv.slice(2)) + " id=" + process.env.EXPFLOW_EXPERIMENT_ID);');
    const r = await run(["run", "submit", "--registry", registry, "--wait", "--arg", "lr=0.1", "--", process.execPath, s, "$HOME;echo pwned"]);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(r.stderr).toMatch(new RegExp(`${id} completed; log: `));
    const rec = latest(registry, id)!;
    expect(rec["status"]).toBe("completed");
    expect((rec["history"] as { event: string }[]).map((h) => h.event)).toEqual(["create", "dispatch", "queue", "start", "complete"]);
    const log = readFileSync(join(home, "logs", `${id}.log`), "utf8");
    // No shell: `$HOME` and `;` reach the command literally.
    expect(log).toContain(`args=["$HOME;echo pwned","--lr","0.1"] id=${id}`);
    expect(log).not.toContain("pwned\n");
  });

  it("--wait exits 1 when the command fails, recording the reason and exit code", async () => {
    const { registry, run } = env();
    const r = await run(["run", "submit", "--registry", registry, "--wait", "--json", "--", process.execPath, "-e", "process.exit(7)"]);
    expect(r.code).toBe(1);
    const rec = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(rec).toMatchObject({ status: "failed", reason: "exit code 7", exit_code: 7 });
    expect((rec["history"] as { event: string; reason?: string }[]).at(-1)).toMatchObject({ event: "fail", reason: "exit code 7" });
    expect(r.stderr).toMatch(/failed: exit code 7/);
  });

  it("--shell runs the command line through /bin/sh -c", async () => {
    const { home, registry, run } = env();
    const r = await run(["run", "submit", "--registry", registry, "--shell", "--wait", "--", 'echo "shell:$EXPFLOW_EXPERIMENT_ID" && echo second']);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(latest(registry, id)).toMatchObject({ shell: true, command: 'echo "shell:$EXPFLOW_EXPERIMENT_ID" && echo second' });
    const log = readFileSync(join(home, "logs", `${id}.log`), "utf8");
    expect(log).toContain(`shell:${id}\nsecond\n`);
    expect(log).toMatch(/command \(shell\): \/bin\/sh -c/);
  });

  it("--wait interrupted by SIGTERM stops the command's process group, fails the run and exits 143", async () => {
    const { home, registry } = env();
    const pidFile = join(home, "pid");
    const s = script(home, "hang.cjs", `require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);`);
    const cli = spawnCli(["run", "submit", "--registry", registry, "--wait", "--", process.execPath, s], { env: { EXPFLOW_HOME: home }, cwd: home });
    try {
      const pid = await waitFor(() => existsSync(pidFile) && Number(readFileSync(pidFile, "utf8")), "the command to start");
      cli.child.kill("SIGTERM");
      const exit = await cli.exited;
      expect(exit.code, exit.stderr).toBe(143);
      const id = exit.stdout.trim();
      expect(latest(registry, id)).toMatchObject({ status: "failed", reason: "interrupted (SIGTERM)" });
      await waitFor(() => !alive(pid), "the command to die");
    } finally {
      cli.child.kill("SIGKILL");
    }
  });

  it("--wait refuses to start while EXPFLOW_PIN is set: exit 2, one line, nothing written; without --wait the run is queued as usual", async () => {
    const { home, registry, run } = env();
    const dump = join(home, "dump.json");
    const pinEnv = { EXPFLOW_PIN: "1234" };
    const r = await run(["run", "submit", "--registry", registry, "--wait", "--", process.execPath, envDumpScript(home, dump)], "", pinEnv);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/EXPFLOW_PIN is set: unset it before starting run submit --wait.*--allow-pin-env/);
    expect(r.stdout).toBe("");
    const j = await run(["run", "submit", "--registry", registry, "--wait", "--json", "--", process.execPath, envDumpScript(home, dump)], "", pinEnv);
    expect(j.code).toBe(2);
    expect(j.stdout).toBe("");
    expect((JSON.parse(j.stderr) as { error: { code: string } }).error.code).toBe("E_PIN_IN_ENV");
    expect(existsSync(registry)).toBe(false);
    expect(existsSync(join(home, "logs"))).toBe(false);
    expect(existsSync(dump)).toBe(false);

    const queued = await run(["run", "submit", "--registry", registry, "--", "true"], "", pinEnv);
    expect(queued.code, queued.stderr).toBe(0);
    expect(queued.stderr).toBe("");
    expect(latest(registry, queued.stdout.trim())!["status"]).toBe("queued");
  });

  it("--wait --allow-pin-env runs it with a warning; the run's environment has neither EXPFLOW_PIN nor EXPFLOW_PIN_HASH", async () => {
    const { home, registry, run } = env();
    const dump = join(home, "dump.json");
    const r = await run(["run", "submit", "--registry", registry, "--wait", "--allow-pin-env", "--", process.execPath, envDumpScript(home, dump)], "", { EXPFLOW_PIN: "1234", EXPFLOW_PIN_HASH: "scrypt$ln=14,r=12,p=1$c2FsdA$aGFzaA" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: EXPFLOW_PIN is set and --allow-pin-env is given: runs started here can read the PIN from \/proc\/\d+\/environ$/m);
    const id = r.stdout.trim();
    expect(latest(registry, id)!["status"]).toBe("completed");
    const { env: runEnv } = readEnvDump(dump);
    expect(runEnv).not.toHaveProperty("EXPFLOW_PIN");
    expect(runEnv).not.toHaveProperty("EXPFLOW_PIN_HASH");
    expect(runEnv).toMatchObject({ EXPFLOW_HOME: home, EXPFLOW_EXPERIMENT_ID: id });
  });
});
