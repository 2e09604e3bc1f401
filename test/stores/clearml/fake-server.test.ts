// Self-tests of the fake ClearML server (fake-clearml), over plain fetch: the client
// tests trust it to behave like the real server on everything expflow uses.
import { afterEach, describe, expect, it } from "vitest";
import { FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FakeClearml, type FakeClearmlOptions, type FakeTask } from "../../../fake-clearml/server.js";
import { fakeProject, fakeTask, hyperparams, lastMetrics, manyTasks, md5 } from "../../../fake-clearml/tasks.js";
import { assertCleanAndClose } from "../../fake-clearml/helpers.js";

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- envelopes are inspected field by field
  json: any;
}

interface CallOptions {
  token?: string;
  basic?: [string, string];
  authorization?: string;
  contentType?: string;
  /** Sent as is instead of JSON.stringify(body). */
  raw?: string;
  /** Path version; null for none. Default "2.34". */
  version?: string | null;
}

let fake: FakeClearml | undefined;

afterEach(async () => {
  const f = fake;
  fake = undefined;
  await assertCleanAndClose(f);
});

async function start(options: FakeClearmlOptions = {}): Promise<FakeClearml> {
  fake = await FakeClearml.start(options);
  return fake;
}

function basicHeader(key: string, secret: string): string {
  return `Basic ${Buffer.from(`${key}:${secret}`).toString("base64")}`;
}

async function call(f: FakeClearml, endpoint: string, body: unknown = {}, o: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { "Content-Type": o.contentType ?? "application/json" };
  if (o.authorization !== undefined) headers["Authorization"] = o.authorization;
  else if (o.basic) headers["Authorization"] = basicHeader(o.basic[0], o.basic[1]);
  else if (o.token !== undefined) headers["Authorization"] = `Bearer ${o.token}`;
  const version = o.version === undefined ? "2.34" : o.version;
  const url = version === null ? `${f.url}/${endpoint}` : `${f.url}/v${version}/${endpoint}`;
  const res = await fetch(url, { method: "POST", headers, body: o.raw ?? JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) };
}

async function login(f: FakeClearml, version: string | null = "2.34"): Promise<string> {
  const r = await call(f, "auth.login", {}, { basic: [f.accessKey, f.secretKey], version });
  expect(r.status).toBe(200);
  return r.json.data.token as string;
}

/** tasks.get_all with a fresh token; returns the answer. */
async function getAll(f: FakeClearml, body: Record<string, unknown>, token?: string): Promise<Answer> {
  return call(f, "tasks.get_all", body, { token: token ?? (await login(f)) });
}

function names(a: Answer): string[] {
  return (a.json.data.tasks as { name: string }[]).map((t) => t.name);
}

function jsonLines(events: readonly unknown[]): string {
  return events.map((e) => JSON.stringify(e)).join("\n") + "\n";
}

const ROOT = fakeProject("PDEBench");
const SUB = fakeProject("PDEBench/ablations");
const OTHER = fakeProject("Other");

/** Five tasks with distinct tags, statuses and projects. */
function smallWorld(): FakeClearmlOptions {
  return {
    projects: [ROOT, SUB, OTHER],
    tasks: [
      fakeTask({ name: "a", project: ROOT.id, tags: ["task1", "final"], created: "2025-01-01T00:00:00.000Z", last_update: "2025-01-05T00:00:00.000Z", metrics: { Score: { seg_total: 0.5 } }, params: { "Args/lr": "0.01" } }),
      fakeTask({ name: "b", project: ROOT.id, tags: ["task1"], status: "failed", created: "2025-01-02T00:00:00.000Z", last_update: "2025-01-04T00:00:00.000Z" }),
      fakeTask({ name: "c", project: ROOT.id, tags: ["final", "ablation"], archived: true, created: "2025-01-03T00:00:00.000Z", last_update: "2025-01-03T00:00:00.000Z" }),
      fakeTask({ name: "d", project: SUB.id, tags: ["ablation"], status: "published", created: "2025-01-04T00:00:00.000Z", last_update: "2025-01-02T00:00:00.000Z" }),
      fakeTask({ name: "e", project: OTHER.id, created: "2025-01-05T00:00:00.000Z", last_update: "2025-01-01T00:00:00.000Z" }),
    ],
  };
}

