import { createServer } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BackendError, ConflictError, NotFoundError } from "../../../src/core/errors.js";
import type { RequestInfo } from "../../../src/stores/clearml/client.js";
import { ClearmlClient, displayUrl } from "../../../src/stores/clearml/client.js";
import { ClearmlBackendError, clearmlError, isClearmlFailure } from "../../../src/stores/clearml/errors.js";
import { FakeClearml } from "../../../fake-clearml/server.js";
import { fakeProject, fakeTask } from "../../../fake-clearml/tasks.js";

const project = fakeProject("PDEBench");
let fake: FakeClearml;

// A fresh server per test: injected faults and issued tokens never leak from one test to the next.
beforeEach(async () => {
  fake = await FakeClearml.start({ projects: [project], tasks: [fakeTask({ name: "one", project: project.id, metrics: { Score: { seg_total: 0.5 } } })] });
});
afterEach(async () => {
  fake.assertClean();
  await fake.close();
});

/** A client of the fake with no real waiting between retries; `log` collects what onRequest saw. */
function client(options: { secret?: string; maxRetries?: number; url?: string; timeoutMs?: number } = {}) {
  const log: RequestInfo[] = [];
  const sleeps: number[] = [];
  const c = new ClearmlClient({
    apiServer: options.url ?? fake.url,
    accessKey: fake.accessKey,
    secretKey: options.secret ?? fake.secretKey,
    maxRetries: options.maxRetries,
    timeoutMs: options.timeoutMs,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    onRequest: (r) => log.push(r),
  });
  return { c, log, sleeps };
}

