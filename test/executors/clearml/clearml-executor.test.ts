// The ClearML executor against the ClearML double: what it sends, what it does when an answer is
// lost (a call that is not safe to repeat is never repeated blindly), how it follows tasks.
import { appendFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MetricRegistry } from "../../../src/core/metrics/registry.js";
import type { DescribeScript } from "../../../src/executors/clearml/clearml-executor.js";
import { ClearmlExecutor } from "../../../src/executors/clearml/clearml-executor.js";
import { ClearmlTasks } from "../../../src/executors/clearml/clearml-tasks.js";
import { ClearmlClient } from "../../../src/stores/clearml/client.js";
import { LocalStore } from "../../../src/stores/local/local-store.js";
import { tempDir } from "../../helpers/cli.js";
import { FakeClearml } from "../../../fake-clearml/server.js";
import { fakeProject, lastMetrics } from "../../../fake-clearml/tasks.js";

const PDE = fakeProject("PDEBench");
const script: DescribeScript = async (input) => ({
  script: { entry_point: `-c ${input.argv.join(" ")}`, working_dir: ".", binary: "/bin/bash" },
  display: input.argv.join(" "),
  notes: [],
});

let fake: FakeClearml;
beforeAll(async () => {
  fake = await FakeClearml.start({ projects: [PDE], queues: [{ name: "gpu" }] });
});
afterEach(() => fake.assertClean());
afterAll(async () => {
  await fake?.close();
});

function executor(options: { maxRetries?: number; timeoutMs?: number; path?: string } = {}): { executor: ClearmlExecutor; store: LocalStore; warnings: string[] } {
  const path = options.path ?? join(tempDir(), "experiments.jsonl");
  const warnings: string[] = [];
  const writer = { now: () => new Date(), who: "tester@host", createDirectory: true };
  const store = new LocalStore({ path, writer });
  const client = new ClearmlClient({ apiServer: fake.url, accessKey: fake.accessKey, secretKey: fake.secretKey, maxRetries: options.maxRetries ?? 0, timeoutMs: options.timeoutMs ?? 5_000, sleep: async () => undefined });
  const ex = new ClearmlExecutor({ store, tasks: new ClearmlTasks(client), webServer: null, who: "tester@host", metrics: MetricRegistry.standard(), describeScript: script, onWarning: (m) => warnings.push(m) });
  return { executor: ex, store, warnings };
}

const spec = (name: string) => ({ argv: ["echo", name], display: `echo ${name}`, shell: false, cwd: "/tmp", queue: "gpu", name, project: "PDEBench", tags: [], params: {} });

describe("dispatch when an answer is lost", () => {
  it("a lost tasks.create answer: the task is found by its link tag, never created twice", async () => {
    const { executor: ex } = executor();
    fake.malformNext("tasks.create", "drop");
    const before = fake.tasks.length;
    const done = await ex.dispatch(spec("lost-create"));
    expect(fake.tasks.length).toBe(before + 1);
    expect(fake.count("tasks.create")).toBeGreaterThanOrEqual(1);
    expect(fake.tasks.filter((t) => t.name === "lost-create").map((t) => t.id)).toEqual([done.taskId]);
    expect(done.record).toMatchObject({ status: "queued", clearml_task_id: done.taskId });
  });

  it("a lost tasks.enqueue answer: the task is read, found queued, and not enqueued again", async () => {
    const { executor: ex } = executor();
    fake.malformNext("tasks.enqueue", "502");
    fake.resetCounts();
    const done = await ex.dispatch(spec("lost-enqueue"));
    expect(fake.count("tasks.enqueue")).toBe(1);
    const gpu = fake.queues.find((q) => q.name === "gpu")!;
    expect(gpu.entries.filter((e) => e.task === done.taskId)).toHaveLength(1);
    expect(done.record).toMatchObject({ status: "queued" });
  });

  it("an enqueue the server refuses leaves the run recorded as dispatched and linked, and says so", async () => {
    const { executor: ex, store, warnings } = executor();
    fake.failNext("tasks.enqueue", { status: 400, subcode: 701, msg: "Invalid queue id" });
    await expect(ex.dispatch(spec("refused-enqueue"))).rejects.toMatchObject({ exitCode: 4 });
    const [e] = await store.list();
    expect(e).toMatchObject({ status: "dispatched", name: "refused-enqueue" });
    expect(warnings.join("\n")).toMatch(/was created .* but it was not queued/);
  });
});

