// Issue 11, section 6: a ClearML listing is complete or fails loudly. Answers lost mid-listing
// (a proxy's 502, a dropped connection, a timeout), servers that page wrongly or endlessly,
// bodies past the cap, redirects, and what a message may quote.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BackendError, ExpflowError } from "../../../src/core/errors.js";
import type { RequestInfo } from "../../../src/stores/clearml/client.js";
import { ClearmlClient } from "../../../src/stores/clearml/client.js";
import { ClearmlStore } from "../../../src/stores/clearml/clearml-store.js";
import { FakeClearml } from "../../../fake-clearml/server.js";
import type { Malformation } from "../../../fake-clearml/server.js";
import { fakeProject, fakeTask, manyTasks } from "../../../fake-clearml/tasks.js";

const P = fakeProject("PDEBench");
let fake: FakeClearml | undefined;
const others: { close(): unknown }[] = [];

afterEach(async () => {
  fake?.assertClean();
  await fake?.close();
  fake = undefined;
  for (const o of others.splice(0)) await o.close();
});

async function start(n: number): Promise<FakeClearml> {
  fake = await FakeClearml.start({ projects: [P], tasks: manyTasks(n, { project: P.id, seed: 11 }) });
  return fake;
}

function clientOf(f: FakeClearml, options: { maxRetries?: number; timeoutMs?: number; maxResponseBytes?: number; log?: RequestInfo[] } = {}): ClearmlClient {
  return new ClearmlClient({
    apiServer: f.url,
    accessKey: f.accessKey,
    secretKey: f.secretKey,
    maxRetries: options.maxRetries,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes,
    sleep: async () => undefined,
    onRequest: options.log ? (r) => options.log!.push(r) : undefined,
  });
}

function storeOf(f: FakeClearml, options: { maxRetries?: number; timeoutMs?: number; maxTasks?: number; maxResponseBytes?: number } = {}): ClearmlStore {
  return new ClearmlStore({ client: clientOf(f, options), maxTasks: options.maxTasks });
}

async function failure(p: Promise<unknown>): Promise<ExpflowError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ExpflowError);
  return e as ExpflowError;
}

/** The envelope of a successful answer, as the server writes it. */
function ok(data: unknown): string {
  return JSON.stringify({ meta: { id: "x", trx: "x", endpoint: { name: "tasks.get_all" }, result_code: 200, result_subcode: 0, result_msg: "OK", error_stack: null, error_data: {} }, data });
}

describe("a listing whose answer is lost mid-way is complete (stateless pages are retried safely)", () => {
  // Page 2 (the third call) is served by the server and then lost on the way back.
  it.each<[Malformation, number]>([
    ["502", 2],
    ["drop", 2],
    ["hang", 2],
    ["502", 1],
    ["drop", 0],
  ])("%s on the call after %i full pages: every task once", async (kind, skip) => {
    const f = await start(2_000);
    const s = storeOf(f, { timeoutMs: kind === "hang" ? 400 : undefined });
    await s.resolveProject("PDEBench");
    f.malformNext("tasks.get_all", kind, { skip });
    const list = await s.list({ project: "PDEBench", includeArchived: true });
    expect(list).toHaveLength(2_000);
    expect(new Set(list.map((e) => e.id))).toEqual(new Set(f.tasks.map((t) => t.id)));
    // Every page asked for exactly once more than it was lost: 5 pages + 1 retry.
    const pages = f.requests.filter((r) => r.endpoint === "tasks.get_all").map((r) => (r.body as { page: number }).page);
    expect(pages).toEqual([0, 1, 2, 3, 4].flatMap((p) => (p === skip ? [p, p] : [p])));
  });

  it("when every retry is lost too, the listing fails (exit 4); it never ends short", async () => {
    const f = await start(2_000);
    f.malformNext("tasks.get_all", "502", { skip: 2, times: 10 });
    const e = await failure(storeOf(f).list({ project: "PDEBench", includeArchived: true }));
    expect(e.exitCode).toBe(4);
    expect(e.code).toBe("E_CLEARML_SERVER");
    expect(e.message).toContain("HTTP 502");
  });

  it("with no retries at all a lost answer is an error, not a short list", async () => {
    const f = await start(1_200);
    f.malformNext("tasks.get_all", "drop", { skip: 1 });
    const e = await failure(storeOf(f, { maxRetries: 0 }).list({ project: "PDEBench", includeArchived: true }));
    expect(e).toMatchObject({ code: "E_CLEARML_UNREACHABLE", exitCode: 4 });
  });

  it("tasks that enter the selection during the listing shift the pages: nothing is listed twice, nothing that was there is lost", async () => {
    const f = await start(1_200);
    const before = new Set(f.tasks.map((t) => t.id));
    let added = 0;
    const s = new ClearmlStore({
      client: clientOf(f),
      onProgress: () => {
        // After each page, a task created "earlier than all" (a clock skew) lands on page 0 and
        // pushes every later task one place back: the next page starts with a task already seen.
        f.tasks.push(fakeTask({ name: `late-${added}`, project: P.id, created: `2000-01-0${added + 1}T00:00:00.000Z` }));
        added += 1;
      },
    });
    const list = await s.list({ project: "PDEBench", includeArchived: true });
    const ids = list.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of before) expect(ids).toContain(id);
  });
});

