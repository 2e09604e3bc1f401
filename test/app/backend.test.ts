import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openLocalBackend } from "../../src/app/backend.js";
import { archiveRun, cancelRun } from "../../src/app/runs.js";
import { loadConfig } from "../../src/config/load.js";
import { DeniedError } from "../../src/core/errors.js";
import { dropKeptLocks } from "../../src/util/lock.js";

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
afterEach(() => dropKeptLocks());

/** A local backend on a fresh home, with an `authorize` that records what it was asked and refuses when told to. */
async function backend(refuse = false) {
  const home = mkdtempSync(join(tmpdir(), "expflow-app-"));
  made.push(home);
  const env = { EXPFLOW_HOME: home };
  const config = await loadConfig({ env, cwd: home });
  const asked: string[] = [];
  const b = openLocalBackend({
    config,
    authorize: async (action, target) => {
      asked.push(`${action} ${target}`);
      if (refuse) throw new DeniedError("E_PIN_REQUIRED", "refused by the test");
    },
    env,
    cwd: home,
    host: "test-host",
    who: "tester@test-host",
    now: () => new Date(Date.UTC(2031, 0, 1)),
    warn: () => {},
  });
  return { b, asked, path: config.registry.value };
}

const spec = { argv: ["true"], display: "true", shell: false, cwd: "/", queue: "default", name: "r", tags: ["t"], params: { "Args/lr": "3e-4" } };

describe("the local backend, guarded by construction", () => {
  it("submit records one snapshot: created, dispatched, queued, with the injected clock and who", async () => {
    const { b, path } = await backend();
    const run = await b.executor.submit(spec);
    expect(run).toMatchObject({ status: "queued", name: "r", tags: ["t"], params: { "Args/lr": "3e-4" } });
    const lines = readFileSync(path, "utf8").trim().split("\n");
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(record).slice(0, 4)).toEqual(["experiment_id", "name", "status", "queue"]);
    expect(record["history"]).toEqual([
      { event: "create", from: null, to: "created", time: "2031-01-01T00:00:00.000Z", who: "tester@test-host" },
      { event: "dispatch", from: "created", to: "dispatched", time: "2031-01-01T00:00:00.000Z", who: "tester@test-host" },
      { event: "queue", from: "dispatched", to: "queued", time: "2031-01-01T00:00:00.000Z", who: "tester@test-host" },
    ]);
  });

  it("cancel asks the guard first, then dequeues; a refusal changes nothing", async () => {
    const refused = await backend(true);
    const run = await refused.b.executor.submit(spec);
    const before = readFileSync(refused.path, "utf8");
    await expect(cancelRun(refused.b, run.id.slice(0, 8))).rejects.toBeInstanceOf(DeniedError);
    expect(refused.asked).toEqual([`run.cancel ${run.id}`]);
    expect(readFileSync(refused.path, "utf8")).toBe(before);

    const { b, asked } = await backend();
    const other = await b.executor.submit(spec);
    expect(await cancelRun(b, other.id)).toEqual({ kind: "dequeued", id: other.id, from: "queued" });
    expect(asked).toEqual([`run.cancel ${other.id}`]);
    expect(await b.executor.status(other.id)).toMatchObject({ status: "cancelled" });
  });

  it("archive and delete ask the guard, restore does not; what cannot happen is refused before the guard is asked", async () => {
    const { b, asked } = await backend();
    const run = await b.executor.submit(spec);
    // A queued run cannot be archived: exit 2, and no PIN was asked for it.
    await expect(archiveRun(b, "archive", run.id)).rejects.toMatchObject({ code: "E_ILLEGAL_TRANSITION", exitCode: 2 });
    expect(asked).toEqual([]);
    await b.executor.cancel(run.id);
    asked.length = 0;
    expect(await archiveRun(b, "archive", run.id)).toMatchObject({ archived: true });
    expect(await archiveRun(b, "restore", run.id)).toMatchObject({ archived: false });
    await archiveRun(b, "archive", run.id);
    await archiveRun(b, "delete", run.id);
    expect(asked).toEqual([`run.archive ${run.id}`, `run.archive ${run.id}`, `run.delete ${run.id}`]);
    expect(await b.store.get(run.id)).toBeUndefined();
  });

  it("watch yields the run at each change of state and ends when it is finished", async () => {
    const { b } = await backend();
    const run = await b.executor.submit(spec);
    const seen: string[] = [];
    const watching = (async () => {
      for await (const e of b.executor.watch(run.id, { intervalMs: 10 })) seen.push(e.status);
    })();
    await new Promise((r) => setTimeout(r, 50));
    await b.executor.cancel(run.id);
    await watching;
    expect(seen).toEqual(["queued", "cancelled"]);
  });

  it("the store declares its capabilities; a ClearML-only ask of the local store is answered, a missing one refused naming the store", async () => {
    const { b, path } = await backend();
    expect([...b.store.capabilities].sort()).toEqual(["link", "metrics", "write"]);
    const run = await b.executor.submit(spec);
    expect(await b.store.logMetrics(run.id, { pde_mean: 16.2 })).toMatchObject({ metrics: { pde_mean: 16.2 } });
    expect(await b.store.link(run.id, { kind: "clearml", server: "https://api.example", taskId: "abc123" })).toMatchObject({ id: run.id });
    await expect(b.store.require("exp-nothere")).rejects.toMatchObject({ code: "E_EXPERIMENT_NOT_FOUND", exitCode: 2 });
    await expect(b.store.resolve("")).rejects.toMatchObject({ code: "E_BAD_ID", exitCode: 2 });
    const { LocalStore } = await import("../../src/stores/local/local-store.js");
    const readOnly = new LocalStore({ path });
    expect(readOnly.capabilities.size).toBe(0);
    await expect(readOnly.archive(run.id, "archive")).rejects.toMatchObject({ code: "E_STORE_UNSUPPORTED", exitCode: 2, message: expect.stringContaining(path) as unknown });
  });
});
