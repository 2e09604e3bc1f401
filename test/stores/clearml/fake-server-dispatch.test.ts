// Self-tests of the fake ClearML server's dispatch behaviour (task state machine, task writes,
// queues, workers, the clock and the watchdog), over plain fetch. What each case expects is the
// real server's answer, read from its source (apiserver/bll/task/*.py, bll/queue, services/*.py).
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_QUEUE_ID, FakeClearml, STATE_MACHINE, type FakeClearmlOptions, type FakeTask } from "../../../fake-clearml/server.js";
import { fakeProject, fakeTask, md5 } from "../../../fake-clearml/tasks.js";
import { assertCleanAndClose, client, codes, type Answer } from "../../fake-clearml/helpers.js";

let fake: FakeClearml | undefined;

afterEach(async () => {
  const f = fake;
  fake = undefined;
  await assertCleanAndClose(f);
});

const P = fakeProject("Dispatch");
/** A fixed start time, so that every time the fake writes is predictable. */
const T0 = Date.parse("2026-03-01T12:00:00.000Z");

async function start(options: FakeClearmlOptions = {}): Promise<FakeClearml> {
  fake = await FakeClearml.start({ projects: [P], now: () => T0, ...options });
  return fake;
}

function task(f: FakeClearml, id: string): FakeTask {
  const t = f.tasks.find((x) => x.id === id);
  if (!t) throw new Error(`no task ${id}`);
  return t;
}

/** A task in `status`, added to the fake's state directly. */
function add(f: FakeClearml, name: string, status: string, extra: Partial<Parameters<typeof fakeTask>[0]> = {}): FakeTask {
  const t = fakeTask({ name, project: P.id, status, created: "2026-02-01T00:00:00.000Z", ...extra });
  f.tasks.push(t);
  return t;
}

function msg(a: Answer): string {
  return a.json.meta.result_msg as string;
}

describe("the task state machine", () => {
  // The digest's table ("Task statuses and moves"), as the server's apiserver/bll/task/utils.py
  // `state_machine` has it. The digest also lists created -> stopped: the server does not allow
  // it (tasks.stop on a created task is 400/110, which the digest says too).
  const DIGEST: Record<string, string[]> = {
    created: ["queued", "in_progress"],
    queued: ["created", "in_progress", "stopped"],
    in_progress: ["stopped", "failed", "created", "completed"],
    stopped: ["closed", "created", "failed", "queued", "in_progress", "published", "publishing", "completed"],
    failed: ["created", "stopped", "published", "queued"],
    completed: ["published", "in_progress", "created"],
    closed: ["created", "failed", "published", "publishing", "stopped"],
    publishing: ["published"],
    published: [],
  };
  const STATUSES = ["created", "queued", "in_progress", "stopped", "published", "publishing", "closed", "failed", "completed", "unknown"];

  it("is the digest's table (unknown has no moves)", () => {
    expect(STATE_MACHINE).toEqual(DIGEST);
  });

  // The endpoints that move a task to one status without other checks first.
  const MOVES: { to: string; endpoint: string; body?: Record<string, unknown> }[] = [
    { to: "in_progress", endpoint: "tasks.started" },
    { to: "stopped", endpoint: "tasks.stopped" },
    { to: "failed", endpoint: "tasks.failed" },
    { to: "completed", endpoint: "tasks.completed" },
    { to: "closed", endpoint: "tasks.close" },
    { to: "queued", endpoint: "tasks.enqueue", body: { queue: DEFAULT_QUEUE_ID } },
  ];
  const cases = STATUSES.flatMap((from) => MOVES.map((m) => ({ from, ...m })));

  it.each(cases)("$from -> $to ($endpoint)", async ({ from, to, endpoint, body }) => {
    const f = await start();
    const api = await client(f);
    const t = add(f, `from-${from}`, from);
    const r = await api(endpoint, { task: t.id, ...body });
    if (from === to || DIGEST[from]?.includes(to)) {
      expect(r.status).toBe(200);
      expect(task(f, t.id)).toMatchObject({ status: to, status_changed: new Date(T0).toISOString(), last_update: new Date(T0).toISOString() });
    } else if (from === "unknown") {
      expect(codes(r)).toEqual([500, 1]);
      expect(msg(r)).toBe("internal server error (Current status unknown not supported by state machine)");
    } else {
      expect(codes(r)).toEqual([400, 110]);
      expect(msg(r)).toBe(`invalid task status (Invalid status change): current_status=${from}, new_status=${to}`);
      expect(r.json.meta.error_data).toEqual({ current_status: from, new_status: to });
      expect(task(f, t.id).status).toBe(from);
    }
  });

  it("force allows any move; the same status is always allowed", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "published", "published");
    expect(codes(await api("tasks.started", { task: t.id }))).toEqual([400, 110]);
    expect((await api("tasks.started", { task: t.id, force: true })).status).toBe(200);
    const again = await api("tasks.started", { task: t.id, status_reason: "again" });
    expect(again.status).toBe(200);
    expect(again.json.data).toMatchObject({ started: 1, updated: 1, fields: { status: "in_progress", status_reason: "again", status_message: "" } });
  });

  it("every status change writes status_changed, last_update, status_reason and status_message (the clock's time)", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "running", "in_progress", { status_reason: "old", status_message: "old" });
    f.clock.advance(5_000);
    const r = await api("tasks.failed", { task: t.id, status_reason: "why", status_message: "what" });
    const at = new Date(T0 + 5_000).toISOString();
    expect(r.json.data).toEqual({
      updated: 1,
      fields: { status: "failed", status_reason: "why", status_message: "what", status_changed: at, last_update: at, last_change: at, last_changed_by: "fake-user" },
    });
    expect(task(f, t.id)).toMatchObject({ status: "failed", status_reason: "why", status_message: "what", status_changed: at, last_update: at });
  });

  it("tasks.started sets `started` once; tasks.stopped and tasks.completed set `completed`", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "new", "created");
    await api("tasks.started", { task: t.id });
    expect(task(f, t.id).started).toBe(new Date(T0).toISOString());
    f.clock.advance(60_000);
    await api("tasks.started", { task: t.id });
    expect(task(f, t.id).started).toBe(new Date(T0).toISOString());
    await api("tasks.completed", { task: t.id, status_reason: "done" });
    expect(task(f, t.id)).toMatchObject({ status: "completed", completed: new Date(T0 + 60_000).toISOString() });
  });
});

