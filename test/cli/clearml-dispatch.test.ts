// Issue 13, end to end: runs dispatched to clearml-agent workers through ClearML queues and
// governed as local ones. The CLI runs in this process (run(argv, io)) against the ClearML double
// (fake-clearml), whose built-in agent really clones the repository and runs the commands; every
// request the CLI makes is checked by the double (assertClean after each test).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runInProcess, tempDir } from "../helpers/cli.js";
import type { FakeAgent } from "../../fake-clearml/agent.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject, fakeTask } from "../../fake-clearml/tasks.js";

const PIN = "482613";
const PDE = fakeProject("PDEBench");
const WEB = "https://app.clearml.example";

/** A script a task runs: it logs in with what the agent hands it and reports scalars, then exits with `code`. */
const REPORT = `
const host = process.env.CLEARML_API_HOST, task = process.env.CLEARML_TASK_ID;
const basic = Buffer.from(process.env.CLEARML_API_ACCESS_KEY + ":" + process.env.CLEARML_API_SECRET_KEY).toString("base64");
const post = async (endpoint, body, headers) => (await (await fetch(host + "/v2.26/" + endpoint, { method: "POST", headers, body })).json()).data;
const { token } = await post("auth.login", "{}", { Authorization: "Basic " + basic, "Content-Type": "application/json" });
const [seg, pde, code] = process.argv.slice(2).map(Number);
const events = [["Score", "seg_total", seg], ["PDE", "pde_mean", pde]].map(([metric, variant, value]) =>
  JSON.stringify({ type: "training_stats_scalar", task, metric, variant, value, iter: 0, timestamp: Date.now() }));
await post("events.add_batch", events.join("\\n"), { Authorization: "Bearer " + token, "Content-Type": "application/json-lines" });
console.log("reported", task, "lr", process.argv.slice(2).join(" "));
process.exit(code);
`;

const SLEEP = `setTimeout(() => process.exit(0), 120000); console.log("sleeping");`;

let fake: FakeClearml;
let agent: FakeAgent;
let repo: string;
let home: string;

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", HOME: cwd } });
}

/** A clone whose `origin` is a local bare repository holding the scripts: what the agent clones. */
function makeRepo(): string {
  const root = tempDir("expflow-dispatch-");
  const origin = join(root, "origin.git");
  const work = join(root, "work");
  mkdirSync(work);
  git(root, "init", "-q", "--bare", origin);
  git(work, "init", "-q", "-b", "main");
  git(work, "config", "user.email", "t@example.com");
  git(work, "config", "user.name", "T");
  mkdirSync(join(work, "train"));
  writeFileSync(join(work, "train", "report.mjs"), REPORT);
  writeFileSync(join(work, "train", "sleep.mjs"), SLEEP);
  git(work, "add", ".");
  git(work, "commit", "-q", "-m", "scripts");
  git(work, "remote", "add", "origin", origin);
  git(work, "push", "-q", "-u", "origin", "main");
  return work;
}

const env = (): Record<string, string | undefined> => ({
  EXPFLOW_HOME: home,
  EXPFLOW_PIN: undefined,
  EXPFLOW_PIN_HASH: undefined,
  EXPFLOW_REGISTRY: undefined,
  // An empty configuration: never the user's own clearml.conf.
  CLEARML_CONFIG_FILE: join(home, "clearml.conf"),
  CLEARML_API_HOST: fake.url,
  CLEARML_API_ACCESS_KEY: fake.accessKey,
  CLEARML_API_SECRET_KEY: fake.secretKey,
  CLEARML_WEB_HOST: WEB,
});

const cli = (args: string[], options: { input?: string; cwd?: string } = {}) => runInProcess(args, { cwd: options.cwd ?? join(repo, "train"), input: options.input, env: env() });

const submit = async (args: string[]) => {
  const r = await cli(["run", "submit", "--clearml", ...args]);
  expect(r.code, r.stderr).toBe(0);
  return { id: r.stdout.trim(), stderr: r.stderr };
};