describe("envelope, routes and versions", () => {
  it("answers debug.ping without authentication, in the full envelope", async () => {
    const f = await start();
    const r = await call(f, "debug.ping", {}, { version: "2.23" });
    expect(r.status).toBe(200);
    expect(r.json.data).toEqual({ msg: "ClearML server" });
    const meta = r.json.meta;
    expect(meta).toMatchObject({ result_code: 200, result_subcode: 0, result_msg: "OK", error_stack: null, error_data: {} });
    expect(meta.endpoint).toMatchObject({ name: "debug.ping", requested_version: "2.23" });
    expect(typeof meta.id).toBe("string");
    expect(meta.trx).toBe(meta.id);
  });

  it("routes with and without the version prefix and records both", async () => {
    const f = await start();
    await call(f, "debug.ping", {}, { version: "2.26" });
    const r = await call(f, "debug.ping", {}, { version: null });
    expect(r.json.meta.endpoint.requested_version).toBe("2.34");
    expect(f.requests.map((q) => [q.endpoint, q.version, q.auth, q.status])).toEqual([
      ["debug.ping", "2.26", "none", 200],
      ["debug.ping", null, "none", 200],
    ]);
  });

  it("answers server.info with version, api_version and build (authenticated)", async () => {
    const f = await start({ apiVersion: "2.31" });
    const r = await call(f, "server.info", {}, { token: await login(f, null), version: "2.31" });
    expect(r.status).toBe(200);
    expect(r.json.data).toMatchObject({ api_version: "2.31", build: expect.any(String), version: expect.any(String) });
  });

  it("refuses GET and unknown endpoints with a 404 envelope and a violation each", async () => {
    const f = await start();
    const get = await fetch(`${f.url}/v2.34/debug.ping`);
    expect(get.status).toBe(404);
    expect(((await get.json()) as { meta: { result_code: number } }).meta.result_code).toBe(404);
    const unknown = await call(f, "events.get_task_latest_scalar_values", { task: "x" }, { token: await login(f) });
    expect(unknown.status).toBe(404);
    const v = f.takeViolations();
    expect(v).toHaveLength(2);
    expect(v[1]).toContain("events.get_task_latest_scalar_values: unknown endpoint");
  });

  it("accepts a path version newer than the server's and serves it by its newest (check_max_version is off)", async () => {
    const f = await start();
    const r = await call(f, "debug.ping", {}, { version: "2.99" });
    expect(r.status).toBe(200);
    expect(r.json.meta.endpoint).toMatchObject({ requested_version: "2.99", actual_version: "2.1" });
  });

  it("answers 404 to a path version older than the endpoint's first (and records it)", async () => {
    const f = await start();
    const r = await call(f, "queues.get_default", {}, { token: await login(f), version: "2.1" });
    expect(r.status).toBe(404);
    expect(f.takeViolations()).toEqual([expect.stringContaining("queues.get_default: exists from API version 2.4")]);
  });

  it("records a key newer than the path version; a server of the fake's version reads it all the same, an older one ignores it", async () => {
    const f = await start(smallWorld());
    const r = await getAll(f, { project: [ROOT.id], include_subprojects: true }, undefined);
    expect(names(r)).toEqual(["a", "b", "c", "d"]);
    const old = await call(f, "tasks.get_all", { project: [ROOT.id], include_subprojects: true, only_fields: ["name"] }, { token: await login(f), version: "2.23" });
    expect(old.status).toBe(200);
    expect(names(old)).toEqual(["a", "b", "c", "d"]);
    expect(f.takeViolations()).toEqual([expect.stringContaining("'include_subprojects' needs API version 2.26")]);
    const older = await FakeClearml.start({ ...smallWorld(), apiVersion: "2.23" });
    try {
      const ignored = await call(older, "tasks.get_all", { project: [ROOT.id], include_subprojects: true, only_fields: ["name"] }, { token: await login(older, "2.23"), version: "2.23" });
      expect(names(ignored)).toEqual(["a", "b", "c"]);
      expect(older.takeViolations()).toEqual([expect.stringContaining("'include_subprojects' needs API version 2.26")]);
    } finally {
      await older.close();
    }
  });
});

