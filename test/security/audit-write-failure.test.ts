import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../src/security/audit-log.js";
import { appendAudit, readAudit, verifyAudit } from "../../src/security/audit-log.js";
import { bundleForChildren } from "../helpers/bundle.js";
import { setPin, T0, tempDirs } from "./helpers.js";

// A failed write must leave the log as it was. Root bypasses permissions, so the failure is made
// by the one limit root is held to as well: the file-size limit (RLIMIT_FSIZE, set with prlimit
// on a child process; Node ignores SIGXFSZ, so a write past the limit fails with EFBIG). The child
// loads the security code from a bundle of the current source (as the concurrency tests do).
const newDir = tempDirs("expflow-sec-wfail-");
const CHILD = fileURLToPath(new URL("./fixtures/audit-append-once.mjs", import.meta.url));
const ENTRY = fileURLToPath(new URL("../../src/index.ts", import.meta.url));
const actor = { now: () => new Date(T0), user: "u", host: "h" };

let bundle = "";
beforeAll(async () => {
  bundle = await bundleForChildren("expflow-security-wfail", ENTRY);
}, 120_000);

interface ChildOutcome {
  ok: boolean;
  result?: unknown;
  error?: { name: string; code: string; exitCode: number; message: string };
}

/** Runs the child with every file it writes limited to `limit` bytes. */
function underLimit(limit: number, args: string[]): ChildOutcome {
  const r = spawnSync("prlimit", [`--fsize=${limit}`, process.execPath, CHILD, bundle, ...args], { encoding: "utf8", timeout: 60_000 });
  expect(r.status, `${String(r.signal)} ${String(r.error)} ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as ChildOutcome;
}

/** Every file of the home with its bytes (directories, such as a lock, would show too). */
function snapshot(home: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(home).sort()) out[f] = statSync(join(home, f)).isFile() ? readFileSync(join(home, f), "latin1") : "<directory>";
  return out;
}

async function homeWithLog(n: number, pin = false): Promise<{ home: string; records: AuditRecord[] }> {
  const home = newDir();
  if (pin) await setPin(home, "6947");
  const records: AuditRecord[] = [];
  for (let i = 1; i <= n; i++) records.push(await appendAudit(home, { action: `act.${i}`, target: "t", outcome: "allowed", detail: "y".repeat(100) }, actor));
  return { home, records };
}

describe("a failed audit write leaves the log as it was and acknowledges nothing", () => {
  it("the records cannot be appended (step 2 fails part-way): BackendError E_AUDIT_WRITE (exit 4); the log is byte-identical, verify ok, the PIN anchor unchanged", async () => {
    const { home, records } = await homeWithLog(3, true);
    const logBefore = readFileSync(join(home, "audit.jsonl"));
    const pinBefore = readFileSync(join(home, "pin.hash"), "utf8");
    // Room for a few more bytes of the log (a part of the record is written, then EFBIG), and
    // for the head's announcement, which is smaller.
    const out = underLimit(logBefore.length + 40, ["append", home]);
    expect(out.ok).toBe(false);
    expect(out.error).toMatchObject({ name: "BackendError", code: "E_AUDIT_WRITE", exitCode: 4 });
    expect(out.error?.message).toMatch(/EFBIG writing the audit log .*audit\.jsonl: the action was not performed/);
    expect(readFileSync(join(home, "audit.jsonl")).equals(logBefore)).toBe(true);
    expect(readFileSync(join(home, "pin.hash"), "utf8")).toBe(pinBefore);
    expect(verifyAudit(home)).toMatchObject({ ok: true, records: 3, problems: [] });
    expect(Object.keys(snapshot(home)).filter((f) => f.startsWith(".") || f.endsWith(".tmp"))).toEqual([]);
    // The next write, with room, carries on from record 3 as if nothing had happened.
    const next = await appendAudit(home, { action: "after", target: "t", outcome: "allowed" }, actor);
    expect(next).toMatchObject({ seq: 4, prev: records[2]!.hash });
    expect(readAudit(home).map((r) => r.outcome)).toEqual(["allowed", "allowed", "allowed", "allowed"]);
    expect(verifyAudit(home)).toMatchObject({ ok: true, records: 4, problems: [] });
  });

  it("the head cannot even announce the write (step 1 fails): E_AUDIT_WRITE; every file of the home is byte-identical", async () => {
    const { home } = await homeWithLog(2, true);
    const before = snapshot(home);
    const out = underLimit(40, ["append", home]);
    expect(out.error).toMatchObject({ name: "BackendError", code: "E_AUDIT_WRITE", exitCode: 4 });
    expect(out.error?.message).toMatch(/audit\.head/);
    expect(snapshot(home)).toEqual(before);
    expect(verifyAudit(home)).toMatchObject({ ok: true, records: 2 });
  });

  it("the guard with the right PIN is not let through when its record cannot be written", async () => {
    const { home } = await homeWithLog(3, true);
    const logBefore = readFileSync(join(home, "audit.jsonl"));
    const out = underLimit(logBefore.length + 40, ["guard", home, newDir(), "6947"]);
    expect(out).toMatchObject({ ok: false, error: { code: "E_AUDIT_WRITE", exitCode: 4 } });
    expect(readFileSync(join(home, "audit.jsonl")).equals(logBefore)).toBe(true);
    expect(verifyAudit(home).ok).toBe(true);
  });
});
