// Issue 13, attacked: a server that is down, refuses or lies, a task that vanished or was stopped
// by the watchdog, hostile words from the server, careless ids. Nothing is lost or half-written,
// every refusal is one line and the documented exit code. The CLI runs in this process against
// the ClearML double.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runInProcess, tempDir } from "../helpers/cli.js";
import { FakeClearml } from "../../fake-clearml/server.js";
import { fakeProject } from "../../fake-clearml/tasks.js";

const PIN = "482613";
const P = fakeProject("Faults");
let fake: FakeClearml;
let deadPort: number;

beforeAll(async () => {
  fake = await FakeClearml.start({ projects: [P] });
  // A port nothing listens on: taken, then released.
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  deadPort = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
});
afterEach(() => fake.assertClean());
afterAll(async () => {
  await fake?.close();
});

interface Home {
  home: string;
  cli: (args: string[], options?: { input?: string; env?: Record<string, string | undefined> }) => ReturnType<typeof runInProcess>;
  registry: string;
}

async function newHome(options: { pin?: boolean } = {}): Promise<Home> {
  const home = join(tempDir(), "home");
  mkdirSync(home, { mode: 0o700 });
  writeFileSync(join(home, "clearml.conf"), "");
  const base = { EXPFLOW_HOME: home, EXPFLOW_PIN: undefined, EXPFLOW_PIN_HASH: undefined, EXPFLOW_REGISTRY: undefined, CLEARML_CONFIG_FILE: join(home, "clearml.conf"), CLEARML_API_HOST: fake.url, CLEARML_API_ACCESS_KEY: fake.accessKey, CLEARML_API_SECRET_KEY: fake.secretKey };
  const cwd = tempDir();
  const cli: Home["cli"] = (args, o = {}) => runInProcess(args, { cwd, input: o.input, env: { ...base, ...o.env } });
  if (options.pin === true) expect((await cli(["pin", "init", "--new-pin-stdin"], { input: `${PIN}\n` })).code).toBe(0);
  return { home, cli, registry: join(home, "experiments.jsonl") };
}

const down = (): Record<string, string> => ({ CLEARML_API_HOST: `http://127.0.0.1:${deadPort}` });

function lines(path: string): Record<string, unknown>[] {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
}
const latest = (path: string, id: string) => lines(path).filter((l) => l["experiment_id"] === id).at(-1)!;

async function dispatched(h: Home, name: string): Promise<{ id: string; task: string }> {
  const r = await h.cli(["run", "submit", "--clearml", "--no-repo", "--project", "Faults", "--name", name, "--", "true"]);
  expect(r.code, r.stderr).toBe(0);
  const id = r.stdout.trim();
  return { id, task: String(latest(h.registry, id)["clearml_task_id"]) };
}

const task = (id: string) => fake.tasks.find((t) => t.id === id)!;