describe("authentication", () => {
  it("logs in with Basic credentials and returns a JWT-shaped token", async () => {
    const f = await start();
    expect([f.accessKey, f.secretKey]).toEqual([FAKE_ACCESS_KEY, FAKE_SECRET_KEY]);
    const token = await login(f);
    const parts = token.split(".");
    expect(parts).toHaveLength(3);
    const payload = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8")) as { exp: number; identity: unknown };
    expect(payload.exp).toBeGreaterThan(Date.now() / 1000 + 29 * 24 * 3600);
    expect(payload.identity).toBeTruthy();
    expect(f.requests[0]?.auth).toBe("basic");
  });

  it("answers 401/20 without credentials and 401/21 for wrong ones, never echoing the key or the secret", async () => {
    const f = await start();
    const missing = await call(f, "auth.login", {});
    expect([missing.status, missing.json.meta.result_subcode]).toEqual([401, 20]);
    for (const [key, secret] of [[f.accessKey, "wrong-secret-XYZ"], ["WRONGKEY123", f.secretKey]] as const) {
      const wrong = await call(f, "auth.login", {}, { basic: [key, secret] });
      expect([wrong.status, wrong.json.meta.result_subcode, wrong.json.meta.result_msg]).toEqual([401, 21, "Invalid credentials"]);
      const text = JSON.stringify(wrong.json);
      expect(text).not.toContain(secret);
      expect(text).not.toContain(key);
    }
  });

  it("requires a Bearer token on other calls: 401/20 without, 401/30 for an unknown one", async () => {
    const f = await start(smallWorld());
    const none = await call(f, "tasks.get_all", {});
    expect([none.status, none.json.meta.result_subcode]).toEqual([401, 20]);
    const bogus = await call(f, "tasks.get_all", {}, { token: "not.a.token" });
    expect([bogus.status, bogus.json.meta.result_subcode, bogus.json.meta.result_msg]).toEqual([401, 30, "Invalid token"]);
    expect((await getAll(f, {})).status).toBe(200);
  });

  it("invalidateTokens turns every issued token into 401/30; a new login works", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    expect((await getAll(f, {}, token)).status).toBe(200);
    f.invalidateTokens();
    const r = await getAll(f, {}, token);
    expect([r.status, r.json.meta.result_subcode]).toEqual([401, 30]);
    expect((await getAll(f, {}, await login(f))).status).toBe(200);
  });

  it("treats an expired token as invalid (tokenLifetimeSec 0)", async () => {
    const f = await start({ tokenLifetimeSec: 0 });
    const r = await call(f, "server.info", {}, { token: await login(f) });
    expect([r.status, r.json.meta.result_subcode]).toEqual([401, 30]);
  });

  it("accepts Basic on other calls, as the real server does, but records a violation", async () => {
    const f = await start(smallWorld());
    const r = await call(f, "tasks.get_all", {}, { basic: [f.accessKey, f.secretKey] });
    expect(r.status).toBe(200);
    expect(f.takeViolations()).toEqual(["Basic auth used on tasks.get_all (log in once)"]);
  });

  it("records a malformed Authorization header", async () => {
    const f = await start();
    const r = await call(f, "server.info", {}, { authorization: "Token abc" });
    expect([r.status, r.json.meta.result_subcode]).toEqual([401, 20]);
    expect(f.requests[0]?.auth).toBe("invalid");
    expect(f.takeViolations()).toEqual(["server.info: malformed Authorization header"]);
  });
});

describe("projects.get_all", () => {
  it("filters by name as an unanchored, case-sensitive regular expression", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    const projectNames = async (name: string): Promise<string[]> =>
      ((await call(f, "projects.get_all", { name, only_fields: ["name"] }, { token })).json.data.projects as { name: string }[]).map((p) => p.name);
    expect(await projectNames("Bench")).toEqual(["PDEBench", "PDEBench/ablations"]);
    expect(await projectNames("^PDEBench$")).toEqual(["PDEBench"]);
    expect(await projectNames("pdebench")).toEqual([]);
    const bad = await call(f, "projects.get_all", { name: "(" }, { token });
    expect([bad.status, bad.json.meta.result_subcode]).toEqual([400, 21]);
  });

  it("returns id always, and the whole project without only_fields", async () => {
    const f = await start(smallWorld());
    const r = await call(f, "projects.get_all", { id: [SUB.id] }, { token: await login(f) });
    expect(r.json.data.projects).toEqual([{ id: SUB.id, name: "PDEBench/ablations", basename: "ablations" }]);
    const only = await call(f, "projects.get_all", { id: [SUB.id], only_fields: ["basename"] }, { token: await login(f) });
    expect(only.json.data.projects).toEqual([{ id: SUB.id, basename: "ablations" }]);
  });
});

