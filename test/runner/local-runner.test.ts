import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MetricRegistry } from "../../src/core/metrics/registry.js";
import { invocationOf, LocalRunner, logPathOf, metricsPathOf, queuedRuns, queueTime, shellQuote } from "../../src/runner/local-runner.js";
import { RegistryWriter } from "../../src/stores/local/registry-writer.js";
import type { RegistryRecord } from "../../src/stores/local/record.js";
import { tempDir } from "../helpers/cli.js";
import { alive, script, waitFor, waitForPids } from "../helpers/runs.js";

function setup(): { home: string; writer: RegistryWriter; runner: LocalRunner; events: string[] } {
  const home = tempDir("expflow-runner-");
  const writer = new RegistryWriter(join(home, "experiments.jsonl"), { now: () => new Date(), who: "tester@host" });
  const events: string[] = [];
  const runner = new LocalRunner({
    writer,
    home,
    metrics: MetricRegistry.standard(),
    host: "test-host",
    env: { ...process.env, EXPFLOW_PIN: "1234" },
    cwd: home,
    pollMs: 50,
    graceMs: 2_000,
    onEvent: (m) => events.push(m),
  });
  return { home, writer, runner, events };
}

let counter = 0;
async function queued(writer: RegistryWriter, extra: Partial<RegistryRecord>, time = new Date().toISOString()): Promise<string> {
  const id = `exp-test${String(++counter).padStart(4, "0")}`;
  await writer.create({
    experiment_id: id,
    status: "queued",
    queue: "default",
    history: [{ event: "queue", from: "dispatched", to: "queued", time, who: "t" }],
    metrics: {},
    ...extra,
  });
  return id;
}

describe("shellQuote and invocationOf", () => {
  it("quotes only what needs it", () => {
    expect(shellQuote("train.py")).toBe("train.py");
    expect(shellQuote("--lr=3e-4")).toBe("--lr=3e-4");
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("$HOME;")).toBe("'$HOME;'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote("")).toBe("''");
  });

  it("runs argv directly, shell records through /bin/sh -c, and legacy string commands through the shell with a note", () => {
    expect(invocationOf({ experiment_id: "e", argv: ["python", "t.py"], command: "python t.py" })).toMatchObject({ file: "python", args: ["t.py"], shell: false });
    expect(invocationOf({ experiment_id: "e", argv: ["echo $X"], command: "echo $X", shell: true })).toMatchObject({ file: "/bin/sh", args: ["-c", "echo $X"], shell: true });
    const legacy = invocationOf({ experiment_id: "e", command: "python train.py --sub_step 2" });
    expect(legacy).toMatchObject({ file: "/bin/sh", args: ["-c", "python train.py --sub_step 2"], shell: true });
    expect(legacy?.note).toMatch(/earlier tool.*\/bin\/sh -c/);
    expect(invocationOf({ experiment_id: "e", command: ["ls", "-l"] })).toMatchObject({ file: "ls", args: ["-l"], shell: false });
    expect(invocationOf({ experiment_id: "e" })).toBeUndefined();
  });
});

