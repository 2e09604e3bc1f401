// Self-tests of the fake ClearML server's built-in agent: it takes tasks from a queue and REALLY
// runs them (git clone of a local repository, git apply of a diff, a shell or a python process
// in its own process group), and makes the status calls clearml-agent makes. No wall-clock
// assertion: every wait is on a state, with a generous timeout; every process is killed by the
// time the fake is closed.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { commandFor, isLiteralScript, shlexSplit } from "../../../fake-clearml/agent.js";
import { DEFAULT_QUEUE_ID, FakeClearml, type FakeScript, type FakeTask } from "../../../fake-clearml/server.js";
import { fakeProject, md5 } from "../../../fake-clearml/tasks.js";
import { assertCleanAndClose, client, codes } from "../../fake-clearml/helpers.js";
import { alive } from "../../helpers/runs.js";

const WAIT_MS = 60_000;
const P = fakeProject("Agent");

let root: string;
let repo: string;
let firstCommit: string;
let diffToV2: string;

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", ...args], { cwd, encoding: "utf8" });
}

// A script that reports one scalar over HTTP with what the agent put in its environment.
const REPORT_PY = `import base64, json, os, sys, time, urllib.request
host = os.environ["CLEARML_API_HOST"]
task = os.environ["CLEARML_TASK_ID"]
basic = base64.b64encode((os.environ["CLEARML_API_ACCESS_KEY"] + ":" + os.environ["CLEARML_API_SECRET_KEY"]).encode()).decode()
def post(endpoint, body, headers):
    req = urllib.request.Request(host + "/v2.31/" + endpoint, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)
token = post("auth.login", b"{}", {"Authorization": "Basic " + basic, "Content-Type": "application/json"})["data"]["token"]
value = float(sys.argv[1]) if len(sys.argv) > 1 else 0.75
event = {"type": "training_stats_scalar", "task": task, "metric": "Score", "variant": "seg_total", "value": value, "iter": 1, "timestamp": int(time.time() * 1000)}
answer = post("events.add_batch", json.dumps(event).encode(), {"Authorization": "Bearer " + token, "Content-Type": "application/json-lines"})
print("reported", answer["data"]["added"])
`;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "fake-agent-test-"));
  repo = join(root, "origin");
  mkdirSync(join(repo, "pkg"), { recursive: true });
  git(root, "init", "-q", "-b", "main", repo);
  writeFileSync(join(repo, "train.py"), 'import sys\nprint("train v1", sys.argv[1:])\n');
  writeFileSync(join(repo, "report.py"), REPORT_PY);
  writeFileSync(join(repo, "pkg", "__init__.py"), "");
  writeFileSync(join(repo, "pkg", "mod.py"), 'import sys\nprint("module args", sys.argv[1:])\n');
  writeFileSync(join(repo, "requirements.txt"), "numpy==1.26.0\n");
  git(repo, "add", ".");
  git(repo, "commit", "-q", "-m", "v1");
  firstCommit = git(repo, "rev-parse", "HEAD").trim();
  writeFileSync(join(repo, "train.py"), 'import sys\nprint("train v2", sys.argv[1:])\n');
  diffToV2 = git(repo, "diff");
  git(repo, "checkout", "--", "train.py");
  git(repo, "checkout", "-q", "-b", "feature");
  writeFileSync(join(repo, "feature.txt"), "on the feature branch\n");
  git(repo, "add", ".");
  git(repo, "commit", "-q", "-m", "feature");
  git(repo, "checkout", "-q", "main");
  writeFileSync(join(repo, "later.txt"), "a later commit on main\n");
  git(repo, "add", ".");
  git(repo, "commit", "-q", "-m", "later");
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

let fake: FakeClearml | undefined;

afterEach(async () => {
  const f = fake;
  fake = undefined;
  await assertCleanAndClose(f);
});

async function start(): Promise<FakeClearml> {
  fake = await FakeClearml.start({ projects: [P] });
  return fake;
}

function get(f: FakeClearml, id: string): FakeTask | undefined {
  return f.tasks.find((t) => t.id === id);
}

/** Creates and enqueues a task over HTTP, as the product will; returns its id. */
async function submit(f: FakeClearml, script: FakeScript, name = "job"): Promise<string> {
  const api = await client(f);
  const created = await api("tasks.create", { name, type: "training", project: P.id, script });
  expect(created.status).toBe(200);
  const id = created.json.data.id as string;
  expect((await api("tasks.enqueue", { task: id, queue: DEFAULT_QUEUE_ID })).status).toBe(200);
  return id;
}