describe("tasks.create, edit, edit_hyper_params, clone", () => {
  it("creates a task: {id}, status created, created and last_update by the clock, the script as sent (trimmed)", async () => {
    const f = await start();
    const api = await client(f);
    const r = await api("tasks.create", {
      name: "  train-a  ",
      type: "training",
      project: P.id,
      comment: "c",
      tags: ["expflow"],
      script: { repository: " /tmp/repo ", branch: "main", entry_point: "-c echo hi", binary: "/bin/bash", working_dir: ".", requirements: { pip: "numpy==1\n" } },
      hyperparams: { Args: { lr: { section: "Args", name: "lr", value: "0.1", type: "float" } } },
      container: { image: "python:3.11", arguments: "", setup_shell_script: "" },
    });
    expect(r.status).toBe(200);
    const id = r.json.data.id as string;
    expect(Object.keys(r.json.data)).toEqual(["id"]);
    const at = new Date(T0).toISOString();
    expect(task(f, id)).toMatchObject({
      name: "train-a",
      status: "created",
      type: "training",
      project: P.id,
      company: "fake-company",
      user: "fake-user",
      comment: "c",
      tags: ["expflow"],
      created: at,
      last_update: at,
      script: { repository: "/tmp/repo", branch: "main", entry_point: "-c echo hi", binary: "/bin/bash", working_dir: ".", requirements: { pip: "numpy==1\n" } },
      hyperparams: { Args: { lr: { section: "Args", name: "lr", value: "0.1", type: "float" } } },
      container: { image: "python:3.11", arguments: "", setup_shell_script: "" },
    });
    const read = await api("tasks.get_all", { id: [id], only_fields: ["status", "script.entry_point", "execution.queue", "created"] });
    expect(read.json.data.tasks).toEqual([{ id, status: "created", script: { entry_point: "-c echo hi" }, created: at }]);
  });

  it("refuses a name under 3 characters after trimming (400/800), an unknown project (400/16), a missing type (400/12)", async () => {
    const f = await start();
    const api = await client(f);
    const short = await api("tasks.create", { name: " ab ", type: "training", project: P.id });
    expect(codes(short)).toEqual([400, 800]);
    expect(msg(short)).toBe("data validation error: name=String value is too short");
    const project = await api("tasks.create", { name: "abc", type: "training", project: "nope" });
    expect(codes(project)).toEqual([400, 16]);
    expect(msg(project)).toBe("invalid value for fields (expecting Project id): id=nope, field=project");
    const parent = await api("tasks.create", { name: "abc", type: "training", project: P.id, parent: "nope" });
    expect(codes(parent)).toEqual([400, 16]);
    expect(codes(await api("tasks.create", { name: "abc", project: P.id }))).toEqual([400, 12]);
    expect(codes(await api("tasks.create", { name: "abc", type: "nope", project: P.id }))).toEqual([400, 12]);
    expect(f.takeViolations()).toHaveLength(2);
    expect(f.tasks).toHaveLength(0);
  });

  it("drops unknown keys (also inside script) and records them; the task is created without them", async () => {
    const f = await start();
    const api = await client(f);
    const r = await api("tasks.create", { name: "abc", type: "training", project: P.id, status: "queued", script: { repo: "x", entry_point: "a.py" } });
    expect(r.status).toBe(200);
    expect(task(f, r.json.data.id)).toMatchObject({ status: "created", script: { entry_point: "a.py", repository: "" } });
    expect(f.takeViolations()).toEqual(["tasks.create: unknown key 'status' ignored (the real server drops it silently)", "tasks.create: unknown key 'script.repo' ignored (the real server drops it silently)"]);
  });

  it("edits only a created task unless force (400/110 'expected=created'); the script is merged", async () => {
    const f = await start();
    const api = await client(f);
    const id = (await api("tasks.create", { name: "abc", type: "training", project: P.id, script: { entry_point: "a.py", binary: "python3" } })).json.data.id as string;
    const ok = await api("tasks.edit", { task: id, script: { diff: "print(1)\n" }, comment: "x" });
    expect(ok.json.data).toMatchObject({ updated: 1, fields: { comment: "x", script: { entry_point: "a.py", binary: "python3", diff: "print(1)\n" } } });
    task(f, id).status = "completed";
    const refused = await api("tasks.edit", { task: id, comment: "y" });
    expect(codes(refused)).toEqual([400, 110]);
    expect(msg(refused)).toBe("invalid task status: expected=created, status=completed");
    expect((await api("tasks.edit", { task: id, comment: "y", force: true })).status).toBe(200);
    expect(task(f, id).comment).toBe("y");
  });

  it("edit_hyper_params: created only (force also in_progress) else 400/110; values must be strings (400/12); replace none|section|all", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "hp", "created", { params: { "Args/lr": "0.1", "Args/bs": "32", "Env/x": "1" } });
    const p = (section: string, name: string, value: unknown): Record<string, unknown> => ({ section, name, value });
    expect((await api("tasks.edit_hyper_params", { task: t.id, hyperparams: [p("Args", "lr", "0.2")] })).json.data).toEqual({ updated: 1 });
    expect(task(f, t.id).hyperparams).toEqual({ Args: { lr: { section: "Args", name: "lr", value: "0.2" }, bs: { section: "Args", name: "bs", value: "32" } }, Env: { x: { section: "Env", name: "x", value: "1" } } });
    await api("tasks.edit_hyper_params", { task: t.id, hyperparams: [p("Args", "wd", "0")], replace_hyperparams: "section" });
    expect(Object.keys(task(f, t.id).hyperparams["Args"] ?? {})).toEqual(["wd"]);
    expect(task(f, t.id).hyperparams["Env"]).toBeDefined();
    await api("tasks.edit_hyper_params", { task: t.id, hyperparams: [p("Args", "lr", "1")], replace_hyperparams: "all" });
    expect(task(f, t.id).hyperparams).toEqual({ Args: { lr: { section: "Args", name: "lr", value: "1" } } });
    const notString = await api("tasks.edit_hyper_params", { task: t.id, hyperparams: [p("Args", "lr", 0.1)] });
    expect(codes(notString)).toEqual([400, 12]);
    expect(f.takeViolations()).toHaveLength(1);
    task(f, t.id).status = "in_progress";
    const running = await api("tasks.edit_hyper_params", { task: t.id, hyperparams: [p("Args", "lr", "2")] });
    expect(codes(running)).toEqual([400, 110]);
    expect(msg(running)).toBe("invalid task status: expected=created, status=in_progress");
    expect((await api("tasks.edit_hyper_params", { task: t.id, hyperparams: [p("Args", "lr", "2")], force: true })).status).toBe(200);
    task(f, t.id).status = "completed";
    expect(codes(await api("tasks.edit_hyper_params", { task: t.id, hyperparams: [p("Args", "lr", "3")], force: true }))).toEqual([400, 110]);
    // The `properties` section is editable in any status.
    expect((await api("tasks.edit_hyper_params", { task: t.id, hyperparams: [p("Properties", "note", "n")] })).status).toBe(200);
  });

  it("clones: script, hyperparams, tags, configuration, container copied; system tags minus development/archived; metrics not; parent the source", async () => {
    const f = await start();
    const api = await client(f);
    const src = add(f, "source", "completed", {
      tags: ["t1"],
      system_tags: ["development", "archived", "keep"],
      params: { "Args/lr": "0.1" },
      metrics: { Score: { seg_total: 0.5 } },
      script: { repository: "/r", entry_point: "a.py" },
      container: { image: "img" },
      configuration: { cfg: { name: "cfg", value: "v" } },
    });
    const r = await api("tasks.clone", { task: src.id });
    const c = task(f, r.json.data.id as string);
    expect(c).toMatchObject({ name: "source", status: "created", tags: ["t1"], system_tags: ["keep"], parent: src.id, script: { repository: "/r", entry_point: "a.py" }, container: { image: "img" }, configuration: src.configuration, hyperparams: src.hyperparams, last_metrics: {} });
    expect(c.execution.queue).toBeUndefined();
    const over = await api("tasks.clone", { task: src.id, new_task_name: "copy", new_task_tags: ["t2"], new_task_hyperparams: { Env: { x: { section: "Env", name: "x", value: "1" } } } });
    expect(task(f, over.json.data.id as string)).toMatchObject({ name: "copy", tags: ["t2"], hyperparams: { Env: { x: { section: "Env", name: "x", value: "1" } } } });
    expect(task(f, over.json.data.id as string).hyperparams["Args"]).toBeUndefined();
    // An empty list is Python-falsy: the source's tags are copied (and the fake says so).
    const empty = await api("tasks.clone", { task: src.id, new_task_tags: [] });
    expect(task(f, empty.json.data.id as string).tags).toEqual(["t1"]);
    expect(f.takeViolations()).toEqual([expect.stringContaining("an empty new_task_tags is ignored")]);
    const unknown = await api("tasks.clone", { task: "0".repeat(32) });
    expect(codes(unknown)).toEqual([400, 101]);
    expect(codes(await api("tasks.clone", { task: src.id, new_task_project: "nope" }))).toEqual([400, 401]);
  });
});

