import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditRecord, AuditActor } from "../../src/security/audit-log.js";
import { appendAudit, readAudit, verifyAudit } from "../../src/security/audit-log.js";
import { verifyPin } from "../../src/security/pin.js";
import { leftovers, pinContext, setPin, T0, tempDirs } from "./helpers.js";
import { runAtBarrier } from "../helpers/barrier.js";
import type { WorkerResult } from "../helpers/barrier.js";
import { bundleForChildren } from "../helpers/bundle.js";

const newDir = tempDirs("expflow-sec-conc-");
const WORKER = fileURLToPath(new URL("./fixtures/security-worker.mjs", import.meta.url));
const ENTRY = fileURLToPath(new URL("../../src/index.ts", import.meta.url));

// The children load the library from a bundle of the current TypeScript source, built into a
// temporary directory: they test src/ as it is (not a possibly stale dist/), and a concurrent
// `npx tsup` (which cleans dist/) cannot pull the code out from under them.
let bundle = "";
beforeAll(async () => {
  bundle = await bundleForChildren("expflow-security", ENTRY);
}, 120_000);

type ChildResult = WorkerResult;

/** One worker per argument list, released together; each must exit 0. */
async function runWorkers(argLists: string[][]): Promise<ChildResult[]> {
  const results = await runAtBarrier(WORKER, bundle, newDir(), argLists);
  for (const r of results) expect(r.code, r.stderr).toBe(0);
  return results;
}

function checkChain(home: string, children: number, each: number, before = 0): AuditRecord[] {
  const total = before + children * each;
  const raw = readFileSync(join(home, "audit.jsonl"), "utf8");
  expect(raw.endsWith("\n")).toBe(true);
  const lines = raw.slice(0, -1).split("\n");
  expect(lines).toHaveLength(total);
  // Every line is one whole record: nothing interleaved or torn.
  const records = lines.map((l) => JSON.parse(l) as AuditRecord);
  expect(verifyAudit(home)).toEqual({ ok: true, records: total, problem: null, problems: [], notes: [] });
  expect(records.map((r) => r.seq)).toEqual(Array.from({ length: total }, (_v, i) => i + 1));
  expect(new Set(records.map((r) => r.hash)).size).toBe(total);
  expect(new Set(records.map((r) => r.prev)).size).toBe(total);
  expect(readAudit(home)).toEqual(records);
  expect(JSON.parse(readFileSync(join(home, "audit.head"), "utf8"))).toEqual({ seq: total, hash: records.at(-1)!.hash });
  // Each child's records are all there, once, in the order it appended them.
  for (let c = 0; c < children; c++) {
    const mine = records.filter((r) => r.target === `child-${c}`);
    expect(mine.map((r) => r.detail)).toEqual(Array.from({ length: each }, (_v, j) => `child ${c} record ${j + 1}`));
  }
  expect(leftovers(home)).toEqual([]);
  return records;
}

describe("concurrent appends from several processes", () => {
  it("4 processes x 15 records: one chain, seq 1..60, no duplicates, no interleaving", async () => {
    const home = newDir();
    const results = await runWorkers([0, 1, 2, 3].map(() => ["append", home, "15"]));
    const records = checkChain(home, 4, 15);
    // What each child was told matches what the log holds.
    for (const r of results) {
      const { id, seqs } = JSON.parse(r.stdout) as { id: string; seqs: number[] };
      expect(seqs).toEqual(records.filter((x) => x.target === `child-${id}`).map((x) => x.seq));
    }
  });

  it("continues an existing chain", async () => {
    const home = newDir();
    const actor: AuditActor = { now: () => new Date(T0), user: "parent", host: "h" };
    for (let i = 0; i < 3; i++) await appendAudit(home, { action: "before", target: "parent", outcome: "denied" }, actor);
    await runWorkers([0, 1, 2, 3, 4, 5].map(() => ["append", home, "10"]));
    const records = checkChain(home, 6, 10, 3);
    expect(records.slice(0, 3).map((r) => r.target)).toEqual(["parent", "parent", "parent"]);
  });

  it("in one process, parallel appends are serialised too", async () => {
    const home = newDir();
    const actor = (c: number): AuditActor => ({ now: () => new Date(T0), user: `p${c}`, host: "h" });
    await Promise.all(
      [0, 1, 2].map(async (c) => {
        for (let j = 1; j <= 10; j++) await appendAudit(home, { action: "a", target: `child-${c}`, outcome: "allowed", detail: `child ${c} record ${j}` }, actor(c));
      }),
    );
    checkChain(home, 3, 10);
  });
});

describe("concurrent wrong PINs from several processes", () => {
  const PIN = "5173";
  const WRONG = "5170";

  type Result = { id: string; ok: boolean; reason?: string; lockedUntil?: string | null };

  it("fewer than the threshold: every failure is counted", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, PIN);
    const results = (await runWorkers([0, 1, 2, 3].map(() => ["verify", home, cwd, WRONG, String(T0)]))).map((r) => JSON.parse(r.stdout) as Result);
    expect(results.map((r) => [r.ok, r.reason, r.lockedUntil])).toEqual(Array.from({ length: 4 }, () => [false, "wrong", null]));
    expect(JSON.parse(readFileSync(join(home, "pin.lockout.json"), "utf8"))).toEqual({ failures: 4, locked_until: null });
    expect(leftovers(home)).toEqual([]);
  });

  it("more than the threshold: exactly 5 failures count, the lockout starts, the rest are refused as locked", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, PIN);
    const results = (await runWorkers(Array.from({ length: 8 }, () => ["verify", home, cwd, WRONG, String(T0)]))).map((r) => JSON.parse(r.stdout) as Result);
    const until = new Date(T0 + 30_000).toISOString();
    const wrong = results.filter((r) => r.reason === "wrong");
    const locked = results.filter((r) => r.reason === "locked");
    expect(wrong).toHaveLength(5);
    expect(locked).toHaveLength(3);
    expect(wrong.filter((r) => r.lockedUntil === until)).toHaveLength(1);
    expect(wrong.filter((r) => r.lockedUntil === null)).toHaveLength(4);
    for (const r of locked) expect(r.lockedUntil).toBe(until);
    expect(JSON.parse(readFileSync(join(home, "pin.lockout.json"), "utf8"))).toEqual({ failures: 5, locked_until: until });
    // Even the right PIN is now refused.
    expect(await verifyPin(PIN, pinContext(home, cwd))).toMatchObject({ ok: false, reason: "locked" });
  });

  it("in one process, parallel wrong PINs are all counted", async () => {
    const home = newDir();
    const cwd = newDir();
    await setPin(home, PIN);
    const results = await Promise.all([0, 1, 2, 3].map(() => verifyPin(WRONG, pinContext(home, cwd))));
    expect(results.every((r) => !r.ok && r.reason === "wrong")).toBe(true);
    expect(JSON.parse(readFileSync(join(home, "pin.lockout.json"), "utf8"))).toMatchObject({ failures: 4 });
  });
});
