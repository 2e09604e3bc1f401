// The MCP server's approval flow, as the tests of test/mcp see it: a home and a registry of runs
// in every state the destructive tools check, the built server with the SDK's Client over stdio,
// and byte-for-byte snapshots of what a tool call may not change.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { z } from "zod";
import { expect } from "vitest";
import { CLI, ROOT, record, runCli, tempDir, writeRegistry } from "./cli.js";
import { AuditLogSchema } from "../../src/contracts/audit.js";
import { ErrorOutputSchema } from "../../src/contracts/error.js";

/** The PIN {@link setUp} sets. */
export const PIN = "482613";

/** Runs in every state a destructive tool checks. */
export const LINES = [
  record("run-queued", {}, { status: "queued" }),
  record("run-running", {}, { status: "running" }),
  record("run-done", { pde_mean: 15 }),
  record("run-failed", { pde_mean: 20 }, { status: "failed", reason: "boom" }),
  record("run-archived", { pde_mean: 16 }, { archived: true }),
  record("run-gone", { pde_mean: 17 }, { archived: true }),
  { ...record("run-gone", { pde_mean: 17 }, { archived: true }), deleted: true },
];

export interface Server {
  readonly client: Client;
  readonly home: string;
  readonly registry: string;
}

const open: Client[] = [];

/** Closes every client {@link start} connected (an `afterEach` of the tests). */
export async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((c) => c.close()));
}

/** A home (0700) and a registry of {@link LINES} beside it; with `pin`, the PIN set by `pin init --new-pin-stdin` (which binds the registry). */
export function setUp(options: { pin?: boolean } = {}): { home: string; registry: string } {
  const dir = tempDir("expflow-mcp-approvals-");
  const home = join(dir, "home");
  mkdirSync(home, { mode: 0o700 });
  const registry = writeRegistry(LINES, dir);
  if (options.pin === true) {
    const r = runCli(["pin", "init", "--new-pin-stdin", "--registry", registry], { env: cliEnv(home), input: `${PIN}\n` });
    expect(r.code, r.stderr).toBe(0);
  }
  return { home, registry };
}

/** The environment of a CLI run on `home`: nothing of the test's own PIN, registry or colours. */
export function cliEnv(home: string): Record<string, string | undefined> {
  return { EXPFLOW_HOME: home, HOME: home, NO_COLOR: "1", EXPFLOW_PIN: undefined, EXPFLOW_PIN_HASH: undefined, EXPFLOW_REGISTRY: undefined };
}

/** The built server on `home` and `registry`, connected as the client `expflow-test/0.0.1` (or `clientInfo`). */
export async function start(where: { home: string; registry: string }, args: readonly string[] = [], clientInfo = { name: "expflow-test", version: "0.0.1" }): Promise<Server> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "mcp", "--registry", where.registry, ...args],
    env: { PATH: process.env["PATH"] ?? "", HOME: where.home, EXPFLOW_HOME: where.home, NO_COLOR: "1" },
    cwd: ROOT,
    stderr: "pipe",
  });
  const client = new Client(clientInfo);
  await client.connect(transport);
  open.push(client);
  return { client, ...where };
}

export type Result = { isError?: boolean; structuredContent?: Record<string, unknown>; content: { type: string; text: string }[] };

export async function call(s: Server, name: string, args: Record<string, unknown> = {}): Promise<Result> {
  return (await s.client.callTool({ name, arguments: args })) as Result;
}

export function ok<T extends z.ZodType>(r: Result, schema: T): z.infer<T> {
  expect(r.isError, r.content[0]?.text).not.toBe(true);
  // The text is the structured content, as every tool's is.
  expect(JSON.parse(r.content[0]!.text)).toEqual(r.structuredContent);
  return schema.parse(r.structuredContent);
}

export function errorOf(r: Result) {
  expect(r.isError, r.content[0]?.text).toBe(true);
  return ErrorOutputSchema.parse(JSON.parse(r.content[0]!.text)).error;
}

/** Every file of the home and the registry's directory, by path, as bytes. */
export function snapshot(s: { home: string; registry: string }): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const dir of [s.home, join(s.registry, "..")]) {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isFile()) files.set(path, readFileSync(path));
    }
  }
  return files;
}

export function auditRecords(home: string) {
  const path = join(home, "audit.jsonl");
  if (!existsSync(path)) return [];
  return AuditLogSchema.parse(readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as unknown));
}

/** The PIN file without the audit log's anchor, which every audit record moves forward (`security/audit-log.ts`). */
function pinFileBut(bytes: Buffer): { hash: string; meta: Record<string, unknown>; anchor: unknown } {
  const [hash, meta] = bytes.toString("utf8").trim().split("\n");
  const { audit: anchor, ...rest } = JSON.parse(meta ?? "{}") as Record<string, unknown>;
  return { hash: hash!, meta: rest, anchor };
}

/**
 * What may differ from `before`: the approvals file (new or longer), the audit log (its old
 * bytes kept, `added` records of the approvals after them), its head anchor, and the PIN
 * file's anchor of the log; nothing else: not the registry, its protection, the PIN hash, its
 * policy and registries, or its lockout.
 */
export function expectOnlyRequests(s: { home: string; registry: string }, before: Map<string, Buffer>, added: number): void {
  const after = snapshot(s);
  const audit = join(s.home, "audit.jsonl");
  const pinFile = join(s.home, "pin.hash");
  const loose = new Set([join(s.home, "approvals.jsonl"), audit, join(s.home, "audit.head"), pinFile]);
  for (const [path, bytes] of before) {
    if (loose.has(path)) continue;
    expect(after.get(path)?.equals(bytes), path).toBe(true);
  }
  expect(after.has(pinFile)).toBe(before.has(pinFile));
  if (before.has(pinFile)) {
    const [was, is] = [pinFileBut(before.get(pinFile)!), pinFileBut(after.get(pinFile)!)];
    expect({ hash: is.hash, meta: is.meta }).toEqual({ hash: was.hash, meta: was.meta });
    if (added > 0) expect((is.anchor as { seq: number }).seq).toBe(auditRecords(s.home).at(-1)!.seq);
  }
  for (const path of after.keys()) if (!before.has(path)) expect(loose.has(path), `${path} appeared`).toBe(true);
  const old = before.get(audit) ?? Buffer.alloc(0);
  const now = after.get(audit) ?? Buffer.alloc(0);
  expect(now.subarray(0, old.length).equals(old)).toBe(true);
  const records = now.subarray(old.length).toString("utf8").split("\n").filter((l) => l !== "");
  expect(records).toHaveLength(added);
  for (const r of records) expect((JSON.parse(r) as { action: string }).action).toMatch(/^approval\./);
}