describe("tasks.enqueue", () => {
  it("queues to the default queue without a queue: {queued, updated, fields} with enqueue_status and execution.queue", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "new", "created", { system_tags: ["development"] });
    const r = await api("tasks.enqueue", { task: t.id, status_reason: "go" });
    const at = new Date(T0).toISOString();
    expect(r.json.data).toEqual({
      queued: 1,
      updated: 1,
      fields: { status: "queued", status_reason: "go", status_message: "", status_changed: at, last_update: at, last_change: at, last_changed_by: "fake-user", enqueue_status: "created", "execution.queue": DEFAULT_QUEUE_ID },
    });
    expect(task(f, t.id)).toMatchObject({ status: "queued", enqueue_status: "created", execution: { queue: DEFAULT_QUEUE_ID }, system_tags: [] });
    expect(f.queues.find((q) => q.id === DEFAULT_QUEUE_ID)?.entries).toEqual([{ task: t.id, added: at }]);
    // enqueue_status is excluded from answers unless asked for.
    const whole = (await api("tasks.get_all", { id: [t.id] })).json.data.tasks[0] as Record<string, unknown>;
    expect("enqueue_status" in whole).toBe(false);
    expect((await api("tasks.get_all", { id: [t.id], only_fields: ["enqueue_status", "execution.queue"] })).json.data.tasks).toEqual([{ id: t.id, enqueue_status: "created", execution: { queue: DEFAULT_QUEUE_ID } }]);
  });

  it("a misspelt key is dropped (recorded) and the task goes to the default queue", async () => {
    const f = await start({ queues: [{ name: "gpu" }] });
    const api = await client(f);
    const t = add(f, "new", "created");
    const gpu = f.queues.find((q) => q.name === "gpu")?.id;
    const r = await api("tasks.enqueue", { task: t.id, queue_id: gpu });
    expect(r.json.data.fields["execution.queue"]).toBe(DEFAULT_QUEUE_ID);
    expect(f.takeViolations()).toEqual(["tasks.enqueue: unknown key 'queue_id' ignored (the real server drops it silently)"]);
  });

  it("checks in the server's order: 400/101, 403/21, 707, 400/110, 400/701 (status put back, 'failed enqueueing'), 400/706", async () => {
    const f = await start({ defaultQueue: false, queues: [{ name: "queue-1" }] });
    const api = await client(f);
    const q1 = (f.queues[0] as { id: string }).id;
    expect(codes(await api("tasks.enqueue", { task: "0".repeat(32) }))).toEqual([400, 101]);
    const pub = add(f, "public", "created", { company: "" });
    const forbidden = await api("tasks.enqueue", { task: pub.id });
    expect(codes(forbidden)).toEqual([403, 21]);
    expect(msg(forbidden)).toBe(`forbidden (modification not allowed) (cannot modify public task(s), ids=('${pub.id}',))`);
    const done = add(f, "done", "completed");
    const noDefault = await api("tasks.enqueue", { task: done.id });
    expect(codes(noDefault)).toEqual([400, 707]);
    expect(codes(await api("tasks.enqueue", { task: done.id, queue: q1 }))).toEqual([400, 110]);
    const t = add(f, "new", "created");
    const unknownQueue = await api("tasks.enqueue", { task: t.id, queue: "nope" });
    expect(codes(unknownQueue)).toEqual([400, 701]);
    expect(msg(unknownQueue)).toBe("invalid queue id: id=nope, company=fake-company");
    expect(task(f, t.id)).toMatchObject({ status: "created", status_reason: "failed enqueueing" });
    expect((await api("tasks.enqueue", { task: t.id, queue: q1 })).status).toBe(200);
    const twice = await api("tasks.enqueue", { task: t.id, queue: q1 });
    expect(codes(twice)).toEqual([400, 706]);
    expect(msg(twice)).toBe(`failed adding task to queue since task is already queued: task=${t.id}`);
    expect(task(f, t.id)).toMatchObject({ status: "queued", status_reason: "failed enqueueing" });
  });

  it("708 when several queues carry the default tag", async () => {
    const f = await start({ queues: [{ name: "other", system_tags: ["default"] }] });
    const api = await client(f);
    const t = add(f, "new", "created");
    const r = await api("tasks.enqueue", { task: t.id });
    expect(codes(r)).toEqual([400, 708]);
    expect(codes(await api("queues.get_default"))).toEqual([400, 708]);
  });

  it("leaves any other queue; the status before the first enqueue is kept", async () => {
    const f = await start({ queues: [{ name: "queue-1" }, { name: "queue-2" }] });
    const api = await client(f);
    const [, q1, q2] = f.queues.map((q) => q.id);
    const t = add(f, "failed", "failed");
    await api("tasks.enqueue", { task: t.id, queue: q1 });
    await api("tasks.enqueue", { task: t.id, queue: q2 });
    expect(f.queues.map((q) => q.entries.map((e) => e.task))).toEqual([[], [], [t.id]]);
    expect(task(f, t.id)).toMatchObject({ status: "queued", enqueue_status: "failed", execution: { queue: q2 } });
    const back = await api("tasks.dequeue", { task: t.id });
    expect(back.json.data).toMatchObject({ dequeued: 1, updated: 1, fields: { status: "failed" } });
  });

  it("queue_name finds or CREATES the queue (recorded); verify_watched_queue answers queue_watched", async () => {
    const f = await start();
    const api = await client(f);
    const a = add(f, "a", "created");
    const r = await api("tasks.enqueue", { task: a.id, queue_name: "gpu-typo", verify_watched_queue: true });
    expect(r.status).toBe(200);
    const created = f.queues.find((q) => q.name === "gpu-typo");
    expect(created?.entries.map((e) => e.task)).toEqual([a.id]);
    expect(r.json.data.queue_watched).toBe(false);
    expect(f.takeViolations()).toEqual([expect.stringContaining("queue_name 'gpu-typo' creates the queue")]);
    await api("workers.register", { worker: "w1", queues: [DEFAULT_QUEUE_ID] });
    const b = add(f, "b", "created");
    expect((await api("tasks.enqueue", { task: b.id, verify_watched_queue: true })).json.data.queue_watched).toBe(true);
    const both = await api("tasks.enqueue", { task: b.id, queue: DEFAULT_QUEUE_ID, queue_name: "x" });
    expect(codes(both)).toEqual([400, 12]);
    f.takeViolations();
  });

  it("reads a non-boolean flag by Python truthiness ('false' is true) and records it", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "done", "completed");
    const r = await api("tasks.enqueue", { task: t.id, force: "false" });
    expect(r.status).toBe(200);
    expect(task(f, t.id).status).toBe("queued");
    expect(f.takeViolations()).toEqual([`tasks.enqueue: 'force' is "false", not a boolean: the server reads it as True (Python truthiness)`]);
    // Without a request model too: tasks.get_all tests `if data.get("search_hidden")`.
    add(f, "hidden", "created", { system_tags: ["hidden"] });
    expect((await api("tasks.get_all", { search_hidden: "no", only_fields: ["name"] })).json.data.tasks).toHaveLength(2);
    expect(f.takeViolations()).toEqual([expect.stringContaining("'search_hidden' is \"no\", not a boolean")]);
  });
});