describe("tasks.get_all filters", () => {
  it("ORs tags by default, ANDs them after __$all, and excludes -x", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    expect(names(await getAll(f, { tags: ["task1", "ablation"] }, token))).toEqual(["a", "b", "c", "d"]);
    expect(names(await getAll(f, { tags: ["__$any", "final", "ablation"] }, token))).toEqual(["a", "c", "d"]);
    expect(names(await getAll(f, { tags: ["__$all", "task1", "final"] }, token))).toEqual(["a"]);
    expect(names(await getAll(f, { tags: ["-final"] }, token))).toEqual(["b", "d", "e"]);
    expect(names(await getAll(f, { tags: ["task1", "-final"] }, token))).toEqual(["b"]);
    expect(names(await getAll(f, { tags: ["-final", "-ablation"] }, token))).toEqual(["b", "e"]);
  });

  it("excludes archived tasks with system_tags ['-archived']", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    expect(names(await getAll(f, { system_tags: ["-archived"] }, token))).toEqual(["a", "b", "d", "e"]);
    expect(names(await getAll(f, { system_tags: ["archived"] }, token))).toEqual(["c"]);
  });

  it("includes subprojects only with include_subprojects", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    expect(names(await getAll(f, { project: [ROOT.id] }, token))).toEqual(["a", "b", "c"]);
    expect(names(await getAll(f, { project: [ROOT.id], include_subprojects: true }, token))).toEqual(["a", "b", "c", "d"]);
  });

  it("filters by status (list semantics, exclusion included), id, name regex, type and user", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    expect(names(await getAll(f, { status: ["failed", "published"] }, token))).toEqual(["b", "d"]);
    expect(names(await getAll(f, { status: ["-completed"] }, token))).toEqual(["b", "d"]);
    const ids = (f.tasks as FakeTask[]).filter((t) => t.name === "a" || t.name === "e").map((t) => t.id);
    expect(names(await getAll(f, { id: ids }, token))).toEqual(["a", "e"]);
    expect(names(await getAll(f, { name: "^[b-d]$" }, token))).toEqual(["b", "c", "d"]);
    expect(names(await getAll(f, { type: ["testing"] }, token))).toEqual([]);
    expect(names(await getAll(f, { user: ["fake-user"], project: [OTHER.id] }, token))).toEqual(["e"]);
    // Not a status: the real server matches nothing, silently; the fake records it.
    const bad = await getAll(f, { status: ["complete"] }, token);
    expect([bad.status, names(bad)]).toEqual([200, []]);
    expect(f.takeViolations()).toEqual([expect.stringContaining("status 'complete' is not a task status")]);
  });

  it("orders by order_by ('-' descending), ties broken by id", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    expect(names(await getAll(f, { order_by: ["-last_update"] }, token))).toEqual(["a", "b", "c", "d", "e"]);
    expect(names(await getAll(f, { order_by: ["last_update"] }, token))).toEqual(["e", "d", "c", "b", "a"]);
    expect(names(await getAll(f, { order_by: ["-created"] }, token))).toEqual(["e", "d", "c", "b", "a"]);
    const tie = (await getAll(f, { order_by: ["status"], only_fields: ["status"] }, token)).json.data.tasks as { id: string; status: string }[];
    const completed = tie.filter((t) => t.status === "completed").map((t) => t.id);
    expect(completed).toEqual([...completed].sort());
  });

  it("projects only_fields (id always; a nested path returns the whole object) and flags unknown fields", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    const a = f.tasks[0] as FakeTask;
    const r = await getAll(f, { id: [a.id], only_fields: ["name", "last_metrics", "hyperparams.Args"] }, token);
    expect(r.json.data.tasks).toEqual([{ id: a.id, name: "a", last_metrics: a.last_metrics, hyperparams: { Args: a.hyperparams["Args"] } }]);
    const whole = await getAll(f, { id: [a.id] }, token);
    expect(whole.json.data.tasks).toEqual([a]);
    await getAll(f, { id: [a.id], only_fields: ["metrics"] }, token);
    expect(f.takeViolations()).toEqual([expect.stringContaining("only_fields names 'metrics'")]);
  });

  it("ignores an unknown filter key as the real server does (unfiltered results) and records it", async () => {
    const f = await start(smallWorld());
    const r = await getAll(f, { tag: ["task1"], only_fields: ["name"] });
    expect(r.status).toBe(200);
    expect(names(r)).toEqual(["a", "b", "c", "d", "e"]);
    expect(f.takeViolations()).toEqual(["tasks.get_all: unknown key 'tag' ignored (the real server drops it silently)"]);
  });

  it("answers 400/12 to a missing required field of a request model (jsonmodels' 'field is required'), and records it", async () => {
    const f = await start(smallWorld());
    const r = await call(f, "tasks.get_by_id", {}, { token: await login(f) });
    expect([r.status, r.json.meta.result_subcode]).toEqual([400, 12]);
    expect(f.takeViolations()).toHaveLength(1);
  });
});

