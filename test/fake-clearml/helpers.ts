// Plain-fetch helpers for the fake ClearML server's self-tests: the client code under test is
// not used, so a bug there cannot hide one in the fake.
import { expect } from "vitest";
import type { FakeClearml } from "../../fake-clearml/server.js";

/** An answer: the HTTP status and the parsed envelope. */
export interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- envelopes are inspected field by field
  json: any;
}

/** How {@link call} sends. */
export interface CallOptions {
  token?: string;
  contentType?: string;
  /** Sent as is instead of JSON.stringify(body). */
  raw?: string;
  /** Path version; null for none. Default "2.31". */
  version?: string | null;
}

/** POSTs one call and parses the envelope. */
export async function call(f: FakeClearml, endpoint: string, body: unknown = {}, o: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { "Content-Type": o.contentType ?? "application/json" };
  if (o.token !== undefined) headers["Authorization"] = `Bearer ${o.token}`;
  const version = o.version === undefined ? "2.31" : o.version;
  const url = version === null ? `${f.url}/${endpoint}` : `${f.url}/v${version}/${endpoint}`;
  const res = await fetch(url, { method: "POST", headers, body: o.raw ?? JSON.stringify(body) });
  return { status: res.status, json: JSON.parse(await res.text()) };
}

/** Logs in with Basic credentials and returns the token. */
export async function login(f: FakeClearml): Promise<string> {
  const res = await fetch(`${f.url}/v2.31/auth.login`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Basic ${Buffer.from(`${f.accessKey}:${f.secretKey}`).toString("base64")}` },
    body: "{}",
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: { token: string } }).data.token;
}

/** A client bound to one fake: `api("tasks.enqueue", {...})`. */
export async function client(f: FakeClearml): Promise<(endpoint: string, body?: unknown, o?: CallOptions) => Promise<Answer>> {
  const token = await login(f);
  return (endpoint, body = {}, o = {}) => call(f, endpoint, body, { token, ...o });
}

/** `[status, subcode]` of an answer. */
export function codes(a: Answer): [number, number] {
  return [a.status, a.json.meta.result_subcode as number];
}

/**
 * Ends a test's fake server: its violations fail that test (`assertClean`), and it is closed
 * whatever they are. For `afterEach`, with the fake the test started (or none).
 */
export async function assertCleanAndClose(fake: FakeClearml | undefined): Promise<void> {
  if (!fake) return;
  try {
    fake.assertClean();
  } finally {
    await fake.close();
  }
}