describe("projects.create", () => {
  it("creates a project (and its missing parents), refuses a taken name 400/801 and an empty one 400/407", async () => {
    const f = await start();
    const api = await client(f);
    const made = await api("projects.create", { name: " Sweep / ablations ", description: "d" });
    expect(codes(made)).toEqual([200, 0]);
    expect(f.projects.map((p) => p.name)).toEqual(["Dispatch", "Sweep", "Sweep/ablations"]);
    expect(f.projects.find((p) => p.name === "Sweep/ablations")?.id).toBe(made.json.data.id);
    expect(codes(await api("projects.create", { name: "Sweep/ablations" }))).toEqual([400, 801]);
    expect(codes(await api("projects.create", { name: "//" }))).toEqual([400, 407]);
    expect(codes(await api("projects.create", {}))).toEqual([400, 11]);
  });
});

describe("queues", () => {
  it("pops entries FIFO with queues.get_next_task; the status stays queued; an empty queue answers {}", async () => {
    const f = await start();
    const api = await client(f);
    const ids = ["a", "b", "c"].map((n) => add(f, n, "created").id);
    for (const [i, id] of ids.entries()) {
      f.clock.advance(1_000 * i);
      await api("tasks.enqueue", { task: id });
    }
    const q = await api("queues.get_by_id", { queue: DEFAULT_QUEUE_ID });
    expect((q.json.data.queue.entries as { task: string }[]).map((e) => e.task)).toEqual(ids);
    expect(q.json.data.queue).toMatchObject({ id: DEFAULT_QUEUE_ID, name: "default", system_tags: ["default"] });
    const popped: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await api("queues.get_next_task", { queue: DEFAULT_QUEUE_ID, get_task_info: true });
      popped.push(r.json.data.entry.task as string);
      expect(r.json.data.task_info).toEqual({ company: "fake-company", user: "fake-user" });
    }
    expect(popped).toEqual(ids);
    expect(ids.map((id) => task(f, id).status)).toEqual(["queued", "queued", "queued"]);
    expect((await api("queues.get_next_task", { queue: DEFAULT_QUEUE_ID })).json.data).toEqual({});
    expect(codes(await api("queues.get_next_task", { queue: "nope" }))).toEqual([400, 701]);
  });

  it("get_default, get_by_id (400/701), create (400/800 short, 400/801 taken), delete (400/702 unless force, then its tasks reset)", async () => {
    const f = await start();
    const api = await client(f);
    expect((await api("queues.get_default")).json.data).toEqual({ id: DEFAULT_QUEUE_ID, name: "default" });
    const missing = await api("queues.get_by_id", { queue: "nope" });
    expect(codes(missing)).toEqual([400, 701]);
    expect(codes(await api("queues.create", { name: "ab" }))).toEqual([400, 800]);
    expect(codes(await api("queues.create", { name: "default" }))).toEqual([400, 801]);
    const id = (await api("queues.create", { name: "gpu", tags: ["x"] })).json.data.id as string;
    expect(f.queues.find((q) => q.id === id)).toMatchObject({ name: "gpu", tags: ["x"], entries: [], created: new Date(T0).toISOString() });
    const t = add(f, "t", "failed");
    await api("tasks.enqueue", { task: t.id, queue: id });
    const refused = await api("queues.delete", { queue: id });
    expect(codes(refused)).toEqual([400, 702]);
    expect((await api("queues.delete", { queue: id, force: true })).json.data).toEqual({ deleted: 1 });
    expect(f.queues.some((q) => q.id === id)).toBe(false);
    expect(task(f, t.id)).toMatchObject({ status: "failed", status_reason: `Queue ${id} was deleted`, execution: {} });
    expect((await api("queues.delete", { queue: DEFAULT_QUEUE_ID })).status).toBe(200);
    expect(codes(await api("queues.get_default"))).toEqual([400, 707]);
  });

  it("get_all: name regex, only_fields, paging, hidden (k8s-glue) queues only with search_hidden, id or name", async () => {
    const f = await start({ queues: [{ name: "gpu-a" }, { name: "gpu-b" }, { name: "glue", system_tags: ["k8s-glue"] }] });
    const api = await client(f);
    const names = (a: Answer): string[] => (a.json.data.queues as { name: string }[]).map((q) => q.name);
    expect(names(await api("queues.get_all", { order_by: ["name"], only_fields: ["name"] }))).toEqual(["default", "gpu-a", "gpu-b"]);
    expect(names(await api("queues.get_all", { search_hidden: true, order_by: ["name"], only_fields: ["name"] }))).toEqual(["default", "glue", "gpu-a", "gpu-b"]);
    expect(names(await api("queues.get_all", { name: "^glue$", only_fields: ["name"] }))).toEqual(["glue"]);
    expect(names(await api("queues.get_all", { name: "gpu", order_by: ["-name"], only_fields: ["name"] }))).toEqual(["gpu-b", "gpu-a"]);
    const page = await api("queues.get_all", { page: 1, page_size: 1, order_by: ["name"], only_fields: ["id", "name"] });
    expect(page.json.data.queues).toEqual([{ id: f.queues[1]?.id, name: "gpu-a" }]);
  });
});