const ended = (t: FakeTask | undefined): boolean => t !== undefined && ["completed", "failed", "stopped"].includes(t.status);

async function waitUntil(what: string, test: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("how the agent builds a command (worker.py)", () => {
  it("python: the whole entry point is one argument unless it starts with -m; shells: $SHELL -c with whitespace collapsed", () => {
    expect(commandFor("python3", "train.py --lr 0.1", "/bin/bash")).toEqual(["python3", "-u", "train.py --lr 0.1"]);
    expect(commandFor("python3", "-m pkg.mod --lr 0.1", "/bin/bash")).toEqual(["python3", "-u", "-m", "pkg.mod", "--lr", "0.1"]);
    expect(commandFor("/usr/bin/python3.11", "a.py", "/bin/bash")).toEqual(["/usr/bin/python3.11", "-u", "a.py"]);
    expect(commandFor("/bin/sh", "-c   echo   a\n  b", "/bin/zsh")).toEqual(["/bin/zsh", "-c", "echo a b"]);
    expect(commandFor("bash", "run.sh", "/bin/bash")).toEqual(["/bin/bash", "run.sh"]);
    expect(commandFor("ruby", "a.rb", "/bin/bash")).toEqual(["python", "-u", "a.rb"]);
    expect(shlexSplit(`-m a "b c" 'd e' f\\ g`)).toEqual(["-m", "a", "b c", "d e", "f g"]);
  });

  it("a diff that does not start with 'diff ' is a literal script", () => {
    expect(isLiteralScript("diff --git a/x b/x\n")).toBe(false);
    expect(isLiteralScript("  DIFF --git a/x b/x\n")).toBe(false);
    expect(isLiteralScript("print('hi')\n")).toBe(true);
    expect(isLiteralScript(undefined)).toBe(false);
  });
});

describe("the built-in agent", () => {
  it("runs a shell command from a clone of a local repository: started 'pulled by agent', output captured, completed 'worker execution done'", async () => {
    const f = await start();
    const agent = await f.startAgent({ pollMs: 20 });
    f.resetCounts();
    const id = await submit(f, { repository: repo, branch: "feature", binary: "/bin/bash", entry_point: "-c cat feature.txt; echo task=$CLEARML_TASK_ID host=$CLEARML_API_HOST" });
    await f.waitFor(id, ended, WAIT_MS);
    expect(get(f, id)).toMatchObject({ status: "completed", status_reason: "worker execution done", status_message: `Changed by clearml-agent ${agent.workerId}`, last_worker: agent.workerId });
    expect(f.logs.get(id)).toContain("on the feature branch");
    expect(f.logs.get(id)).toContain(`task=${id} host=${f.url}`);
    expect(agent.runs).toHaveLength(1);
    expect(agent.runs[0]).toMatchObject({ task: id, exitCode: 0, outcome: "completed", stopReason: "no_stop", requirements: { pip: "numpy==1.26.0\n" } });
    // The agent acts on the state directly: the client's requests are the only ones recorded.
    expect(f.requests.map((r) => r.endpoint)).toEqual(["auth.login", "tasks.create", "tasks.enqueue"]);
    await agent.idle(WAIT_MS);
  });

  it("runs python from a checkout of version_num with the diff applied; a script reports a scalar with events.add_batch using CLEARML_TASK_ID", async () => {
    const f = await start();
    await f.startAgent({ pollMs: 20 });
    const id = await submit(f, { repository: `file://${repo}`, version_num: firstCommit, diff: diffToV2, binary: "python3", entry_point: "train.py", requirements: { pip: "torch==2\n" } });
    await f.waitFor(id, ended, WAIT_MS);
    expect(get(f, id)?.status).toBe("completed");
    expect(f.logs.get(id)).toContain("train v2 []");
    expect(f.agents[0]?.runs[0]?.requirements).toEqual({ pip: "torch==2\n" });
    // The checkout is of the first commit: the later file is not there.
    expect(existsSync(join(f.agents[0]?.runs[0]?.cwd ?? "", "later.txt"))).toBe(false);

    const rep = await submit(f, { repository: repo, binary: "/bin/bash", entry_point: "-c python3 report.py 0.25" }, "reporter");
    await f.waitFor(rep, ended, WAIT_MS);
    expect(get(f, rep)?.status).toBe("completed");
    expect(f.logs.get(rep)).toContain("reported 1");
    expect(get(f, rep)?.last_metrics[md5("Score")]?.[md5("seg_total")]?.value).toBe(0.25);
  });

  it("python's entry point is one argument (train.py --x fails), -m is split into words; a literal script without a repository runs as the script", async () => {
    const f = await start();
    await f.startAgent({ pollMs: 20 });
    const oneArg = await submit(f, { repository: repo, binary: "python3", entry_point: "train.py --lr 0.1" }, "one-arg");
    const module = await submit(f, { repository: repo, binary: "python3", entry_point: "-m pkg.mod --lr 0.1" }, "module");
    const literal = await submit(f, { binary: "python3", entry_point: "folder/run.py", diff: "import os\nprint('literal', os.path.basename(os.getcwd()))\n" }, "literal");
    for (const id of [oneArg, module, literal]) await f.waitFor(id, ended, WAIT_MS);
    expect(get(f, oneArg)).toMatchObject({ status: "failed", status_reason: "worker execution exit code 2" });
    expect(f.logs.get(oneArg)).toContain("can't open file");
    expect(get(f, module)?.status).toBe("completed");
    expect(f.logs.get(module)).toContain("module args ['--lr', '0.1']");
    expect(get(f, literal)?.status).toBe("completed");
    expect(f.logs.get(literal)).toContain("literal standalone");
  });

  it("maps exits: 0 completed, N failed 'worker execution exit code N', SIGINT stopped 'user abort'; a failed clone is 'failed cloning repository'", async () => {
    const f = await start();
    await f.startAgent({ pollMs: 20 });
    const three = await submit(f, { binary: "bash", entry_point: "-c exit 3" }, "three");
    const interrupted = await submit(f, { binary: "bash", entry_point: "-c kill -INT $$" }, "sigint");
    const noRepo = await submit(f, { repository: join(root, "no-such-repo"), binary: "bash", entry_point: "-c true" }, "clone");
    const badDiff = await submit(f, { repository: repo, binary: "bash", entry_point: "-c true", diff: "diff --git a/nope.txt b/nope.txt\n--- a/nope.txt\n+++ b/nope.txt\n@@ -1 +1 @@\n-a\n+b\n" }, "diff");
    for (const id of [three, interrupted, noRepo, badDiff]) await f.waitFor(id, ended, WAIT_MS);
    expect(get(f, three)).toMatchObject({ status: "failed", status_reason: "worker execution exit code 3" });
    expect(get(f, interrupted)).toMatchObject({ status: "stopped", status_reason: "user abort" });
    expect(get(f, noRepo)).toMatchObject({ status: "failed", status_reason: "failed cloning repository" });
    expect(get(f, badDiff)).toMatchObject({ status: "failed", status_reason: "worker execution exit code 1" });
    expect(f.logs.get(badDiff)).toContain("Failed applying git diff");
  });

  it("sees tasks.stop within one poll: kills the whole process group and calls tasks.stopped 'task was stopped by tasks.stop'", async () => {
    const f = await start();
    const api = await client(f);
    const pidFile = join(root, `stop-${Date.now()}.pid`);
    const agent = await f.startAgent({ pollMs: 30, env: { ...process.env, PIDFILE: pidFile } });
    const id = await submit(f, { binary: "bash", entry_point: "-c sleep 300 & echo $! > $PIDFILE; echo started; wait" }, "long");
    await waitUntil("the process to start", () => (f.logs.get(id) ?? "").includes("started") && existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "");
    const child = Number(readFileSync(pidFile, "utf8").trim());
    expect(alive(child)).toBe(true);
    expect(get(f, id)).toMatchObject({ status: "in_progress", status_message: "pulled by agent", started: expect.any(String), last_worker: agent.workerId });
    const before = agent.polls;
    const r = await api("tasks.stop", { task: id });
    expect(r.json.data.fields).toMatchObject({ status: "in_progress", status_message: "stopping" });
    const after = agent.polls;
    await f.waitFor(id, ended, WAIT_MS);
    const run = agent.runs[0];
    expect(run?.stopReason).toBe("stopped");
    expect(run?.stopSeenAtPoll).toBeGreaterThan(before);
    expect(run?.stopSeenAtPoll).toBeLessThanOrEqual(after + 1);
    expect(get(f, id)).toMatchObject({ status: "stopped", status_reason: "task was stopped by tasks.stop" });
    await waitUntil("the grandchild to die", () => !alive(child));
  });

  it("kills the run without a status call when the status is changed from outside; a reset task is killed after 5 polls in created", async () => {
    const f = await start();
    const api = await client(f);
    const agent = await f.startAgent({ pollMs: 20 });
    const outside = await submit(f, { binary: "bash", entry_point: "-c echo started; sleep 300" }, "outside");
    await waitUntil("it to start", () => (f.logs.get(outside) ?? "").includes("started"));
    expect((await api("tasks.failed", { task: outside, status_reason: "from outside" })).status).toBe(200);
    await waitUntil("the run to end", () => agent.runs[0]?.exitCode !== null && agent.runs[0]?.exitCode !== undefined);
    expect(agent.runs[0]).toMatchObject({ stopReason: "exception" });
    expect(agent.runs[0]?.outcome).toBeUndefined();
    expect(get(f, outside)).toMatchObject({ status: "failed", status_reason: "from outside" });

    const reset = await submit(f, { binary: "bash", entry_point: "-c echo started; sleep 300" }, "reset");
    await waitUntil("it to start", () => (f.logs.get(reset) ?? "").includes("started"));
    expect((await api("tasks.reset", { task: reset, force: true })).status).toBe(200);
    await waitUntil("the run to end", () => agent.runs[1]?.stopReason === "reset");
    expect(get(f, reset)).toMatchObject({ status: "created", status_reason: "reset" });
    await agent.idle(WAIT_MS);
  });

  it("a queued task stopped before the agent pops it never runs; tasks leave the queue FIFO", async () => {
    const f = await start();
    const api = await client(f);
    const a = await submit(f, { binary: "bash", entry_point: "-c echo a" }, "job-a");
    const b = await submit(f, { binary: "bash", entry_point: "-c echo b" }, "job-b");
    const c = await submit(f, { binary: "bash", entry_point: "-c echo c" }, "job-c");
    expect((await api("tasks.stop", { task: b })).json.data.fields.status).toBe("stopped");
    const agent = await f.startAgent({ pollMs: 20 });
    await agent.idle(WAIT_MS);
    expect(agent.runs.map((r) => r.task)).toEqual([a, c]);
    expect([a, b, c].map((id) => get(f, id)?.status)).toEqual(["completed", "stopped", "completed"]);
  });

  it("serves a named queue; stop() and close() kill the running process group and leave the task in_progress", async () => {
    const f = await FakeClearml.start({ projects: [P], queues: [{ name: "gpu-queue" }] });
    fake = f;
    const api = await client(f);
    const pidFile = join(root, `close-${Date.now()}.pid`);
    const agent = await f.startAgent({ queue: "gpu-queue", pollMs: 20, env: { ...process.env, PIDFILE: pidFile } });
    const gpu = f.queues.find((q) => q.name === "gpu-queue")?.id;
    const id = (await api("tasks.create", { name: "held", type: "training", project: P.id, script: { binary: "bash", entry_point: "-c sleep 300 & echo $! > $PIDFILE; wait" } })).json.data.id as string;
    expect((await api("tasks.enqueue", { task: id, queue: gpu, verify_watched_queue: true })).json.data.queue_watched).toBe(true);
    await waitUntil("the process to start", () => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "");
    const child = Number(readFileSync(pidFile, "utf8").trim());
    const workers = await api("workers.get_all", { last_seen: 60 });
    expect(workers.json.data.workers[0]).toMatchObject({ id: agent.workerId, task: { id }, queues: [{ id: gpu, name: "gpu-queue" }] });
    await f.close();
    expect(alive(child)).toBe(false);
    expect(get(f, id)?.status).toBe("in_progress");
    expect(f.agents).toHaveLength(0);
  });

  it("refuses an unknown queue, and no default queue (707)", async () => {
    const f = await FakeClearml.start({ defaultQueue: false });
    fake = f;
    await expect(f.startAgent()).rejects.toThrow(/no queue is tagged as the default queue/);
    await expect(f.startAgent({ queue: "nope" })).rejects.toThrow(/no queue 'nope'/);
    expect(codes(await (await client(f))("queues.get_default"))).toEqual([400, 707]);
  });
});