describe("a listing is bounded: a server that pages wrongly ends with exit 4", () => {
  it("a server that repeats the same page: stops at the first page that brings nothing new", async () => {
    const f = await start(600);
    let first: string | undefined;
    f.respondNext(
      "tasks.get_all",
      (res, answer) => {
        first ??= answer.text;
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(first);
      },
      Infinity,
    );
    const e = await failure(storeOf(f).list({ project: "PDEBench", includeArchived: true }));
    expect(e).toMatchObject({ code: "E_CLEARML_LISTING", exitCode: 4 });
    expect(e.message).toContain("only tasks it had already sent");
    expect(f.count("tasks.get_all")).toBe(2);
  });

  it("a server that returns fresh tasks (and a new scroll id) on every call: stops at maxTasks", async () => {
    const f = await start(10);
    let n = 0;
    f.respondNext(
      "tasks.get_all",
      (res) => {
        const tasks = Array.from({ length: 500 }, () => ({ id: `endless-${n++}`, name: "x", status: "completed" }));
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(ok({ tasks, scroll_id: `scroll-${n}` }));
      },
      Infinity,
    );
    const e = await failure(storeOf(f, { maxTasks: 5_000 }).list({ includeArchived: true }));
    expect(e).toMatchObject({ code: "E_CLEARML_LISTING", exitCode: 4 });
    expect(e.message).toContain("limit of 5000");
    expect(f.count("tasks.get_all")).toBe(11);
  });

  it("a server that returns 200,000 tasks in one page: refused at once", async () => {
    const f = await start(10);
    f.respondNext("tasks.get_all", (res) => {
      const tasks = Array.from({ length: 200_000 }, (_, i) => ({ id: `t${i}` }));
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(ok({ tasks }));
    });
    const e = await failure(storeOf(f).list({ includeArchived: true }));
    expect(e).toMatchObject({ code: "E_CLEARML_LISTING", exitCode: 4 });
    expect(e.message).toContain("200000 tasks where 500 were asked for");
    expect(f.count("tasks.get_all")).toBe(1);
  });

  it("maxTasks is checked when the store is made", async () => {
    const f = await start(1);
    expect(() => new ClearmlStore({ client: clientOf(f), maxTasks: 0 })).toThrow(RangeError);
  });
});

describe("response bodies are capped", () => {
  it("a page larger than maxResponseBytes: E_CLEARML_TOO_LARGE naming the cap, not retried", async () => {
    const f = await start(600);
    const e = await failure(storeOf(f, { maxResponseBytes: 64 * 1024 }).list({ includeArchived: true }));
    expect(e).toMatchObject({ code: "E_CLEARML_TOO_LARGE", exitCode: 4 });
    expect(e.message).toContain("more than 64 KiB");
    expect(f.count("tasks.get_all")).toBe(1);
  });

  it("an endless chunked body stops at the cap", async () => {
    const f = await start(1);
    f.respondNext("server.info", (res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once("drain", pump);
      };
      res.write('{"meta": {"result_code": 200}, "data": {"pad": "');
      pump();
    });
    const c = clientOf(f, { maxResponseBytes: 1024 * 1024 });
    await c.login();
    const e = await failure(c.call("server.info"));
    expect(e).toMatchObject({ code: "E_CLEARML_TOO_LARGE", exitCode: 4 });
    expect(e.message).toContain("more than 1 MiB for server.info");
  });

  it("a Content-Length past the cap is refused before the body is read", async () => {
    const f = await start(1);
    f.respondNext("server.info", (res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": String(3 * 1024 ** 3) });
      res.write("{");
    });
    const c = clientOf(f);
    await c.login();
    const e = await failure(c.call("server.info"));
    expect(e).toMatchObject({ code: "E_CLEARML_TOO_LARGE", exitCode: 4 });
    expect(e.message).toContain("more than 256 MiB");
  });
});