describe("tasks.dequeue", () => {
  it("from queued: leaves the queue, back to the status before enqueueing (or new_status, 2.26)", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "t", "created");
    await api("tasks.enqueue", { task: t.id });
    const r = await api("tasks.dequeue", { task: t.id, status_reason: "undo" });
    expect(r.json.data).toMatchObject({ dequeued: 1, updated: 1, fields: { status: "created", status_reason: "undo", enqueue_status: null } });
    expect(f.queues[0]?.entries).toEqual([]);
    // execution.queue stays (only a reset or a deleted queue unsets it).
    expect(task(f, t.id).execution.queue).toBe(DEFAULT_QUEUE_ID);
    await api("tasks.enqueue", { task: t.id });
    expect((await api("tasks.dequeue", { task: t.id, new_status: "stopped" })).json.data.fields.status).toBe("stopped");
    expect(codes(await api("tasks.dequeue", { task: t.id, new_status: "nope" }))).toEqual([400, 12]);
  });

  it("never fails for a status: an in_progress task is reset, any other is left (updated 0); an unknown id is {dequeued: 1, updated: 0}", async () => {
    const f = await start();
    const api = await client(f);
    const run = add(f, "run", "in_progress", { enqueue_status: "created" });
    expect((await api("tasks.dequeue", { task: run.id })).json.data).toMatchObject({ dequeued: 1, updated: 1, fields: { status: "created" } });
    const done = add(f, "done", "completed");
    expect((await api("tasks.dequeue", { task: done.id })).json.data).toEqual({ dequeued: 1, updated: 0 });
    expect(task(f, done.id).status).toBe("completed");
    expect((await api("tasks.dequeue", { task: "0".repeat(32) })).json.data).toEqual({ dequeued: 1, updated: 0 });
  });

  it("a popped task not yet started is in no queue but still dequeued", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "t", "created");
    await api("tasks.enqueue", { task: t.id });
    await api("queues.get_next_task", { queue: DEFAULT_QUEUE_ID });
    expect((await api("tasks.dequeue", { task: t.id })).json.data).toMatchObject({ updated: 1, fields: { status: "created" } });
  });
});