describe("paging and scrolling", () => {
  const world = (): FakeClearmlOptions => ({ projects: [ROOT], tasks: manyTasks(1_200, { project: ROOT.id, seed: 7 }) });

  it("caps page_size at 500 and flags the truncation", async () => {
    const f = await start(world());
    const r = await getAll(f, { page: 0, page_size: 1_000, order_by: ["created"], only_fields: ["id"] });
    expect(r.json.data.tasks).toHaveLength(500);
    expect(f.takeViolations()).toEqual([expect.stringContaining("page_size 1000 exceeds")]);
  });

  it("pages with page + page_size in order", async () => {
    const f = await start(world());
    const token = await login(f);
    const seen: string[] = [];
    for (let page = 0; ; page++) {
      const r = await getAll(f, { page, page_size: 500, order_by: ["created"], only_fields: ["name"] }, token);
      seen.push(...names(r));
      if (r.json.data.tasks.length < 500) break;
    }
    expect(seen).toEqual((f.tasks as FakeTask[]).map((t) => t.name));
  });

  it("returns at most the first 500 to an unpaged call, and flags it", async () => {
    const f = await start(world());
    const r = await getAll(f, { only_fields: ["name"] });
    expect(names(r)).toEqual((f.tasks as FakeTask[]).slice(0, 500).map((t) => t.name));
    expect(f.takeViolations()).toEqual([expect.stringContaining("unpaged call matched 1200")]);
  });

  it("scrolls 1,200 tasks in three calls (500, 500, 200) under ONE scroll id, as the real server does", async () => {
    const f = await start(world());
    const token = await login(f);
    f.resetCounts();
    const sizes: number[] = [];
    const ids: string[] = [];
    const scrollIds = new Set<string>();
    let scrollId: string | null = null;
    for (;;) {
      const r = await getAll(f, { scroll_id: scrollId, size: 500, order_by: ["-last_update"], only_fields: ["id"] }, token);
      expect(r.status).toBe(200);
      const batch = r.json.data.tasks as { id: string }[];
      sizes.push(batch.length);
      ids.push(...batch.map((t) => t.id));
      expect(typeof r.json.data.scroll_id).toBe("string");
      scrollId = r.json.data.scroll_id as string;
      scrollIds.add(scrollId);
      if (batch.length < 500) break;
    }
    expect(sizes).toEqual([500, 500, 200]);
    expect(scrollIds.size).toBe(1);
    expect(f.count("tasks.get_all")).toBe(3);
    expect(new Set(ids).size).toBe(1_200);
  });

  it("an unknown scroll id silently starts again at 0 (no error), and scroll size is not capped at 500", async () => {
    const f = await start(world());
    const token = await login(f);
    const first = await getAll(f, { scroll_id: "no-such-scroll", size: 3, order_by: ["created"], only_fields: ["name"] }, token);
    expect(first.status).toBe(200);
    expect(names(first)).toEqual((f.tasks as FakeTask[]).slice(0, 3).map((t) => t.name));
    expect(first.json.data.scroll_id).not.toBe("no-such-scroll");
    const big = await getAll(f, { scroll_id: null, size: 1_000, order_by: ["created"], only_fields: ["id"] }, token);
    expect(big.json.data.tasks).toHaveLength(1_000);
  });

  it("saves the position before answering: the retry of a lost scroll answer returns the NEXT page (the bug stateless paging avoids)", async () => {
    const f = await start(world());
    const token = await login(f);
    const r1 = await getAll(f, { scroll_id: null, size: 500, order_by: ["created"], only_fields: ["name"] }, token);
    const id = r1.json.data.scroll_id as string;
    f.malformNext("tasks.get_all", "502");
    const lost = await getAll(f, { scroll_id: id, size: 500, order_by: ["created"], only_fields: ["name"] }, token).catch(() => undefined);
    expect(lost?.status ?? 502).toBe(502);
    const retry = await getAll(f, { scroll_id: id, size: 500, order_by: ["created"], only_fields: ["name"] }, token);
    expect(names(retry)).toEqual((f.tasks as FakeTask[]).slice(1_000, 1_200).map((t) => t.name));
  });

  it("re-runs the query with each request's body: a scroll page without the filters is unfiltered", async () => {
    const f = await start(world());
    const token = await login(f);
    const some = (f.tasks as FakeTask[]).slice(0, 600).map((t) => t.id);
    const r1 = await getAll(f, { id: some, scroll_id: null, size: 500, order_by: ["created"], only_fields: ["id"] }, token);
    expect(r1.json.data.tasks).toHaveLength(500);
    const r2 = await getAll(f, { scroll_id: r1.json.data.scroll_id, size: 500, order_by: ["created"], only_fields: ["id"] }, token);
    expect(r2.json.data.tasks).toHaveLength(500);
    expect((r2.json.data.tasks as { id: string }[]).map((t) => t.id)).toEqual((f.tasks as FakeTask[]).slice(500, 1_000).map((t) => t.id));
  });

  it("flags size without scroll_id (the server ignores it)", async () => {
    const f = await start({ projects: [ROOT], tasks: manyTasks(10, { project: ROOT.id }) });
    const r = await getAll(f, { size: 5, order_by: ["created"] });
    expect(r.json.data.tasks).toHaveLength(10);
    expect(f.takeViolations()).toEqual([expect.stringContaining("size without scroll_id")]);
  });
});