const record = (id: string): Record<string, unknown> => {
  const lines = readFileSync(join(home, "experiments.jsonl"), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  return lines.filter((l) => l["experiment_id"] === id).at(-1)!;
};

const taskOf = (id: string): string => String(record(id)["clearml_task_id"]);

beforeAll(async () => {
  fake = await FakeClearml.start({ projects: [PDE], queues: [{ name: "gpu" }] });
  repo = makeRepo();
  home = join(tempDir(), "home");
  mkdirSync(home, { mode: 0o700 });
  writeFileSync(join(home, "clearml.conf"), "");
  const pin = await runInProcess(["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n`, env: env() });
  expect(pin.code, pin.stderr).toBe(0);
});

afterEach(() => fake.assertClean());
afterAll(async () => {
  await fake?.close();
});

describe("run submit --clearml, the agent, run sync, ranking, cancel, archive and delete", () => {
  let good: string;
  let bad: string;

  it("submits two commands as tasks clearml-agent can run, each recorded locally and linked", async () => {
    const first = await submit(["--queue", "gpu", "--project", "PDEBench", "--name", "good-run", "--tags", "sweep", "--arg", "lr=0.1", "--", "node", "report.mjs", "0.91", "14.5", "0"]);
    good = first.id;
    expect(good).toMatch(/^exp-/);
    const task = fake.tasks.find((t) => t.id === taskOf(good))!;
    expect(task).toMatchObject({ name: "good-run", status: "queued", project: PDE.id, tags: ["sweep"] });
    expect(task.system_tags).toEqual([`expflow:${good}`]);
    expect(task.script).toMatchObject({ repository: join(repo, "..", "origin.git"), branch: "main", version_num: git(repo, "rev-parse", "HEAD").trim(), working_dir: "train", binary: "/bin/bash" });
    expect(task.script?.entry_point).toBe("-c node report.mjs 0.91 14.5 0 --lr 0.1");
    expect(task.hyperparams["Args"]?.["lr"]).toMatchObject({ section: "Args", name: "lr", value: "0.1" });
    expect(fake.queues.find((q) => q.name === "gpu")?.entries.map((e) => e.task)).toEqual([task.id]);
    expect(record(good)).toMatchObject({ status: "queued", method: "clearml", queue: "gpu", clearml_task_id: task.id, clearml_server: fake.url, clearml_web_url: `${WEB}/projects/${PDE.id}/experiments/${task.id}/output/execution`, params: { "Args/lr": "0.1" } });
    expect(first.stderr).toContain(`ClearML task ${task.id} queued on 'gpu' at ${fake.url}`);
    expect(first.stderr).toContain(`${WEB}/projects/${PDE.id}/experiments/${task.id}/output/execution`);
    bad = (await submit(["--queue", "gpu", "--project", "PDEBench", "--name", "bad-run", "--", "node", "report.mjs", "0.99", "12", "3"])).id;
  });

  it("the agent runs them; run sync follows them through the state machine and imports the metrics", async () => {
    agent = await fake.startAgent({ queue: "gpu", pollMs: 20 });
    await fake.waitFor(taskOf(good), (t) => t?.status === "completed", 60_000);
    await fake.waitFor(taskOf(bad), (t) => t?.status === "failed", 60_000);
    expect(fake.logs.get(taskOf(good))).toContain(`reported ${taskOf(good)}`);
    fake.resetCounts();
    const r = await cli(["run", "sync", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    // One login and one batched read for both.
    expect(fake.requests.map((q) => q.endpoint)).toEqual(["auth.login", "tasks.get_all"]);
    const report = JSON.parse(r.stdout) as { moved: { id: string; from: string; to: string }[]; metricsImported: number };
    expect(report.moved.map((m) => [m.id, m.from, m.to]).sort()).toEqual(
      [
        [good, "queued", "completed"],
        [bad, "queued", "failed"],
      ].sort(),
    );
    expect(report.metricsImported).toBe(4);
    expect(record(good)).toMatchObject({ status: "completed", metrics: { seg_total: 0.91, pde_mean: 14.5 }, clearml: { status: "completed", status_reason: "worker execution done" } });
    expect(record(bad)).toMatchObject({ status: "failed", reason: "worker execution exit code 3", clearml: { status: "failed" } });
    const events = (record(good)["history"] as { event: string }[]).map((h) => h.event);
    expect(events).toEqual(["create", "dispatch", "queue", "start", "complete"]);
    // Nothing changed since: a second sync appends nothing.
    const size = readFileSync(join(home, "experiments.jsonl")).length;
    expect((await cli(["run", "sync"])).code).toBe(0);
    expect(readFileSync(join(home, "experiments.jsonl")).length).toBe(size);
  });

  it("compare-scores ranks the synced runs, and clearml compare-scores agrees", async () => {
    const local = await cli(["compare-scores", "--sort-by", "seg_total", "--project", "PDEBench", "--status", "completed,failed", "--json"]);
    expect(local.code, local.stderr).toBe(0);
    const remote = await cli(["clearml", "compare-scores", "--project", "PDEBench", "--sort-by", "seg_total", "--status", "completed,failed", "--json"]);
    expect(remote.code, remote.stderr).toBe(0);
    type Ranked = { results: { name: string | null; status: string; value: number | null; rank: number | null }[] };
    const shape = (j: Ranked) => j.results.map((x) => [x.name, x.status, x.value, x.rank]);
    expect(shape(JSON.parse(local.stdout) as Ranked)).toEqual(shape(JSON.parse(remote.stdout) as Ranked));
    expect(shape(JSON.parse(local.stdout) as Ranked)).toEqual([
      ["bad-run", "failed", 0.99, 1],
      ["good-run", "completed", 0.91, 2],
    ]);
  });

  it("cancels a running task through the guard: the agent stops it within one poll", async () => {
    const { id } = await submit(["--queue", "gpu", "--project", "PDEBench", "--name", "long-run", "--", "node", "sleep.mjs"]);
    await fake.waitFor(taskOf(id), (t) => t?.status === "in_progress" && (fake.logs.get(taskOf(id)) ?? "").includes("sleeping"), 60_000);
    expect((await cli(["run", "cancel", id])).code).toBe(3);
    const r = await cli(["run", "cancel", id, "--pin-stdin"], { input: `${PIN}\n` });
    expect(r.code, r.stderr).toBe(0);
    // The stop was asked before the command returned: the agent's next poll sees it.
    const pollsAtCancel = agent.polls;
    expect(r.stdout).toContain("a live agent stops it within seconds");
    expect(r.stdout).toContain("ClearML: in_progress (stopping)");
    expect(record(id)).toMatchObject({ status: "cancelled" });
    await fake.waitFor(taskOf(id), (t) => t?.status === "stopped", 30_000);
    const run = agent.runs.find((x) => x.task === taskOf(id))!;
    expect(run.outcome).toBe("stopped");
    expect(run.stopSeenAtPoll).toBeLessThanOrEqual(pollsAtCancel + 1);
    expect(fake.tasks.find((t) => t.id === taskOf(id))?.status_reason).toBe("task was stopped by tasks.stop");
    const again = await cli(["run", "cancel", id, "--pin-stdin"], { input: `${PIN}\n` });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/cannot cancel .*: it is cancelled/);
  });

  it("archives and deletes the task with the PIN (delete only once archived), each decision in the audit log", async () => {
    const task = taskOf(good);
    expect((await cli(["run", "delete", good, "--pin-stdin"], { input: `${PIN}\n` })).code).toBe(2);
    expect(fake.tasks.some((t) => t.id === task)).toBe(true);
    const archived = await cli(["run", "archive", good, "--pin-stdin"], { input: `${PIN}\n` });
    expect(archived.code, archived.stderr).toBe(0);
    expect(archived.stdout).toContain(`Its ClearML task ${task} was archived too.`);
    expect(fake.tasks.find((t) => t.id === task)?.system_tags).toContain("archived");
    const deleted = await cli(["run", "delete", good, "--pin-stdin"], { input: `${PIN}\n` });
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toContain(`Its ClearML task ${task} was deleted too.`);
    expect(fake.tasks.some((t) => t.id === task)).toBe(false);
    const log = await cli(["audit", "log", "--json"]);
    const entries = JSON.parse(log.stdout) as { action: string; target: string; outcome: string }[];
    const decided = (action: string) => entries.filter((e) => e.action === action).map((e) => e.outcome);
    // The cancel of a cancelled run was refused before any PIN was asked: no decision for it.
    expect(decided("run.cancel")).toEqual(["denied", "allowed"]);
    expect(decided("run.archive")).toContain("allowed");
    expect(decided("run.delete")).toContain("allowed");
  });
});

describe("submit refusals: nothing is created, nothing is recorded", () => {
  it("an unknown queue is exit 2 naming the queues there are; never created", async () => {
    const before = fake.tasks.length;
    const r = await cli(["run", "submit", "--clearml", "--queue", "gpus", "--", "node", "report.mjs"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no queue named 'gpus'");
    expect(r.stderr).toMatch(/queues there: default, gpu/);
    expect(fake.queues.map((q) => q.name).sort()).toEqual(["default", "gpu"]);
    expect(fake.tasks.length).toBe(before);
  });

  it("outside a git repository it is exit 2 unless --no-repo; with it, the command alone is sent", async () => {
    const loose = tempDir("expflow-norepo-");
    const r = await cli(["run", "submit", "--clearml", "--", "node", "-e", "1"], { cwd: loose });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--no-repo");
    const ok = await cli(["run", "submit", "--clearml", "--no-repo", "--name", "loose-run", "--", "node", "-e", "console.log(1)"], { cwd: loose });
    expect(ok.code, ok.stderr).toBe(0);
    const task = fake.tasks.find((t) => t.id === taskOf(ok.stdout.trim()))!;
    expect(task.script?.repository ?? "").toBe("");
    // No --queue: the server's default queue.
    expect(record(ok.stdout.trim())).toMatchObject({ queue: "default", status: "queued" });
  });

  it("--clone makes the task from an existing one and sets --arg over its Args", async () => {
    const source = fakeTask({ name: "baseline", project: PDE.id, status: "completed", params: { "Args/lr": "0.01", "Args/epochs": "10" } });
    fake.tasks.push({ ...source, script: { repository: "https://example.com/r.git", entry_point: "train.py", binary: "python3", working_dir: "." } } as typeof source);
    // The default queue, which no agent serves here: the clone's repository is not reachable offline.
    const r = await cli(["run", "submit", "--clearml", "--clone", source.id, "--arg", "lr=0.5"]);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    const clone = fake.tasks.find((t) => t.id === taskOf(id))!;
    expect(clone.id).not.toBe(source.id);
    expect(clone.hyperparams["Args"]?.["lr"]?.value).toBe("0.5");
    expect(clone.hyperparams["Args"]?.["epochs"]?.value).toBe("10");
    expect(clone.system_tags).toEqual([`expflow:${id}`]);
    expect(record(id)).toMatchObject({ name: "baseline", params: { "Args/lr": "0.5", "Args/epochs": "10" }, clearml_source_task_id: source.id });
    const missing = await cli(["run", "submit", "--clearml", "--clone", "0".repeat(32)]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no ClearML task");
  });
});