describe("tasks.stop", () => {
  it("queued: dequeued, then stopped 'Stopped by <user>'", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "t", "created");
    await api("tasks.enqueue", { task: t.id });
    const r = await api("tasks.stop", { task: t.id, status_reason: "cancel" });
    expect(r.json.data).toMatchObject({ updated: 1, fields: { status: "stopped", status_reason: "cancel", status_message: "Stopped by Fake User" } });
    expect(f.queues[0]?.entries).toEqual([]);
  });

  it("in_progress with a live worker: stays in_progress with status_message 'stopping'; after 600 s of silence: stopped at once", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "run", "in_progress");
    await api("workers.status_report", { worker: "w1", task: t.id, timestamp: 1 });
    expect(task(f, t.id)).toMatchObject({ last_worker: "w1", last_worker_report: new Date(T0).toISOString(), last_update: new Date(T0).toISOString() });
    f.clock.advance(599_000);
    const asked = await api("tasks.stop", { task: t.id, status_message: "ignored" });
    expect(asked.json.data.fields).toMatchObject({ status: "in_progress", status_message: "stopping" });
    expect(f.takeViolations()).toEqual([expect.stringContaining("'status_message' is ignored")]);
    f.clock.advance(601_000);
    const stopped = await api("tasks.stop", { task: t.id });
    expect(stopped.json.data.fields).toMatchObject({ status: "stopped", status_message: "Stopped by Fake User" });
  });

  it("in_progress without a worker, or with the development tag: stopped at once; created/completed/published/publishing: 400/110; stopped: accepted, unchanged", async () => {
    const f = await start();
    const api = await client(f);
    const lone = add(f, "lone", "in_progress");
    expect((await api("tasks.stop", { task: lone.id })).json.data.fields.status).toBe("stopped");
    const dev = add(f, "dev", "in_progress", { system_tags: ["development"], last_worker: "w", last_update: new Date(T0).toISOString() });
    expect((await api("tasks.stop", { task: dev.id })).json.data.fields.status).toBe("stopped");
    for (const status of ["created", "completed", "published", "publishing"]) {
      const t = add(f, `s-${status}`, status);
      const r = await api("tasks.stop", { task: t.id });
      expect(codes(r)).toEqual([400, 110]);
      expect(msg(r)).toBe(`invalid task status (Invalid status change): current_status=${status}, new_status=stopped`);
    }
    const again = await api("tasks.stop", { task: lone.id });
    expect(again.status).toBe(200);
    expect(task(f, lone.id).status).toBe("stopped");
    expect(codes(await api("tasks.stop", { task: "0".repeat(32) }))).toEqual([400, 101]);
  });
});