/** A port on 127.0.0.1 with nothing listening. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function everything(log: readonly RequestInfo[], e?: unknown): string {
  const err = e instanceof Error ? `${e.message}\n${(e as BackendError).hint ?? ""}\n${e.stack ?? ""}\n${JSON.stringify(e)}` : "";
  return `${JSON.stringify(log)}\n${err}`;
}

describe("ClearmlClient: login and tokens", () => {
  it("logs in once with Basic, then sends Bearer on every call", async () => {
    const { c } = client();
    await c.call("projects.get_all", { name: "^PDEBench$", only_fields: ["id", "name"] });
    await c.call("projects.get_all", { name: "^PDEBench$", only_fields: ["id", "name"] });
    await c.call("server.info");
    expect(fake.count("auth.login")).toBe(1);
    const auths = fake.requests.map((r) => `${r.endpoint}:${r.auth}`);
    expect(auths).toEqual(["auth.login:basic", "projects.get_all:bearer", "projects.get_all:bearer", "server.info:bearer"]);
  });

  it("renews a token that expires within a minute before using it (injected clock)", async () => {
    await fake.close();
    fake = await FakeClearml.start({ tokenLifetimeSec: 3600 });
    let skew = 0;
    const c = new ClearmlClient({ apiServer: fake.url, accessKey: fake.accessKey, secretKey: fake.secretKey, now: () => Date.now() + skew });
    await c.call("server.info");
    await c.call("server.info");
    expect(fake.count("auth.login")).toBe(1);
    skew = 3600_000 - 30_000;
    await c.call("server.info");
    expect(fake.count("auth.login")).toBe(2);
  });

  it("concurrent first calls share one login", async () => {
    const { c } = client();
    await Promise.all([c.call("server.info"), c.call("server.info"), c.call("server.info")]);
    expect(fake.count("auth.login")).toBe(1);
  });

  it("logs in again once when the token is refused mid-run (401/30), and the call succeeds", async () => {
    const { c } = client();
    await c.call("server.info");
    fake.invalidateTokens();
    const data = await c.call<{ projects: unknown[] }>("projects.get_all", { name: "^PDEBench$", only_fields: ["id", "name"] });
    expect(data.projects).toHaveLength(1);
    expect(fake.count("auth.login")).toBe(2);
    expect(fake.count("projects.get_all")).toBe(2);
  });

  it("does not loop when a fresh token is refused too: exit 4 E_CLEARML_AUTH", async () => {
    const { c } = client();
    fake.failNext("server.info", { status: 401, subcode: 30, msg: "Invalid token" }, 5);
    const e = await c.call("server.info").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ClearmlBackendError);
    expect((e as ClearmlBackendError).code).toBe("E_CLEARML_AUTH");
    expect((e as ClearmlBackendError).exitCode).toBe(4);
    expect(fake.count("auth.login")).toBe(2);
    expect(fake.count("server.info")).toBe(2);
  });

  it("bad credentials: exit 4 E_CLEARML_AUTH with the server's codes, and no secret anywhere", async () => {
    const wrong = "not-the-s3cret-#$//-value";
    const { c, log } = client({ secret: wrong });
    const e = await c.call("server.info").catch((x: unknown) => x);
    expect(isClearmlFailure(e)).toBe(true);
    const f = e as ClearmlBackendError;
    expect(f.code).toBe("E_CLEARML_AUTH");
    expect(f.exitCode).toBe(4);
    expect(f.clearml).toMatchObject({ endpoint: "auth.login", resultCode: 401, resultSubcode: 21 });
    const text = everything(log, e);
    for (const secret of [wrong, fake.accessKey, fake.secretKey, Buffer.from(`${fake.accessKey}:${wrong}`).toString("base64")]) expect(text).not.toContain(secret);
    // A failed login is not cached: the next call tries again.
    await c.call("server.info").catch(() => undefined);
    expect(fake.count("auth.login")).toBe(2);
  });

  it("redacts a credential the server echoes in its message", async () => {
    const { c } = client();
    fake.failNext("server.info", { status: 403, subcode: 21, msg: `no write permission for ${fake.accessKey}` });
    const e = (await c.call("server.info").catch((x: unknown) => x)) as ClearmlBackendError;
    expect(e.code).toBe("E_CLEARML_FORBIDDEN");
    expect(e.message).not.toContain(fake.accessKey);
    expect(e.clearml.resultMsg).toContain("[redacted]");
  });
});

describe("ClearmlClient: retries, timeouts, malformed answers", () => {
  it("retries a read after a 500, with a jittered, growing backoff, and succeeds", async () => {
    const { c, sleeps, log } = client();
    await c.login();
    fake.failNext("server.info", { status: 500, subcode: 0, msg: "General error" }, 2);
    const info = await c.call<{ api_version: string }>("server.info");
    expect(info.api_version).toBeTypeOf("string");
    expect(fake.count("server.info")).toBe(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[1]!).toBeGreaterThan(sleeps[0]!);
    expect(log.filter((r) => r.endpoint === "server.info").map((r) => r.attempt)).toEqual([1, 2, 3]);
  });

  it("gives up after maxRetries: exit 4 E_CLEARML_SERVER carrying result_code/subcode/msg", async () => {
    const { c } = client({ maxRetries: 2 });
    await c.login();
    fake.failNext("server.info", { status: 500, subcode: 102, msg: "database unavailable" }, 10);
    const e = (await c.call("server.info").catch((x: unknown) => x)) as ClearmlBackendError;
    expect(e.code).toBe("E_CLEARML_SERVER");
    expect(e.exitCode).toBe(4);
    expect(e.clearml).toEqual({ endpoint: "server.info", resultCode: 500, resultSubcode: 102, resultMsg: "database unavailable" });
    expect(fake.count("server.info")).toBe(3);
  });

  it("never retries a write (events.add_batch) after a 500", async () => {
    const { c } = client();
    await c.login();
    fake.failNext("events.add_batch", { status: 500, subcode: 0, msg: "General error" }, 3);
    const event = { type: "training_stats_scalar", task: fake.tasks[0]!.id, metric: "Score", variant: "seg_total", value: 1, iter: 0, timestamp: Date.now() };
    await expect(c.callJsonLines("events.add_batch", [event])).rejects.toMatchObject({ code: "E_CLEARML_SERVER" });
    expect(fake.count("events.add_batch")).toBe(1);
    expect(fake.events).toHaveLength(0);
  });

  it("an answer that is not JSON: exit 4 E_CLEARML_BAD_RESPONSE, not retried", async () => {
    const { c } = client();
    await c.login();
    fake.malformNext("server.info", "malformed");
    await expect(c.call("server.info")).rejects.toMatchObject({ code: "E_CLEARML_BAD_RESPONSE", exitCode: 4 });
    expect(fake.count("server.info")).toBe(1);
  });

  it("JSON without the envelope: E_CLEARML_BAD_RESPONSE naming the likely cause", async () => {
    const { c } = client();
    await c.login();
    fake.malformNext("server.info", "no-envelope");
    const e = (await c.call("server.info").catch((x: unknown) => x)) as BackendError;
    expect(e.code).toBe("E_CLEARML_BAD_RESPONSE");
    expect(e.hint).toContain("API server");
  });

  it("a dropped connection on a read is retried", async () => {
    const { c } = client();
    await c.login();
    fake.malformNext("server.info", "drop");
    await expect(c.call("server.info")).resolves.toBeTruthy();
    expect(fake.count("server.info")).toBe(2);
  });

  it("an unreachable host: exit 4 E_CLEARML_UNREACHABLE after the bounded retries, no secret", async () => {
    const port = await closedPort();
    const { c, sleeps, log } = client({ url: `http://127.0.0.1:${port}` });
    const e = (await c.call("server.info").catch((x: unknown) => x)) as BackendError;
    expect(e).toBeInstanceOf(BackendError);
    expect(e.code).toBe("E_CLEARML_UNREACHABLE");
    expect(e.exitCode).toBe(4);
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(e.message).toContain("ECONNREFUSED");
    expect(sleeps).toHaveLength(2);
    expect(everything(log, e)).not.toContain(fake.secretKey);
  });

  it("a server that does not answer in time: E_CLEARML_TIMEOUT", async () => {
    const slow = await FakeClearml.start({ latencyMs: 300 });
    try {
      const c = new ClearmlClient({ apiServer: slow.url, accessKey: slow.accessKey, secretKey: slow.secretKey, timeoutMs: 50, maxRetries: 1, sleep: async () => undefined });
      const e = (await c.call("server.info").catch((x: unknown) => x)) as BackendError;
      expect(e).toMatchObject({ code: "E_CLEARML_TIMEOUT", exitCode: 4 });
      expect(e.message).toContain("after 2 attempts");
    } finally {
      await slow.close();
    }
  });

  it("keeps user information in the URL out of messages", () => {
    expect(displayUrl("http://user:pa55@example.com:8008/")).toBe("http://example.com:8008");
    const c = new ClearmlClient({ apiServer: "http://user:pa55@example.com:8008", accessKey: "k", secretKey: "s" });
    expect(c.server).not.toContain("pa55");
  });
});

describe("clearmlError: the one mapping of error answers", () => {
  const at = (resultCode: number, resultSubcode: number) => clearmlError({ endpoint: "tasks.get_all", resultCode, resultSubcode, resultMsg: "m" }, "http://s");
  it.each([
    [401, 20, "E_CLEARML_AUTH", 4],
    [401, 21, "E_CLEARML_AUTH", 4],
    [401, 22, "E_CLEARML_AUTH", 4],
    [403, 21, "E_CLEARML_FORBIDDEN", 4],
    [400, 101, "E_CLEARML_NOT_FOUND", 2],
    [400, 401, "E_CLEARML_NOT_FOUND", 2],
    [400, 131, "E_CLEARML_REFUSED", 2],
    [400, 110, "E_CLEARML_REFUSED", 2],
    [400, 12, "E_CLEARML_REQUEST", 4],
    [400, 1104, "E_CLEARML_REQUEST", 4],
    [404, 0, "E_CLEARML_UNSUPPORTED", 4],
    [500, 0, "E_CLEARML_SERVER", 4],
    [500, 102, "E_CLEARML_SERVER", 4],
  ])("%i/%i -> %s (exit %i)", (code, sub, expected, exit) => {
    const e = at(code, sub);
    expect(e.code).toBe(expected);
    expect(e.exitCode).toBe(exit);
    expect(e.clearml).toEqual({ endpoint: "tasks.get_all", resultCode: code, resultSubcode: sub, resultMsg: "m" });
    expect(e.message).toContain(`${code}/${sub}`);
  });
  it("classes follow the hierarchy", () => {
    expect(at(400, 101)).toBeInstanceOf(NotFoundError);
    expect(at(400, 131)).toBeInstanceOf(ConflictError);
    expect(at(500, 0)).toBeInstanceOf(BackendError);
  });
});