describe("other task reads", () => {
  it("gets a task by id, or 400/101", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    const a = f.tasks[0] as FakeTask;
    expect((await call(f, "tasks.get_by_id", { task: a.id }, { token })).json.data.task).toEqual(a);
    const r = await call(f, "tasks.get_by_id", { task: "0".repeat(32) }, { token });
    expect([r.status, r.json.meta.result_subcode, r.json.meta.result_msg]).toEqual([400, 101, `invalid task id: ids=(${"0".repeat(32)})`]);
  });

  it("returns hyperparameters as flat lists per task", async () => {
    const f = await start(smallWorld());
    const a = f.tasks[0] as FakeTask;
    const r = await call(f, "tasks.get_hyper_params", { tasks: [a.id] }, { token: await login(f) });
    expect(r.json.data).toEqual({ params: [{ task: a.id, hyperparams: [{ section: "Args", name: "lr", value: "0.01" }] }] });
  });
});

describe("injected failures", () => {
  it("failNext answers the error envelope, then the next call succeeds", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    f.failNext("tasks.get_all", { status: 500, subcode: 102, msg: "Database unavailable" });
    const failed = await getAll(f, {}, token);
    expect([failed.status, failed.json.meta.result_code, failed.json.meta.result_subcode, failed.json.meta.result_msg]).toEqual([500, 500, 102, "Database unavailable"]);
    expect((await getAll(f, {}, token)).status).toBe(200);
    f.failNext("*", { status: 500 }, 2);
    for (let i = 0; i < 2; i++) expect((await call(f, "server.info", {}, { token })).json.meta).toMatchObject({ result_code: 500, result_subcode: 0 });
    expect((await call(f, "server.info", {}, { token })).status).toBe(200);
    expect(f.count("server.info")).toBe(3);
  });

  it("malformNext: not JSON, JSON without the envelope, or a dropped connection", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    const post = (): Promise<Response> =>
      fetch(`${f.url}/v2.34/tasks.get_all`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` }, body: JSON.stringify({ only_fields: ["name"] }) });

    f.malformNext("tasks.get_all", "malformed");
    const malformed = await post();
    expect(malformed.status).toBe(200);
    const text = await malformed.text();
    expect(() => JSON.parse(text) as unknown).toThrow();

    f.malformNext("tasks.get_all", "no-envelope");
    const bare = (await (await post()).json()) as Record<string, unknown>;
    expect(bare["meta"]).toBeUndefined();
    expect(bare["data"]).toBeUndefined();
    expect(Array.isArray(bare["tasks"])).toBe(true);

    f.malformNext("tasks.get_all", "drop");
    await expect(post()).rejects.toThrow();
    expect(f.requests.at(-1)?.status).toBe(0);

    expect((await post()).status).toBe(200);
  });
});

describe("events.add_batch", () => {
  const event = (task: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
    type: "training_stats_scalar",
    task,
    metric: "Score",
    variant: "seg_total",
    value: 0.5,
    iter: 0,
    timestamp: 1_735_689_600_000,
    ...over,
  });
  const send = (f: FakeClearml, token: string, raw: string, contentType = "application/json-lines"): Promise<Answer> =>
    call(f, "events.add_batch", undefined, { token, raw, contentType });

  it("takes json-lines and updates last_metrics under md5 keys at once", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    const e = f.tasks[4] as FakeTask;
    const r = await send(f, token, jsonLines([
      event(e.id, { value: 3, iter: 1, timestamp: 1_735_689_600_000 }),
      event(e.id, { value: -1, iter: 2, timestamp: 1_735_689_601_000 }),
      event(e.id, { value: 2, iter: 3, timestamp: 1_735_689_602_000 }),
      event(e.id, { metric: "PDE", variant: "pde_mean", value: 0, iter: 3 }),
    ]));
    expect(r.status).toBe(200);
    expect(r.json.data).toEqual({ added: 4, errors: 0, errors_info: {} });
    const entry = e.last_metrics[md5("Score")]?.[md5("seg_total")];
    expect(entry).toMatchObject({ metric: "Score", variant: "seg_total", value: 2, min_value: -1, max_value: 3, first_value: 3, mean_value: 4 / 3, count: 3, min_value_iteration: 2, max_value_iteration: 1 });
    expect(e.last_metrics[md5("PDE")]?.[md5("pde_mean")]?.value).toBe(0);
    expect(f.events).toHaveLength(4);
    const read = await getAll(f, { id: [e.id], only_fields: ["last_metrics"] }, token);
    expect(read.json.data.tasks[0].last_metrics).toEqual(e.last_metrics);
    expect(f.requests.find((q) => q.endpoint === "events.add_batch")?.body).toHaveLength(4);
  });

  it("refuses a JSON array body and a wrong content type with 400/12 and a violation", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    const id = (f.tasks[0] as FakeTask).id;
    const array = await send(f, token, JSON.stringify([event(id)]));
    expect([array.status, array.json.meta.result_subcode]).toEqual([400, 12]);
    const wrongType = await send(f, token, jsonLines([event(id)]), "application/json");
    expect([wrongType.status, wrongType.json.meta.result_subcode]).toEqual([400, 12]);
    expect(f.takeViolations()).toHaveLength(2);
    expect(f.events).toHaveLength(0);
  });

  it("rejects a NaN line (and records it) while adding the valid ones", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    const id = (f.tasks[0] as FakeTask).id;
    const nanLine = JSON.stringify(event(id, { variant: "nan" })).replace('"value":0.5', '"value":NaN');
    const r = await send(f, token, `${JSON.stringify(event(id))}\n${nanLine}\n`);
    expect(r.status).toBe(200);
    expect(r.json.data).toMatchObject({ added: 1, errors: 1 });
    expect(f.takeViolations()).toEqual([expect.stringContaining("line 2 is not valid JSON")]);
  });

  it("answers 400/131 with the errors per reason in error_data when nothing is added; published tasks and unknown tasks refuse events", async () => {
    const f = await start(smallWorld());
    const token = await login(f);
    const published = (f.tasks[3] as FakeTask).id;
    const unknown = "f".repeat(32);
    const r = await send(f, token, jsonLines([event(published), event(unknown)]));
    expect([r.status, r.json.meta.result_subcode]).toEqual([400, 131]);
    expect(r.json.meta.result_msg).toContain("events not added: ");
    // EventBLL.add_events raises EventsNotAdded(**errors_per_type): the counts ARE the error data.
    expect(r.json.meta.error_data).toEqual({ [`Invalid task id ${published}`]: 1, [`Invalid task id ${unknown}`]: 1 });
    expect(f.takeViolations()).toEqual([]);
    const invalid = await send(f, token, jsonLines([event((f.tasks[0] as FakeTask).id, { timestamp: 1_735_689_600 })]));
    expect([invalid.status, invalid.json.meta.result_subcode]).toEqual([400, 131]);
    expect(f.takeViolations()).toEqual([expect.stringContaining("timestamp")]);
  });
});

describe("latency, concurrency and close", () => {
  it("waits latencyMs before answering", async () => {
    const f = await start({ latencyMs: 40 });
    const t0 = performance.now();
    await call(f, "debug.ping");
    // A loose lower bound only (timers may fire a little early by rounding).
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
  });

  it("answers concurrent requests on keep-alive connections, and close() ends them", async () => {
    const f = await start({ ...smallWorld(), latencyMs: 5 });
    const token = await login(f);
    const answers = await Promise.all(Array.from({ length: 25 }, () => getAll(f, { only_fields: ["name"] }, token)));
    expect(answers.every((a) => a.status === 200 && a.json.data.tasks.length === 5)).toBe(true);
    await f.close();
    await f.close();
    await expect(fetch(`${f.url}/debug.ping`, { method: "POST" })).rejects.toThrow();
  });
});

describe("builders", () => {
  it("md5 is the hex digest", () => {
    expect(md5("")).toBe("d41d8cd98f00b204e9800998ecf8427e");
  });

  it("fakeTask stores md5-keyed metrics and sectioned hyperparameters, with archived as a system tag", () => {
    const t = fakeTask({ name: "x", project: ROOT.id, archived: true, metrics: { Score: { seg_total: 0 } }, params: { "Args/--sub_step": "2", "Args/a/b": "1", lr: "0.1" } });
    expect(t.id).toMatch(/^[0-9a-f]{32}$/);
    expect(t).toMatchObject({ status: "completed", type: "training", system_tags: ["archived"] });
    expect(t.last_metrics).toEqual(lastMetrics({ Score: { seg_total: 0 } }));
    expect(t.last_metrics[md5("Score")]?.[md5("seg_total")]).toMatchObject({ metric: "Score", variant: "seg_total", value: 0, min_value: 0, max_value: 0, count: 1 });
    expect(t.hyperparams).toEqual(hyperparams({ "Args/--sub_step": "2", "Args/a/b": "1", lr: "0.1" }));
    expect(t.hyperparams["Args"]?.["--sub_step"]).toEqual({ section: "Args", name: "--sub_step", value: "2" });
    expect(t.hyperparams["Args"]?.["a/b"]?.name).toBe("a/b");
    expect(t.hyperparams["General"]?.["lr"]?.value).toBe("0.1");
  });

  it("manyTasks is deterministic and varied", () => {
    const a = manyTasks(300, { project: ROOT.id, seed: 3 });
    expect(manyTasks(300, { project: ROOT.id, seed: 3 })).toEqual(a);
    expect(manyTasks(300, { project: ROOT.id, seed: 4 })).not.toEqual(a);
    expect(new Set(a.map((t) => t.id)).size).toBe(300);
    const completed = a.filter((t) => t.status === "completed").length;
    expect(completed).toBeGreaterThan(200);
    expect(new Set(a.map((t) => t.status)).size).toBeGreaterThan(3);
    const created = a.map((t) => t.created);
    expect(created).toEqual([...created].sort());
    const values = a.flatMap((t) => Object.values(t.last_metrics).flatMap((v) => Object.values(v).map((e) => e.value)));
    expect(values.some((v) => v === 0)).toBe(true);
    expect(values.some((v) => v < 0)).toBe(true);
    const titles = new Set(a.flatMap((t) => Object.values(t.last_metrics).flatMap((v) => Object.values(v).map((e) => e.metric))));
    expect([...titles].sort()).toEqual(["Loss", "PDE", "Score", "Time"]);
    for (const tag of ["task1", "final", "ablation"]) expect(a.some((t) => t.tags.includes(tag))).toBe(true);
    expect(a.some((t) => t.system_tags.includes("archived"))).toBe(true);
  });

  it("start refuses duplicate task ids", async () => {
    const t = fakeTask({ name: "same", project: ROOT.id });
    await expect(FakeClearml.start({ tasks: [t, fakeTask({ name: "same", project: ROOT.id })] })).rejects.toThrow(/duplicate task id/);
  });
});