describe("archive, delete, reset", () => {
  it("tasks.archive: the archived tag; a queued task dequeued, an in_progress one forced to stopped; any unknown id fails the whole call", async () => {
    const f = await start();
    const api = await client(f);
    const q = add(f, "q", "created");
    await api("tasks.enqueue", { task: q.id });
    const run = add(f, "run", "in_progress");
    const done = add(f, "done", "completed");
    const fail = await api("tasks.archive", { tasks: [q.id, "0".repeat(32)] });
    expect(codes(fail)).toEqual([400, 101]);
    expect(msg(fail)).toBe(`invalid task id: ids=(${"0".repeat(32)})`);
    expect(task(f, q.id).system_tags).toEqual([]);
    const r = await api("tasks.archive", { tasks: [q.id, run.id, done.id] });
    expect(r.json.data).toEqual({ archived: 3 });
    expect([q, run, done].map((t) => [task(f, t.id).status, task(f, t.id).system_tags])).toEqual([
      ["created", ["archived"]],
      ["stopped", ["archived"]],
      ["completed", ["archived"]],
    ]);
    expect(f.queues[0]?.entries).toEqual([]);
    const pub = add(f, "pub", "completed", { company: "" });
    expect(codes(await api("tasks.archive", { tasks: [pub.id] }))).toEqual([403, 21]);
  });

  it("archive_many reports each id; unarchive_many removes the tag", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "t", "completed");
    const r = await api("tasks.archive_many", { ids: [t.id, "0".repeat(32)] });
    expect(r.json.data.succeeded).toEqual([{ id: t.id, archived: true }]);
    expect(r.json.data.failed).toEqual([{ id: "0".repeat(32), error: { codes: [400, 101], msg: `invalid task id: id=${"0".repeat(32)}, company=fake-company`, data: { id: "0".repeat(32), company: "fake-company" } } }]);
    expect((await api("tasks.unarchive_many", { ids: [t.id] })).json.data).toEqual({ succeeded: [{ id: t.id, unarchived: true }], failed: [] });
    expect(task(f, t.id).system_tags).toEqual([]);
  });

  it("tasks.delete: 400/123 unless created or archived (or force); removes the task; 400/101 for an unknown one", async () => {
    const f = await start();
    const api = await client(f);
    const run = add(f, "run", "in_progress");
    const refused = await api("tasks.delete", { task: run.id });
    expect(codes(refused)).toEqual([400, 123]);
    expect(msg(refused)).toBe(`task cannot be deleted (due to status, use force=True): task=${run.id}, expected=created, current=in_progress`);
    const archived = add(f, "arch", "completed", { archived: true });
    const child = add(f, "child", "completed", { parent: archived.id });
    expect((await api("tasks.delete", { task: archived.id })).json.data).toEqual({ deleted: true, updated_children: 1, updated_models: 0, deleted_models: 0, urls: null });
    expect(f.tasks.some((t) => t.id === archived.id)).toBe(false);
    expect(task(f, child.id).parent).toBe(`__DELETED__${archived.id}`);
    expect((await api("tasks.delete", { task: run.id, force: true })).json.data.deleted).toBe(true);
    expect(codes(await api("tasks.delete", { task: run.id }))).toEqual([400, 101]);
    const created = add(f, "new", "created");
    expect((await api("tasks.delete", { task: created.id })).status).toBe(200);
  });

  it("tasks.reset: back to created ('reset'), dequeued, metrics/started/completed/last_worker/execution.queue wiped; published 400/110 unless force", async () => {
    const f = await start();
    const api = await client(f);
    const t = add(f, "t", "failed", { metrics: { Score: { seg_total: 1 } }, last_worker: "w", runtime: { a: 1 } });
    await api("tasks.enqueue", { task: t.id });
    const r = await api("tasks.reset", { task: t.id });
    expect(r.json.data).toMatchObject({ updated: 1, fields: { status: "created", status_reason: "reset", status_message: "reset" }, dequeued: { removed: 1 } });
    const after = task(f, t.id);
    expect(after).toMatchObject({ status: "created", last_metrics: {}, runtime: {}, execution: {} });
    for (const k of ["started", "completed", "last_worker", "enqueue_status"] as const) expect(after[k]).toBeUndefined();
    const pub = add(f, "pub", "published");
    const refused = await api("tasks.reset", { task: pub.id });
    expect(codes(refused)).toEqual([400, 110]);
    expect(msg(refused)).toBe(`invalid task status: task_id=${pub.id}, status=published`);
    expect((await api("tasks.reset", { task: pub.id, force: true })).status).toBe(200);
    const publishing = add(f, "publishing", "publishing");
    expect(codes(await api("tasks.reset", { task: publishing.id }))).toEqual([400, 110]);
  });
});

describe("tasks.get_all over the dispatch fields", () => {
  it("status sync: only_fields with dotted paths, status_changed '>=' filter, parent, execution.queue; other companies' tasks invisible, public ones listed", async () => {
    const f = await start();
    const api = await client(f);
    const a = add(f, "a", "created");
    const b = add(f, "b", "created", { parent: a.id });
    add(f, "other-company", "created", { company: "someone-else" });
    const pub = add(f, "public", "completed", { company: "", status_changed: "2020-01-01T00:00:00.000Z" });
    await api("tasks.enqueue", { task: a.id });
    const sync = await api("tasks.get_all", {
      id: [a.id, b.id],
      only_fields: ["id", "status", "status_reason", "status_message", "status_changed", "last_update", "last_worker", "started", "completed", "execution.queue", "system_tags"],
    });
    expect(sync.json.data.tasks).toEqual([
      { id: a.id, status: "queued", status_reason: "", status_message: "", status_changed: new Date(T0).toISOString(), last_update: new Date(T0).toISOString(), execution: { queue: DEFAULT_QUEUE_ID }, system_tags: [] },
      { id: b.id, status: "created", status_reason: "", status_message: "", status_changed: b.status_changed, last_update: b.last_update, system_tags: [] },
    ]);
    const ids = (r: Answer): string[] => (r.json.data.tasks as { id: string }[]).map((t) => t.id).sort();
    expect(ids(await api("tasks.get_all", { status_changed: [">=2026-03-01T00:00:00"], only_fields: ["id"] }))).toEqual([a.id]);
    expect(ids(await api("tasks.get_all", { status_changed: ["<2021-01-01T00:00:00"], only_fields: ["id"] }))).toEqual([pub.id]);
    expect(ids(await api("tasks.get_all", { parent: a.id, only_fields: ["id"] }))).toEqual([b.id]);
    expect(ids(await api("tasks.get_all", { "execution.queue": [DEFAULT_QUEUE_ID], only_fields: ["id"] }))).toEqual([a.id]);
    expect(ids(await api("tasks.get_all", { only_fields: ["id"] }))).toEqual([a.id, b.id, pub.id].sort());
  });

  it("records id: [] (no filter at all) and answers an unknown __$ operator with 400/16 (recorded)", async () => {
    const f = await start();
    const api = await client(f);
    add(f, "a", "created");
    expect((await api("tasks.get_all", { id: [], only_fields: ["id"] })).json.data.tasks).toHaveLength(1);
    expect(f.takeViolations()).toEqual([expect.stringContaining("id: [] is no filter at all")]);
    const bad = await api("tasks.get_all", { tags: ["__$xor", "a"] });
    expect(codes(bad)).toEqual([400, 16]);
    expect(msg(bad)).toBe("invalid value for fields (Unsupported operator): field=tags, operator=__$xor");
    expect(f.takeViolations()).toHaveLength(1);
  });

  it("reads a lone string as a list of one (as get_list_field_query); records allow_public, which tasks.get_all ignores", async () => {
    const f = await start();
    const api = await client(f);
    const a = add(f, "a", "created", { tags: ["x"] });
    add(f, "b", "created");
    expect((await api("tasks.get_all", { tags: "x", only_fields: ["id"] })).json.data.tasks).toEqual([{ id: a.id }]);
    expect(f.violations).toEqual([]);
    add(f, "public", "created", { company: "" });
    expect((await api("tasks.get_all", { allow_public: false, only_fields: ["id"] })).json.data.tasks).toHaveLength(3);
    expect(f.takeViolations()).toEqual([expect.stringContaining("'allow_public' is ignored")]);
  });

  it("list filters as the server: the first operator sets how groups combine, '-x' after an operator is literal, null matches empty lists", async () => {
    const f = await start();
    const api = await client(f);
    add(f, "a", "created", { tags: ["x"] });
    add(f, "b", "created", { tags: ["y", "z"] });
    add(f, "c", "created", { tags: [] });
    add(f, "d", "created", { tags: ["-x"] });
    const names = async (tags: unknown[]): Promise<string[]> => ((await api("tasks.get_all", { tags, only_fields: ["name"], order_by: ["name"] })).json.data.tasks as { name: string }[]).map((t) => t.name);
    expect(await names(["__$any", "x", "__$all", "y", "z"])).toEqual(["a", "b"]);
    expect(await names(["__$all", "y", "__$any", "x"])).toEqual([]);
    expect(await names(["__$any", "-x"])).toEqual(["d"]);
    expect(await names(["-x"])).toEqual(["b", "c", "d"]);
    expect(await names([null, "x"])).toEqual(["a", "c"]);
    expect(await names(["__$not", "x"])).toEqual(["b", "c", "d"]);
  });
});

