// Issue: CLEARML_AUTH_TOKEN (what clearml-agent hands to the tasks it runs) in place of the keys:
// sent as Bearer without a login, renewed once with auth.login sent with it (as the SDK's
// session.py renews it), never in a loop, never printed.
import type { ServerResponse } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RequestInfo } from "../../../src/stores/clearml/client.js";
import { ClearmlClient } from "../../../src/stores/clearml/client.js";
import { ClearmlBackendError } from "../../../src/stores/clearml/errors.js";
import { FakeClearml } from "../../../fake-clearml/server.js";
import { fakeProject, fakeTask } from "../../../fake-clearml/tasks.js";
import { runInProcess, tempDir } from "../../helpers/cli.js";

let fake: FakeClearml;
beforeEach(async () => {
  fake = await FakeClearml.start({ tokenLifetimeSec: 3600 });
});
afterEach(async () => {
  fake.assertClean();
  await fake.close();
});

/** A token the fake accepts, got as clearml-agent gets one (a login with the keys). */
async function agentToken(): Promise<string> {
  const r = await fetch(`${fake.url}/v2.26/auth.login`, {
    method: "POST",
    headers: { Authorization: `Basic ${Buffer.from(`${fake.accessKey}:${fake.secretKey}`).toString("base64")}`, "Content-Type": "application/json" },
    body: "{}",
  });
  return ((await r.json()) as { data: { token: string } }).data.token;
}

/**
 * The next auth.login answers with `token` (a renewal to a token of the test's choosing; the
 * double renews a valid Bearer token on auth.login as the server does, with a new one).
 */
function renewNextTo(token: string, times = 1): void {
  fake.respondNext(
    "auth.login",
    (res: ServerResponse) => {
      const text = JSON.stringify({ meta: { id: "x", trx: "x", endpoint: { name: "auth.login" }, result_code: 200, result_subcode: 0, result_msg: "OK", error_stack: null, error_data: {} }, data: { token } });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(text);
    },
    times,
  );
}

function tokenClient(authToken: string, options: { now?: () => number; log?: RequestInfo[] } = {}): ClearmlClient {
  return new ClearmlClient({ apiServer: fake.url, authToken, sleep: async () => undefined, now: options.now, onRequest: options.log ? (r) => options.log!.push(r) : undefined });
}

const endpoints = () => fake.requests.map((r) => `${r.endpoint} ${r.auth} ${r.status}`);

describe("ClearmlClient with an auth token", () => {
  it("sends the token as Bearer from the first call, without logging in", async () => {
    const token = await agentToken();
    fake.resetCounts();
    const c = tokenClient(token);
    await c.call("server.info");
    await c.call("projects.get_all", { name: "^x$", only_fields: ["id"] });
    expect(endpoints()).toEqual(["server.info bearer 200", "projects.get_all bearer 200"]);
  });

  it("on 401/30 renews it once with auth.login sent with that token, then repeats the call and keeps the new token", async () => {
    const old = await agentToken();
    fake.invalidateTokens();
    const fresh = await agentToken();
    fake.resetCounts();
    renewNextTo(fresh);
    const c = tokenClient(old);
    await expect(c.call("server.info")).resolves.toMatchObject({ api_version: "2.34" });
    await c.call("server.info");
    // The renewal is recorded with the fake's own (refused) status; the answer the client read was the new token.
    expect(endpoints()).toEqual(["server.info bearer 401", "auth.login bearer 401", "server.info bearer 200", "server.info bearer 200"]);
  });

  it("never loops: the renewed token refused too is exit 4 E_CLEARML_AUTH naming CLEARML_AUTH_TOKEN, after one renewal", async () => {
    const token = await agentToken();
    fake.resetCounts();
    renewNextTo(token, 5);
    fake.failNext("server.info", { status: 401, subcode: 30, msg: "Invalid token" }, 5);
    const e = (await tokenClient(token)
      .call("server.info")
      .catch((x: unknown) => x)) as ClearmlBackendError;
    expect(e).toBeInstanceOf(ClearmlBackendError);
    expect(e).toMatchObject({ code: "E_CLEARML_AUTH", exitCode: 4 });
    expect(e.message).toContain("CLEARML_AUTH_TOKEN was refused as invalid or expired");
    expect(e.hint).toContain("unset it");
    expect(fake.count("auth.login")).toBe(1);
    expect(fake.count("server.info")).toBe(2);
  });

  it("a renewal the server refuses (the token expired): exit 4 after one auth.login, no loop", async () => {
    const token = await agentToken();
    fake.invalidateTokens();
    fake.resetCounts();
    const c = tokenClient(token);
    const e = (await c.call("server.info").catch((x: unknown) => x)) as ClearmlBackendError;
    expect(e).toMatchObject({ code: "E_CLEARML_AUTH", exitCode: 4 });
    expect(e.message).toContain("CLEARML_AUTH_TOKEN was refused");
    expect(endpoints()).toEqual(["server.info bearer 401", "auth.login bearer 401"]);
  });

  it("renews a token about to expire before using it, with Bearer (injected clock)", async () => {
    const token = await agentToken();
    fake.invalidateTokens();
    const fresh = await agentToken();
    fake.resetCounts();
    let skew = 3600_000 - 30_000;
    renewNextTo(fresh);
    const c = tokenClient(token, { now: () => Date.now() + skew });
    await c.call("server.info");
    skew = 0;
    await c.call("server.info");
    expect(endpoints()).toEqual(["auth.login bearer 401", "server.info bearer 200", "server.info bearer 200"]);
  });

  it("login() proves the token with one renewal, as the SDK does when it starts; identity() reads the company", async () => {
    const token = await agentToken();
    fake.resetCounts();
    const c = tokenClient(token);
    await c.login();
    expect(endpoints()).toEqual(["auth.login bearer 200"]);
    await expect(c.identity()).resolves.toEqual({ company: "fake-company", user: "fake-user" });
    expect(fake.count()).toBe(1);
  });

  it("the token is redacted from server messages and never reaches errors or onRequest", async () => {
    const token = await agentToken();
    const log: RequestInfo[] = [];
    fake.failNext("server.info", { status: 403, subcode: 21, msg: `no write permission for ${token}` });
    const e = (await tokenClient(token, { log })
      .call("server.info")
      .catch((x: unknown) => x)) as ClearmlBackendError;
    expect(e.code).toBe("E_CLEARML_FORBIDDEN");
    expect(e.clearml.resultMsg).toBe("no write permission for [redacted]");
    expect(`${e.message}\n${e.hint ?? ""}\n${e.stack ?? ""}\n${JSON.stringify(e)}\n${JSON.stringify(log)}`).not.toContain(token);
  });

  it("a token given with keys wins, as in the SDK (no login with the keys)", async () => {
    const token = await agentToken();
    fake.resetCounts();
    const c = new ClearmlClient({ apiServer: fake.url, accessKey: "unused-key", secretKey: "unused-secret", authToken: token });
    await c.call("server.info");
    expect(endpoints()).toEqual(["server.info bearer 200"]);
  });
});