describe("queuedRuns", () => {
  it("orders by queue time, then file order; other queues and states are left out", async () => {
    const { writer } = setup();
    const late = await queued(writer, {}, "2026-01-02T00:00:00Z");
    const early = await queued(writer, {}, "2026-01-01T00:00:00Z");
    const tie = await queued(writer, {}, "2026-01-02T00:00:00Z");
    await queued(writer, { queue: "gpu" }, "2025-01-01T00:00:00Z");
    await queued(writer, { status: "running" }, "2025-01-01T00:00:00Z");
    expect(queuedRuns(writer.path, "default").map((r) => r.experiment_id)).toEqual([early, late, tie]);
  });

  it("falls back to the timestamp, and counts records with neither as oldest", () => {
    expect(queueTime({ experiment_id: "e", timestamp: "2026-01-01T00:00:00Z" })).toBe(Date.parse("2026-01-01T00:00:00Z"));
    expect(queueTime({ experiment_id: "e", timestamp: 1_700_000_000 })).toBe(1_700_000_000_000);
    expect(queueTime({ experiment_id: "e" })).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe("LocalRunner", () => {
  it("claims a queued run once: a second claim of the same run is refused", async () => {
    const { writer, runner } = setup();
    const id = await queued(writer, { argv: ["true"] });
    const first = await runner.claim(id);
    expect(first?.status).toBe("running");
    expect(first?.history?.at(-1)).toMatchObject({ event: "start", from: "queued", to: "running" });
    expect(await runner.claim(id)).toBeUndefined();
    expect(await runner.claimNext("default")).toBeUndefined();
  });

  it("never claims a run dispatched to ClearML, whatever queue name it carries (its clearml-agent runs it)", async () => {
    const { writer, runner } = setup();
    const linked = await queued(writer, { argv: ["true"], method: "clearml", clearml_task_id: "0123abcd", clearml_server: "http://127.0.0.1:1" });
    // The earlier tool recorded a task id with its own `method` (the model's): linked all the same.
    const older = await queued(writer, { argv: ["true"], method: "fno", clearml_task_id: "4567cdef" });
    const local = await queued(writer, { argv: ["true"] });
    expect(queuedRuns(writer.path, "default").map((r) => r.experiment_id)).toEqual([local]);
    expect(await runner.claim(linked)).toBeUndefined();
    expect(await runner.claim(older)).toBeUndefined();
    expect((await runner.claimNext("default"))?.experiment_id).toBe(local);
    expect(await runner.claimNext("default")).toBeUndefined();
  });

  it("runs a command, records runner info, ingests metrics and completes", async () => {
    const { home, writer, runner } = setup();
    const code = `const fs = require("fs");
fs.appendFileSync(process.env.EXPFLOW_METRICS_FILE, JSON.stringify({ pde_mean: 14.2, train_time_min: 41 }) + "\\n");
console.log("id=" + process.env.EXPFLOW_EXPERIMENT_ID + " pin=" + (process.env.EXPFLOW_PIN ?? "none"));`;
    const id = await queued(writer, { argv: [process.execPath, script(home, "ok.cjs", code)] });
    const record = await runner.claimNext("default");
    const result = await runner.start(record!).done;
    expect(result).toMatchObject({ id, status: "completed", exitCode: 0, signal: null, reason: null });
    const r = result.record!;
    expect(r.metrics).toEqual({ pde_mean: 14.2, train_time_min: 41 });
    expect(r["runner"]).toMatchObject({ host: "test-host", pid: expect.any(Number), pgid: expect.any(Number), started_at: expect.any(String) });
    expect(r.history?.at(-1)).toMatchObject({ event: "complete", from: "running", to: "completed" });
    const log = readFileSync(logPathOf(home, id), "utf8");
    expect(log).toContain(`id=${id} pin=none`);
    expect(statSync(join(home, "logs")).mode & 0o777).toBe(0o700);
    expect(existsSync(metricsPathOf(home, id))).toBe(true);
  });

  it("fails a command that cannot start, with the reason", async () => {
    const { writer, runner } = setup();
    const id = await queued(writer, { argv: ["/nonexistent/expflow-no-such-binary"] });
    const result = await runner.start((await runner.claim(id))!).done;
    expect(result.status).toBe("failed");
    expect(result.reason).toMatch(/could not start .*ENOENT/);
    expect(result.record?.metrics).toEqual({});
  });

  it("interrupt stops the process group and fails the run with the reason", async () => {
    const { home, writer, runner } = setup();
    const pidFile = join(home, "pids");
    const code = `const { spawn } = require("child_process");
const c = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
require("fs").writeFileSync(${JSON.stringify(pidFile)}, process.pid + " " + c.pid);
setInterval(() => {}, 1000);`;
    const id = await queued(writer, { argv: [process.execPath, script(home, "hang.cjs", code)] });
    const handle = runner.start((await runner.claim(id))!);
    const pids = await waitForPids(pidFile, 2, "the pid file");
    expect(pids.length).toBe(2);
    handle.interrupt("agent interrupted (SIGTERM)");
    const result = await handle.done;
    expect(result.status).toBe("failed");
    expect(result.record?.["reason"]).toBe("agent interrupted (SIGTERM)");
    expect(result.record?.history?.at(-1)).toMatchObject({ event: "fail", reason: "agent interrupted (SIGTERM)" });
    await waitFor(() => pids.every((p) => !alive(p)), "the run's processes to die");
  });

  it("a run cancelled in the registry is stopped and stays cancelled, its metrics still ingested", async () => {
    const { home, writer, runner } = setup();
    const code = `require("fs").writeFileSync(process.env.EXPFLOW_METRICS_FILE, JSON.stringify({ seg_total: 5, seg1: "ten" }));
setInterval(() => {}, 1000);`;
    const id = await queued(writer, { argv: [process.execPath, script(home, "cancelme.cjs", code)] });
    const handle = runner.start((await runner.claim(id))!);
    await waitFor(() => existsSync(metricsPathOf(home, id)), "the metrics file");
    await writer.transition(id, "cancel");
    const result = await handle.done;
    expect(result.status).toBe("cancelled");
    expect(result.record?.metrics).toMatchObject({ seg_total: 5 });
    expect(result.record?.["rejected_metrics"]).toEqual([{ name: "seg1", value: "ten", reason: expect.stringMatching(/finite number/) }]);
    expect(result.record?.history?.map((h) => (h as { event: string }).event)).toEqual(["queue", "start", "cancel"]);
    expect(readFileSync(logPathOf(home, id), "utf8")).toMatch(/rejected metric 'seg1'/);
  });

  it("a run inherits neither EXPFLOW_PIN, EXPFLOW_PIN_HASH nor any other EXPFLOW_* secret; other variables pass", async () => {
    const home = tempDir("expflow-runner-");
    const writer = new RegistryWriter(join(home, "experiments.jsonl"), { now: () => new Date(), who: "tester@host" });
    const secrets = {
      EXPFLOW_PIN: "1234",
      EXPFLOW_PIN_HASH: "scrypt$ln=14,r=12,p=1$c2FsdA$aGFzaA",
      EXPFLOW_CLEARML_TOKEN: "tok",
      EXPFLOW_API_KEY: "k",
      EXPFLOW_DB_PASSWORD: "pw",
      EXPFLOW_SIGNING_SECRET: "s",
      expflow_pin: "1234",
    };
    const runner = new LocalRunner({
      writer,
      home,
      metrics: MetricRegistry.standard(),
      host: "test-host",
      env: { PATH: process.env["PATH"], EXPFLOW_HOME: home, EXPFLOW_REGISTRY: writer.path, CLEARML_API_SECRET_KEY: "clearml-needs-it", EXPFLOW_EXPERIMENT_ID: "stale", ...secrets },
      cwd: home,
    });
    const dump = join(home, "env.json");
    const id = await queued(writer, { argv: [process.execPath, script(home, "env.cjs", `require("fs").writeFileSync(${JSON.stringify(dump)}, JSON.stringify(process.env));`)] });
    expect((await runner.start((await runner.claim(id))!).done).status).toBe("completed");
    const env = JSON.parse(readFileSync(dump, "utf8")) as Record<string, string>;
    for (const name of Object.keys(secrets)) expect(env, name).not.toHaveProperty(name);
    expect(env).toMatchObject({ EXPFLOW_HOME: home, EXPFLOW_REGISTRY: writer.path, CLEARML_API_SECRET_KEY: "clearml-needs-it", EXPFLOW_EXPERIMENT_ID: id, EXPFLOW_METRICS_FILE: metricsPathOf(home, id) });
  });
});

describe("paths built from ids (issue 11)", () => {
  it("logPathOf and metricsPathOf refuse an id that is not a name: no path is built from it", () => {
    const home = tempDir();
    for (const id of ["../experiments", "../../..", "", "a/b"]) {
      expect(() => logPathOf(home, id)).toThrow(expect.objectContaining({ code: "E_BAD_ID" }));
      expect(() => metricsPathOf(home, id)).toThrow(expect.objectContaining({ code: "E_BAD_ID" }));
    }
    expect(logPathOf(home, "exp-1")).toBe(join(home, "logs", "exp-1.log"));
  });

  it("queuedRuns leaves out records whose id is a path", () => {
    const home = tempDir();
    const path = join(home, "experiments.jsonl");
    writeFileSync(path, ["../experiments", "exp-ok"].map((id) => JSON.stringify({ experiment_id: id, status: "queued", argv: ["true"] })).join("\n") + "\n");
    expect(queuedRuns(path, "default").map((r) => r.experiment_id)).toEqual(["exp-ok"]);
  });
});

describe("LocalRunner: runner errors and left-over processes", () => {
  it("a runner error fails the run with the reason instead of leaving it running", async () => {
    const { home, writer } = setup();
    const events: string[] = [];
    const standard = MetricRegistry.standard();
    // A metrics registry that breaks inside ingestion: a bug, not bad content.
    const broken = Object.create(standard) as MetricRegistry;
    broken.resolve = () => {
      throw new RangeError("Maximum call stack size exceeded");
    };
    const runner = new LocalRunner({ writer, home, metrics: broken, host: "h", env: process.env, cwd: home, pollMs: 50, onEvent: (m) => events.push(m) });
    const id = await queued(writer, { argv: [process.execPath, script(home, "m.cjs", `require("fs").writeFileSync(process.env.EXPFLOW_METRICS_FILE, '{"pde_mean": 1}')`)] });
    const result = await runner.start((await runner.claim(id))!).done;
    expect(result).toMatchObject({ status: "failed", reason: "runner error: Maximum call stack size exceeded", runnerError: "runner error: Maximum call stack size exceeded" });
    expect(result.record).toMatchObject({ status: "failed", reason: "runner error: Maximum call stack size exceeded" });
    expect(result.record?.history?.at(-1)).toMatchObject({ event: "fail", from: "running", to: "failed" });
    expect(readFileSync(logPathOf(home, id), "utf8")).toMatch(/run failed: runner error: Maximum call stack/);
    expect(events.join("\n")).toMatch(/runner error/);
  });

  it("processes the command left in its group are stopped when it exits (SIGKILL for those that ignore SIGTERM), and the log says so", async () => {
    const { home, writer, runner } = setup();
    const pidFile = join(home, "pids");
    const id = await queued(writer, { shell: true, command: `sleep 301 & echo $! >> ${pidFile}; sh -c 'trap "" TERM; echo $$ >> ${pidFile}; exec sleep 302' & while [ "$(wc -l < ${pidFile})" -lt 2 ]; do sleep 0.05; done; exit 0` });
    const result = await runner.start((await runner.claim(id))!).done;
    expect(result.status).toBe("completed");
    const pids = readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
    expect(pids).toHaveLength(2);
    await waitFor(() => pids.every((p) => !alive(p)), "the left-over processes to go");
    const log = readFileSync(logPathOf(home, id), "utf8");
    expect(log).toMatch(/processes are left in the run's process group \d+ after the command ended: stopping them \(SIGTERM, SIGKILL after 2 s\)/);
    expect(log).toMatch(/left-over processes killed \(SIGKILL\)/);
  }, 30_000);
});