describe("workers, the clock and the watchdog", () => {
  it("workers.register and status_report; workers.get_all {last_seen} by the clock; a worker expires after its timeout", async () => {
    const f = await start();
    const api = await client(f);
    expect((await api("workers.register", { worker: "w1", queues: [DEFAULT_QUEUE_ID] })).status).toBe(200);
    expect(codes(await api("workers.register", { worker: "w2", queues: ["nope"] }))).toEqual([400, 701]);
    const t = add(f, "t", "in_progress");
    await api("workers.status_report", { worker: "w1", task: t.id, queue: DEFAULT_QUEUE_ID, timestamp: 1 });
    const all = await api("workers.get_all", { last_seen: 60 });
    expect(all.json.data.workers).toHaveLength(1);
    expect(all.json.data.workers[0]).toMatchObject({ id: "w1", task: { id: t.id, name: "t" }, queues: [{ id: DEFAULT_QUEUE_ID, name: "default", num_tasks: 0 }], queue: { id: DEFAULT_QUEUE_ID } });
    f.clock.advance(120_000);
    expect((await api("workers.get_all", { last_seen: 60 })).json.data.workers).toHaveLength(0);
    expect((await api("workers.get_all", {})).json.data.workers).toHaveLength(1);
    f.clock.advance(600_000);
    expect((await api("workers.get_all", {})).json.data.workers).toHaveLength(0);
    // A report from an unknown worker registers it (auto_register).
    await api("workers.status_report", { worker: "w3", timestamp: 1 });
    expect((await api("workers.get_all", {})).json.data.workers.map((w: { id: string }) => w.id)).toEqual(["w3"]);
    expect(codes(await api("workers.status_report", { worker: "w3" }))).toEqual([400, 12]);
    expect(codes(await api("workers.status_report", { worker: "w3", task: "0".repeat(32), timestamp: 1 }))).toEqual([400, 101]);
    f.takeViolations();
  });

  it("runWatchdog stops in_progress tasks silent for more than 7,200 s: 'Forced stop (non-responsive)'", async () => {
    const f = await start();
    const api = await client(f);
    const stale = add(f, "stale", "in_progress", { last_update: new Date(T0).toISOString() });
    const fresh = add(f, "fresh", "in_progress", { last_update: new Date(T0).toISOString() });
    const done = add(f, "done", "completed", { last_update: "2000-01-01T00:00:00.000Z" });
    f.clock.advance(7_000_000);
    await api("workers.status_report", { worker: "w", task: fresh.id, timestamp: 1 });
    expect(f.runWatchdog()).toEqual([]);
    f.clock.advance(201_000);
    expect(f.runWatchdog()).toEqual([stale.id]);
    expect(task(f, stale.id)).toMatchObject({ status: "stopped", status_reason: "Forced stop (non-responsive)", status_message: "Forced stop (non-responsive)", status_changed: new Date(T0 + 7_201_000).toISOString() });
    expect(task(f, fresh.id).status).toBe("in_progress");
    expect(task(f, done.id).status).toBe("completed");
  });
});

describe("events.add_batch refusals", () => {
  const line = (task: string): string => JSON.stringify({ type: "training_stats_scalar", task, metric: "Score", variant: "seg_total", value: 1, iter: 0, timestamp: 1_772_000_000_000 });

  it("refuses publishing and published tasks, public tasks and other companies' tasks ('Invalid task id <id>'), adds the rest", async () => {
    const f = await start();
    const api = await client(f);
    const ok = add(f, "ok", "in_progress");
    const ids = ["publishing", "published"].map((s) => add(f, s, s).id);
    const pub = add(f, "public", "in_progress", { company: "" }).id;
    const other = add(f, "other", "in_progress", { company: "else" }).id;
    const r = await api("events.add_batch", undefined, { raw: [ok.id, ...ids, pub, other].map(line).join("\n"), contentType: "application/json-lines" });
    expect(r.status).toBe(200);
    expect(r.json.data).toEqual({ added: 1, errors: 4, errors_info: Object.fromEntries([...ids, pub, other].map((id) => [`Invalid task id ${id}`, 1])) });
    expect(task(f, ok.id).last_metrics[md5("Score")]?.[md5("seg_total")]?.value).toBe(1);
    const locked = await api("events.add_batch", undefined, { raw: JSON.stringify({ ...JSON.parse(line(ids[1] as string)), allow_locked: true }), contentType: "application/json-lines" });
    expect(locked.json.data.added).toBe(1);
  });
});