describe("the CLI with CLEARML_AUTH_TOKEN", () => {
  it("lists with the token alone (no keys anywhere): Bearer on every call, no login, the token never printed", async () => {
    await fake.close();
    const p = fakeProject("PDEBench");
    fake = await FakeClearml.start({ projects: [p], tasks: [fakeTask({ name: "run-1", project: p.id })] });
    const token = await agentToken();
    fake.resetCounts();
    const env = { CLEARML_API_HOST: fake.url, CLEARML_AUTH_TOKEN: token, CLEARML_API_ACCESS_KEY: undefined, CLEARML_API_SECRET_KEY: undefined, CLEARML_CONFIG_FILE: undefined, HOME: tempDir(), NO_COLOR: "1" };
    const r = await runInProcess(["clearml", "tasks", "--project", "PDEBench", "--json", "--verbose"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { experiments: { name: string }[] }).experiments.map((e) => e.name)).toEqual(["run-1"]);
    expect(endpoints()).toEqual(["projects.get_all bearer 200", "tasks.get_all bearer 200"]);
    expect(r.stdout + r.stderr).not.toContain(token);
  });
});

describe("a token renewed by the server itself (the double answers auth.login with Bearer as the server does)", () => {
  it("clearml status with the token alone: one renewal with Bearer, and the credentials work", async () => {
    const token = await agentToken();
    fake.resetCounts();
    const env = { CLEARML_API_HOST: fake.url, CLEARML_AUTH_TOKEN: token, CLEARML_API_ACCESS_KEY: undefined, CLEARML_API_SECRET_KEY: undefined, CLEARML_CONFIG_FILE: undefined, HOME: tempDir(), NO_COLOR: "1" };
    const r = await runInProcess(["clearml", "status", "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(endpoints()).toContain("auth.login bearer 200");
    expect(r.stdout + r.stderr).not.toContain(token);
    // An unknown token is refused there as anywhere: 401/30.
    fake.resetCounts();
    const bad = await runInProcess(["clearml", "status", "--json"], { env: { ...env, CLEARML_AUTH_TOKEN: `${token.slice(0, -4)}AAAA` } });
    expect(bad.code).toBe(4);
    expect(endpoints().some((e) => e.endsWith(" 401"))).toBe(true);
  });
});

describe("ClearmlClient credentials", () => {
  it("neither a token nor both keys: exit 4 E_CLEARML_NOT_CONFIGURED when the client is made", () => {
    expect(() => new ClearmlClient({ apiServer: fake.url, accessKey: "only-the-key" })).toThrow(expect.objectContaining({ code: "E_CLEARML_NOT_CONFIGURED", exitCode: 4 }));
    expect(() => new ClearmlClient({ apiServer: fake.url, authToken: " " })).toThrow(expect.objectContaining({ code: "E_CLEARML_NOT_CONFIGURED" }));
  });
});

describe("ClearmlClient.identity with keys", () => {
  it("logs in when needed and reads company and user from the token", async () => {
    const c = new ClearmlClient({ apiServer: fake.url, accessKey: fake.accessKey, secretKey: fake.secretKey });
    await expect(c.identity()).resolves.toEqual({ company: "fake-company", user: "fake-user" });
    await c.identity();
    expect(fake.count("auth.login")).toBe(1);
  });
});