describe("a server that is not there", () => {
  it("submit: not configured or unreachable is exit 4, and nothing is recorded", async () => {
    const h = await newHome();
    const none = await h.cli(["run", "submit", "--clearml", "--no-repo", "--", "true"], { env: { CLEARML_API_HOST: undefined } });
    expect(none.code).toBe(4);
    expect(none.stderr).toContain("ClearML is not configured");
    const gone = await h.cli(["run", "submit", "--clearml", "--no-repo", "--", "true"], { env: down() });
    expect(gone.code).toBe(4);
    expect(gone.stderr.trim().split("\n")[0]).toMatch(/^error: cannot reach ClearML at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    expect(lines(h.registry)).toEqual([]);
  });

  it("run list and run status show linked runs as last synced, with a warning; cancel is exit 4 and changes nothing", async () => {
    const h = await newHome({ pin: true });
    const { id } = await dispatched(h, "offline-run");
    const before = lines(h.registry).length;
    // The server fails every try of the login (the client tries a read three times).
    const failing = () => fake.failNext("auth.login", { status: 503, subcode: 0, msg: "Service Unavailable" }, 3);
    failing();
    const list = await h.cli(["run", "list"]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(id);
    expect(list.stderr).toMatch(/^warning: ClearML at http:\/\/127\.0\.0\.1:\d+ failed on auth\.login .*; the run linked to ClearML is shown as last synced\n$/);
    failing();
    const status = await h.cli(["run", "status", id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/status\s+queued/);
    expect(status.stderr).toContain("shown as last synced");
    expect((await h.cli(["run", "list", "--offline"])).stderr).toBe("");
    failing();
    const cancel = await h.cli(["run", "cancel", id, "--pin-stdin"], { input: `${PIN}\n` });
    expect(cancel.code).toBe(4);
    expect(latest(h.registry, id)["status"]).toBe("queued");
    expect(lines(h.registry).length).toBe(before);
    // Another server than the run's: not asked, and said.
    const elsewhere = await h.cli(["run", "list"], { env: down() });
    expect(elsewhere.stderr).toMatch(/1 run is linked to another ClearML server \(http:\/\/127\.0\.0\.1:\d+\), shown as last synced/);
  });
});

describe("what ClearML says of a task, followed", () => {
  it("a cancelled queued task leaves its queue and is stopped there; the record says what ClearML answered", async () => {
    const h = await newHome({ pin: true });
    const { id, task: t } = await dispatched(h, "queued-run");
    // An agent told to "just pass --force": the owner has not allowed it, so nothing reaches ClearML.
    fake.resetCounts();
    const forced = await h.cli(["run", "cancel", id, "--force"]);
    expect(forced.code).toBe(3);
    expect(fake.requests).toEqual([]);
    expect(task(t).status).toBe("queued");
    fake.resetCounts();
    const r = await h.cli(["run", "cancel", id, "--pin-stdin"], { input: `${PIN}\n` });
    expect(r.code, r.stderr).toBe(0);
    // What the README says it costs: the task, the stop (and the login); what ClearML answered comes with the stop.
    expect(fake.requests.map((q) => q.endpoint)).toEqual(["auth.login", "tasks.get_all", "tasks.stop"]);
    expect(r.stdout).toContain("was taken out of its queue and stopped. ClearML: stopped");
    expect(task(t).status).toBe("stopped");
    expect(fake.queues.flatMap((q) => q.entries).some((e) => e.task === t)).toBe(false);
    expect(latest(h.registry, id)).toMatchObject({ status: "cancelled", clearml: { status: "stopped" } });
  });

  it("the watchdog's forced stop is a failure; a task deleted on the server marks its run, and nothing local is deleted", async () => {
    const h = await newHome();
    const a = await dispatched(h, "watchdog-run");
    const b = await dispatched(h, "vanished-run");
    Object.assign(task(a.task), { status: "stopped", status_reason: "Forced stop (non-responsive)" });
    fake.tasks.splice(fake.tasks.indexOf(task(b.task)), 1);
    const r = await h.cli(["run", "sync"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${a.id}  queued -> failed`);
    expect(r.stdout).toContain(`${b.id}  its ClearML task no longer exists (marked; nothing deleted)`);
    expect(latest(h.registry, a.id)).toMatchObject({ status: "failed", reason: "Forced stop (non-responsive)" });
    expect(latest(h.registry, b.id)).toMatchObject({ status: "queued", clearml: { missing: true } });
    expect((await h.cli(["run", "status", b.id])).stdout).toMatch(/clearml says\s+the task no longer exists/);
  });

  it("a finished run's task that runs again stays finished locally (blocked), said by run sync", async () => {
    const h = await newHome();
    const { id, task: t } = await dispatched(h, "rerun-run");
    Object.assign(task(t), { status: "completed" });
    expect((await h.cli(["run", "sync"])).code).toBe(0);
    Object.assign(task(t), { status: "in_progress" });
    const r = await h.cli(["run", "sync"]);
    expect(r.stdout).toContain(`${id}  stays completed: ClearML says in_progress`);
    expect(latest(h.registry, id)).toMatchObject({ status: "completed", clearml: { status: "in_progress" } });
  });

  it("the server's words reach the terminal printable: no escape sequence from a status reason", async () => {
    const h = await newHome({ pin: true });
    const { id, task: t } = await dispatched(h, "hostile-run");
    Object.assign(task(t), { status: "in_progress", status_reason: "\u001b]0;pwned\u0007\u001b[2Jreason", last_worker: "w", status_message: "\u001b[31mred" });
    const status = await h.cli(["run", "status", id]);
    expect(status.code).toBe(0);
    expect(status.stdout.includes("\u001b") || status.stdout.includes("\u0007")).toBe(false);
    const cancel = await h.cli(["run", "cancel", id, "--pin-stdin"], { input: `${PIN}\n` });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout.includes("\u001b") || cancel.stdout.includes("\u0007")).toBe(false);
  });
});

describe("retry of a ClearML run", () => {
  it("is a clone of its task on the same queue, linked to the original run", async () => {
    const h = await newHome();
    const { id, task: t } = await dispatched(h, "failing-run");
    Object.assign(task(t), { status: "failed", status_reason: "worker execution exit code 1" });
    expect((await h.cli(["run", "sync"])).code).toBe(0);
    const r = await h.cli(["run", "retry", id, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const made = (JSON.parse(r.stdout) as { retried: { of: string; id: string; queue: string }[] }).retried[0]!;
    expect(made).toMatchObject({ of: id, queue: "default" });
    const record = latest(h.registry, made.id);
    expect(record).toMatchObject({ retry_of: id, method: "clearml", clearml_source_task_id: t, status: "queued", name: "failing-run" });
    const clone = task(String(record["clearml_task_id"]));
    expect(clone.id).not.toBe(t);
    expect(clone.system_tags).toEqual([`expflow:${made.id}`]);
    expect(clone.status).toBe("queued");
  });
});

describe("refusals that change nothing", () => {
  it("a delete ClearML refuses (400/123) is exit 2, and the run stays archived here", async () => {
    const h = await newHome({ pin: true });
    const { id, task: t } = await dispatched(h, "refused-delete");
    Object.assign(task(t), { status: "completed" });
    expect((await h.cli(["run", "sync"])).code).toBe(0);
    fake.resetCounts();
    expect((await h.cli(["run", "archive", id, "--pin-stdin"], { input: `${PIN}\n` })).code).toBe(0);
    expect(fake.requests.map((q) => q.endpoint)).toEqual(["auth.login", "tasks.archive"]);
    fake.failNext("tasks.delete", { status: 400, subcode: 123, msg: "Task cannot be deleted" });
    const r = await h.cli(["run", "delete", id, "--pin-stdin"], { input: `${PIN}\n` });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("refuses to delete task");
    expect(latest(h.registry, id)).toMatchObject({ archived: true });
    expect(latest(h.registry, id)["deleted"]).toBeUndefined();
    expect(fake.tasks.some((x) => x.id === t)).toBe(true);
  });

  it("a missing project is created (and said); with an unknown queue, nothing is: neither the project nor a task", async () => {
    const h = await newHome();
    const tasks = fake.tasks.length;
    const refused = await h.cli(["run", "submit", "--clearml", "--no-repo", "--queue", "nope", "--project", "Brand/New", "--", "true"]);
    expect(refused.code).toBe(2);
    expect(fake.projects.map((p) => p.name)).not.toContain("Brand/New");
    expect(fake.tasks.length).toBe(tasks);
    const made = await h.cli(["run", "submit", "--clearml", "--no-repo", "--project", "Brand/New", "--", "true"]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toContain("note: created the ClearML project 'Brand/New'");
    const project = fake.projects.find((p) => p.name === "Brand/New")!;
    expect(task(String(latest(h.registry, made.stdout.trim())["clearml_task_id"])).project).toBe(project.id);
  });

  it("without --name the task is named by its command, or by the run when the command is too short for ClearML", async () => {
    const h = await newHome();
    const short = await h.cli(["run", "submit", "--clearml", "--no-repo", "--", "ls"]);
    expect(short.code, short.stderr).toBe(0);
    const id = short.stdout.trim();
    expect(task(String(latest(h.registry, id)["clearml_task_id"])).name).toBe(`expflow ${id}`);
    const long = await h.cli(["run", "submit", "--clearml", "--no-repo", "--", "echo", "hello"]);
    expect(task(String(latest(h.registry, long.stdout.trim())["clearml_task_id"])).name).toBe("echo hello");
  });

  it("careless ids: a clone source or a name that cannot be one is exit 2 before any request", async () => {
    const h = await newHome();
    fake.resetCounts();
    const bad = await h.cli(["run", "submit", "--clearml", "--clone", "../etc/passwd"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("ClearML task id");
    const short = await h.cli(["run", "submit", "--clearml", "--no-repo", "--name", "ab", "--", "true"]);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("too short for ClearML");
    expect(fake.requests.filter((r) => r.endpoint.startsWith("tasks."))).toEqual([]);
    expect(lines(h.registry)).toEqual([]);
  });

  it("a server that answers a creation with an id that is no id: the task is found by its link tag, the bad id never recorded", async () => {
    const h = await newHome();
    fake.respondNext("tasks.create", (res) => {
      const body = JSON.stringify({ meta: { result_code: 200, result_subcode: 0, result_msg: "OK" }, data: { id: "../../x" } });
      res.writeHead(200, { "Content-Type": "application/json" }).end(body);
    });
    const r = await h.cli(["run", "submit", "--clearml", "--no-repo", "--name", "lying-server", "--", "true"]);
    expect(r.code, r.stderr).toBe(0);
    const made = fake.tasks.filter((t) => t.name === "lying-server");
    expect(made).toHaveLength(1);
    expect(latest(h.registry, r.stdout.trim())["clearml_task_id"]).toBe(made[0]!.id);
    expect(readFileSync(h.registry, "utf8")).not.toContain("../../x");
  });
});