/** A bare HTTP server answering every request with `handler`. */
async function rawServer(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; hits: () => number; server: Server }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits += 1;
    handler!(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  others.push({ close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits, server };
}

describe("redirects are never followed", () => {
  it.each([301, 302, 303, 307, 308])("HTTP %i to another origin: E_CLEARML_REDIRECT naming it; the other origin gets nothing", async (status) => {
    const f = await start(1);
    const elsewhere = await rawServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(ok({ token: "a.b.c", msg: "ClearML server" }));
    });
    f.respondNext("*", (res) => {
      res.writeHead(status, { Location: `${elsewhere.url}/auth.login?x=1`, "Content-Length": "0" });
      res.end();
    }, Infinity);
    const c = clientOf(f);
    const e = await failure(c.login());
    expect(e).toMatchObject({ code: "E_CLEARML_REDIRECT", exitCode: 4 });
    expect(e.message).toContain(`a redirect to ${elsewhere.url} (HTTP ${status})`);
    expect(e.message).not.toContain("x=1");
    expect(elsewhere.hits()).toBe(0);
    expect(f.count("auth.login")).toBe(1);
  });

  it("a same-origin redirect is not followed either", async () => {
    const f = await start(1);
    f.respondNext("debug.ping", (res) => {
      res.writeHead(308, { Location: "/v2.30/debug.ping", "Content-Length": "0" });
      res.end();
    });
    const e = await failure(clientOf(f).ping());
    expect(e).toMatchObject({ code: "E_CLEARML_REDIRECT", exitCode: 4 });
    expect(e.message).toContain("another path on the same server");
    expect(f.count("debug.ping")).toBe(1);
  });
});

describe("what messages may quote", () => {
  it("never the HTTP reason phrase, in errors or in what onRequest sees", async () => {
    const f = await start(1);
    f.respondNext("server.info", (res) => {
      res.statusMessage = "Bad Gateway \u009b2J LEAKED-REASON";
      res.writeHead(502, { "Content-Type": "text/plain" });
      res.end("upstream gone");
    }, 3);
    const log: RequestInfo[] = [];
    const c = clientOf(f, { log });
    await c.login();
    const e = await failure(c.call("server.info"));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toContain("HTTP 502");
    expect(`${e.message}\n${e.hint ?? ""}\n${JSON.stringify(log)}`).not.toContain("LEAKED-REASON");
  });

  it("never the user information of the API server URL, which is not sent either", async () => {
    const f = await start(1);
    const log: RequestInfo[] = [];
    const url = f.url.replace("http://", "http://alice:pa55w0rd-XYZ@");
    const c = new ClearmlClient({ apiServer: url, accessKey: f.accessKey, secretKey: f.secretKey, onRequest: (r) => log.push(r) });
    expect(c.server).toBe(f.url);
    await c.login();
    await c.call("server.info");
    expect(JSON.stringify(log)).not.toContain("pa55w0rd");
    // The same when nothing answers there.
    const gone = new ClearmlClient({ apiServer: "http://alice:pa55w0rd-XYZ@127.0.0.1:1", accessKey: "k", secretKey: "s", maxRetries: 0 });
    const e = await failure(gone.call("server.info"));
    expect(`${e.message} ${e.hint ?? ""}`).not.toMatch(/alice|pa55w0rd/);
  });

  it("a URL that does not parse is refused without quoting it", () => {
    for (const bad of ["http://alice:pa55w0rd@[::1", "ftp://alice:pa55w0rd@host/", "pa55w0rd"]) {
      let e: unknown;
      try {
        new ClearmlClient({ apiServer: bad, accessKey: "k", secretKey: "s" });
      } catch (x) {
        e = x;
      }
      expect(e).toMatchObject({ code: "E_CLEARML_CONFIG", exitCode: 4 });
      expect((e as Error).message).not.toContain("pa55w0rd");
    }
  });
});