describe("cancel", () => {
  it("says what ClearML answered the stop, even when the agent has stopped the task before anything reads it again", async () => {
    const { executor: ex, store } = executor();
    const done = await ex.dispatch(spec("racing-stop"));
    await store.follow(done.experiment.id, () => ({ target: "running" }));
    const task = fake.tasks.find((t) => t.id === done.taskId)!;
    Object.assign(task, { status: "in_progress", last_worker: "w1", last_update: new Date(fake.clock.now()).toISOString() });
    // A fast agent: the stop is answered "stopping", and the task is stopped at once after.
    fake.respondNext("tasks.stop", (res, answer) => {
      res.writeHead(200, { "Content-Type": "application/json" }).end(answer.text);
      Object.assign(task, { status: "stopped", status_reason: "task was stopped by tasks.stop" });
    });
    const outcome = await ex.cancel(done.experiment.id);
    expect(outcome).toMatchObject({ kind: "clearml", action: "stop-requested", clearml: { status: "in_progress", statusMessage: "stopping" } });
  });
});

describe("dispatch when the run cannot be recorded", () => {
  it("a registry in a directory that does not exist is said before any task is made", async () => {
    const path = join(tempDir(), "missing-dir", "experiments.jsonl");
    const store = new LocalStore({ path, writer: { now: () => new Date(), who: "t@h", createDirectory: false } });
    const client = new ClearmlClient({ apiServer: fake.url, accessKey: fake.accessKey, secretKey: fake.secretKey });
    const ex = new ClearmlExecutor({ store, tasks: new ClearmlTasks(client), webServer: null, who: "t@h", metrics: MetricRegistry.standard(), describeScript: script });
    fake.resetCounts();
    await expect(ex.dispatch(spec("unrecorded"))).rejects.toMatchObject({ code: "E_NO_DIRECTORY", exitCode: 2 });
    expect(fake.count()).toBe(0);
  });

  it("a record that fails after the task was made: the task is deleted again, nothing runs untracked, and the error is the registry's", async () => {
    const path = join(tempDir(), "later-missing", "experiments.jsonl");
    mkdirSync(dirname(path));
    const warnings: string[] = [];
    const store = new LocalStore({ path, writer: { now: () => new Date(), who: "t@h", createDirectory: false } });
    // The directory goes away between the check and the write (as a disk that fills up meanwhile).
    fake.respondNext("tasks.create", (res, answer) => {
      rmSync(dirname(path), { recursive: true, force: true });
      res.writeHead(200, { "Content-Type": "application/json" }).end(answer.text);
    });
    const client = new ClearmlClient({ apiServer: fake.url, accessKey: fake.accessKey, secretKey: fake.secretKey });
    const ex = new ClearmlExecutor({ store, tasks: new ClearmlTasks(client), webServer: null, who: "t@h", metrics: MetricRegistry.standard(), describeScript: script, onWarning: (m) => warnings.push(m) });
    const before = fake.tasks.length;
    await expect(ex.dispatch(spec("unrecorded"))).rejects.toMatchObject({ code: "E_NO_DIRECTORY", exitCode: 2 });
    expect(fake.tasks.length).toBe(before);
    expect(warnings).toEqual([expect.stringMatching(/could not be recorded, so ClearML task \w+ was deleted again/)]);
  });
});

describe("sync", () => {
  it("1,000 linked runs cost one login and two reads, and one append", async () => {
    const { executor: ex, store } = executor();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await ex.dispatch(spec(`bulk-${i}`))).experiment.id);
    // The rest recorded directly, linked to tasks that no longer exist: a thousand dispatches would only slow the test.
    const one = store.raw(ids[0]!)!;
    const bulk = Array.from({ length: 997 }, (_, i) => ({ ...one, experiment_id: `exp-bulk${String(i).padStart(4, "0")}`, clearml_task_id: `gone${i}` }));
    appendFileSync(store.location, bulk.map((r) => JSON.stringify(r)).join("\n") + "\n");
    for (const t of fake.tasks) if (ids.some((id) => t.system_tags.includes(`expflow:${id}`))) t.last_metrics = lastMetrics({ Score: { seg_total: 0.5 } });
    const sizeBefore = readFileSync(store.location).length;
    // A new process: its client logs in once.
    const fresh = executor({ path: store.location });
    fake.resetCounts();
    const report = await fresh.executor.sync(store.rawAll().records.values(), { metrics: true });
    expect(fake.requests.map((r) => r.endpoint)).toEqual(["auth.login", "tasks.get_all", "tasks.get_all"]);
    expect(report.checked).toBe(1000);
    expect(report.missing).toHaveLength(997);
    expect(report.metricsImported).toBe(3);
    // One line per changed run (3 with metrics, 997 marked missing), appended in one write.
    const appended = readFileSync(store.location, "utf8").slice(sizeBefore).trimEnd().split("\n");
    expect(appended).toHaveLength(1000);
    const again = await fresh.executor.sync(store.rawAll().records.values(), { metrics: true });
    expect(again.moved.length + again.updated).toBe(0);
    expect(readFileSync(store.location, "utf8").length).toBe(sizeBefore + appended.join("\n").length + 1);
  });
});
