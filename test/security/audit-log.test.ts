import { createHash } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AuditOutcome, AuditRecord } from "../../src/security/audit-log.js";
import { appendAudit, auditHash, readAudit, verifyAudit } from "../../src/security/audit-log.js";
import { T0, tempDirs, testClock } from "./helpers.js";

const newDir = tempDirs();
const GENESIS = "0".repeat(64);
const OUTCOMES: AuditOutcome[] = ["allowed", "denied", "forced", "locked", "no-pin"];

/** The record hash, computed independently: SHA-256 over every field but `hash` (keys sorted), `prev` included. */
function expectedHash(r: Omit<AuditRecord, "hash">): string {
  const fields = Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256").update(JSON.stringify(fields), "utf8").digest("hex");
}

/** A record with its hash recomputed, as a careful forger would. */
function rehash(r: AuditRecord): AuditRecord {
  const { hash: _old, ...rest } = r;
  return { ...rest, hash: expectedHash(rest) };
}

/** A home with `n` records appended, one second apart. */
async function logOf(n: number): Promise<{ home: string; records: AuditRecord[] }> {
  const home = newDir();
  const clock = testClock();
  const records: AuditRecord[] = [];
  for (let i = 1; i <= n; i++) {
    records.push(
      await appendAudit(
        home,
        { action: `act.${i}`, target: `target-${i}`, outcome: OUTCOMES[i % OUTCOMES.length]!, detail: i % 2 ? `detail ${i}` : null },
        { now: clock.now, user: `user${i}`, host: "host" },
      ),
    );
    clock.advance(1000);
  }
  return { home, records };
}

const logPath = (home: string): string => join(home, "audit.jsonl");
const headPath = (home: string): string => join(home, "audit.head");
const linesOf = (home: string): string[] => readFileSync(logPath(home), "utf8").split("\n").filter((l) => l !== "");
const writeLines = (home: string, lines: readonly string[]): void => writeFileSync(logPath(home), lines.map((l) => `${l}\n`).join(""));
const recordsOf = (home: string): AuditRecord[] => linesOf(home).map((l) => JSON.parse(l) as AuditRecord);
const writeRecords = (home: string, records: readonly AuditRecord[]): void => writeLines(home, records.map((r) => JSON.stringify(r)));

describe("appendAudit: the hash chain", () => {
  it("numbers records 1..n, chains each to the previous hash (the first to 64 zeros), hashes content and prev", async () => {
    const { home, records } = await logOf(6);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(records[0]!.prev).toBe(GENESIS);
    for (const [i, r] of records.entries()) {
      if (i > 0) expect(r.prev).toBe(records[i - 1]!.hash);
      const { hash, ...rest } = r;
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(hash).toBe(expectedHash(rest));
      expect(hash).toBe(auditHash(rest));
      expect(r.time).toBe(new Date(T0 + i * 1000).toISOString());
    }
    expect(new Set(records.map((r) => r.hash)).size).toBe(6);
    expect(readAudit(home)).toEqual(records);
    expect(recordsOf(home)).toEqual(records);
    expect(JSON.parse(readFileSync(headPath(home), "utf8"))).toEqual({ seq: 6, hash: records[5]!.hash });
    expect(verifyAudit(home)).toEqual({ ok: true, records: 6, problem: null });
  });

  it("stores what it is given; detail defaults to null", async () => {
    const home = newDir();
    const r = await appendAudit(home, { action: "pin.clear", target: "pin", outcome: "forced" }, { now: () => new Date(T0), user: "ann", host: "box" });
    expect(r).toMatchObject({ seq: 1, time: new Date(T0).toISOString(), user: "ann", host: "box", action: "pin.clear", target: "pin", outcome: "forced", detail: null, prev: GENESIS });
    expect(readAudit(home)).toEqual([r]);
  });

  it("the hash covers every field: changing any one changes it", () => {
    const base: Omit<AuditRecord, "hash"> = { seq: 3, time: new Date(T0).toISOString(), user: "u", host: "h", action: "a", target: "t", outcome: "denied", detail: "d", prev: GENESIS };
    const field = fc.constantFrom("seq", "time", "user", "host", "action", "target", "outcome", "detail", "prev");
    fc.assert(
      fc.property(field, fc.oneof(fc.string(), fc.integer()), (f, v) => {
        const changed = { ...base, [f]: f === "seq" ? (typeof v === "number" ? v : v.length + 4) : String(v) };
        fc.pre(JSON.stringify(changed[f as keyof typeof changed]) !== JSON.stringify(base[f as keyof typeof base]));
        expect(auditHash(changed)).not.toBe(auditHash(base));
      }),
    );
    expect(auditHash({ ...base, detail: null })).not.toBe(auditHash({ ...base, detail: "null" }));
  });

  it("after a torn last line (a crash mid-write) the next record starts on a fresh line; verification names the torn line", async () => {
    const { home } = await logOf(3);
    appendFileSync(logPath(home), '{"seq":4,"time":"20');
    const next = await appendAudit(home, { action: "x", target: "y", outcome: "denied" }, { now: () => new Date(T0), user: "u", host: "h" });
    const lines = linesOf(home);
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[4]!)).toEqual(next);
    expect(readAudit(home)).toHaveLength(4);
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: 4 } });
  });
});

describe("readAudit", () => {
  it("returns [] without a log and skips damaged lines", async () => {
    expect(readAudit(newDir())).toEqual([]);
    const { home, records } = await logOf(3);
    const lines = linesOf(home);
    writeLines(home, [lines[0]!, "garbage{", lines[1]!, "", lines[2]!]);
    expect(readAudit(home)).toEqual(records);
  });
});

describe("verifyAudit: intact logs", () => {
  it("is ok for a home with no log at all", () => {
    expect(verifyAudit(newDir())).toEqual({ ok: true, records: 0, problem: null });
  });

  it("is ok for an intact log of any length", async () => {
    for (const n of [1, 2, 17]) {
      const { home } = await logOf(n);
      expect(verifyAudit(home)).toEqual({ ok: true, records: n, problem: null });
    }
  });

  it("is ok for an empty log file without a head: there is nothing to anchor (a crash between creating the file and the first write)", () => {
    const home = newDir();
    writeFileSync(logPath(home), "", { mode: 0o600 });
    expect(verifyAudit(home)).toEqual({ ok: true, records: 0, problem: null });
  });
});

describe("verifyAudit: names the first problem", () => {
  const N = 5;

  it.each(["action", "target", "outcome", "detail", "user", "host", "time"] as const)("a middle record with %s altered", async (field) => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    const value = field === "outcome" ? (rs[2]!.outcome === "allowed" ? "denied" : "allowed") : field === "time" ? new Date(T0 - 1).toISOString() : "forged";
    rs[2] = { ...rs[2]!, [field]: value };
    writeRecords(home, rs);
    const v = verifyAudit(home);
    expect(v.ok).toBe(false);
    expect(v.problem).toMatchObject({ line: 3, seq: 3 });
    expect(v.problem?.reason).toMatch(/altered/);
    expect(v.records).toBe(2);
  });

  it("a middle record altered with its hash recomputed: the next record no longer follows", async () => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    rs[2] = rehash({ ...rs[2]!, outcome: "allowed", detail: "forged" });
    writeRecords(home, rs);
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: 4, seq: 4, reason: expect.stringMatching(/does not follow/) } });
  });

  it("the last record altered", async () => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    rs[4] = { ...rs[4]!, outcome: rs[4]!.outcome === "allowed" ? "denied" : "allowed" };
    writeRecords(home, rs);
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: 5, seq: 5, reason: expect.stringMatching(/altered/) } });
  });

  it("the last record altered with its hash recomputed: the head anchor no longer matches", async () => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    rs[4] = rehash({ ...rs[4]!, outcome: "allowed", detail: "forged" });
    writeRecords(home, rs);
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: 5, seq: 5, reason: expect.stringMatching(/anchor/) } });
  });

  it("a middle record removed", async () => {
    const { home } = await logOf(N);
    const lines = linesOf(home);
    writeLines(home, [...lines.slice(0, 2), ...lines.slice(3)]);
    const v = verifyAudit(home);
    expect(v).toMatchObject({ ok: false, records: 2, problem: { line: 3, seq: 4 } });
    expect(v.problem?.reason).toMatch(/record 3 was removed/);
  });

  it("the first record removed", async () => {
    const { home } = await logOf(N);
    writeLines(home, linesOf(home).slice(1));
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: 1, reason: expect.stringMatching(/record 1 was removed/) } });
  });

  it("the last record removed (detected through audit.head)", async () => {
    const { home } = await logOf(N);
    writeLines(home, linesOf(home).slice(0, N - 1));
    const v = verifyAudit(home);
    expect(v).toMatchObject({ ok: false, records: N - 1, problem: { line: null, seq: N } });
    expect(v.problem?.reason).toMatch(/removed from the end/);
  });

  it("the last two records removed", async () => {
    const { home } = await logOf(N);
    writeLines(home, linesOf(home).slice(0, N - 2));
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { seq: N - 1, reason: expect.stringMatching(/4-5 was removed from the end/) } });
  });

  it("every record removed (the log file deleted, the head left)", async () => {
    const { home } = await logOf(N);
    rmSync(logPath(home));
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { seq: 1, reason: expect.stringMatching(/removed from the end/) } });
  });

  it("a record inserted in the middle, even with a correctly recomputed hash and link", async () => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    const forged = rehash({ ...rs[2]!, action: "run.delete", outcome: "allowed", detail: "PIN verified", prev: rs[1]!.hash, seq: 3 });
    writeRecords(home, [...rs.slice(0, 2), forged, ...rs.slice(2)]);
    const v = verifyAudit(home);
    expect(v.ok).toBe(false);
    // The forged record itself chains correctly; the first inconsistency is the genuine record 3 after it.
    expect(v.problem).toMatchObject({ line: 4, seq: 3 });
    expect(v.problem?.reason).toMatch(/inserted or duplicated/);
  });

  it("records appended past the head anchor with correctly recomputed hashes, more than a crash could leave", async () => {
    // appendAudit writes one line, then the anchor, under the lock: a crash can leave at most one
    // record past audit.head. Two or more chained records past it were put there by hand.
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    const f6 = rehash({ ...rs[4]!, seq: 6, prev: rs[4]!.hash, action: "forged.6" });
    const f7 = rehash({ ...rs[4]!, seq: 7, prev: f6.hash, action: "forged.7" });
    writeRecords(home, [...rs, f6, f7]);
    expect(verifyAudit(home).ok).toBe(false);
  });

  it("a record inserted before the first one", async () => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    const forged = rehash({ ...rs[0]!, action: "forged", prev: GENESIS, seq: 1 });
    writeRecords(home, [forged, ...rs]);
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: 2, seq: 1 } });
  });

  it("a record inserted with a seq that fits no slot", async () => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    const forged = rehash({ ...rs[2]!, seq: 2.5, prev: rs[1]!.hash });
    writeRecords(home, [...rs.slice(0, 2), forged, ...rs.slice(2)]);
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: 3 } });
  });

  it("a duplicated record", async () => {
    const { home } = await logOf(N);
    const lines = linesOf(home);
    writeLines(home, [...lines.slice(0, 3), lines[2]!, ...lines.slice(3)]);
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: 4, seq: 3, reason: expect.stringMatching(/inserted or duplicated/) } });
  });

  it("the last record duplicated", async () => {
    const { home } = await logOf(N);
    const lines = linesOf(home);
    writeLines(home, [...lines, lines[N - 1]!]);
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: N + 1, seq: N } });
  });

  it.each([
    ["a garbage middle line", (ls: string[]) => [...ls.slice(0, 2), "#%&!", ...ls.slice(3)], 3],
    ["a torn middle line", (ls: string[]) => [...ls.slice(0, 2), ls[2]!.slice(0, 40), ...ls.slice(3)], 3],
    ["a torn last line", (ls: string[]) => [...ls.slice(0, 4), ls[4]!.slice(0, ls[4]!.length - 5)], 5],
    ["a JSON line that is not a record", (ls: string[]) => [...ls.slice(0, 1), '{"hello":"world"}', ...ls.slice(2)], 2],
    ["a JSON null", (ls: string[]) => [...ls.slice(0, 1), "null", ...ls.slice(2)], 2],
    ["a blank line in the middle", (ls: string[]) => [...ls.slice(0, 2), "", ...ls.slice(2)], 3],
  ] as [string, (ls: string[]) => string[], number][])("%s", async (_n, damage, line) => {
    const { home } = await logOf(N);
    writeFileSync(logPath(home), damage(linesOf(home)).join("\n") + "\n");
    const v = verifyAudit(home);
    expect(v.ok).toBe(false);
    expect(v.problem?.line).toBe(line);
    expect(v.problem?.reason).toMatch(new RegExp(`line ${line}`));
  });

  it("a torn last line without a final newline (a crash mid-write)", async () => {
    const { home } = await logOf(N);
    const ls = linesOf(home);
    writeFileSync(logPath(home), [...ls.slice(0, 4), ls[4]!.slice(0, 30)].join("\n"));
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: 5 } });
  });

  it("the head file missing while the log is not empty", async () => {
    const { home } = await logOf(N);
    rmSync(headPath(home));
    const v = verifyAudit(home);
    expect(v).toMatchObject({ ok: false, problem: { line: null, seq: null } });
    expect(v.problem?.reason).toContain("audit.head");
    expect(v.problem?.reason).toMatch(/missing/);
  });

  it.each([
    ["not JSON", "{{{"],
    ["no seq", JSON.stringify({ hash: "0".repeat(64) })],
    ["seq as a string", JSON.stringify({ seq: "5", hash: "0".repeat(64) })],
  ])("a damaged head file (%s)", async (_n, text) => {
    const { home } = await logOf(N);
    writeFileSync(headPath(home), text);
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { reason: expect.stringMatching(/missing or damaged/) } });
  });

  it("a head whose hash does not match the record it anchors", async () => {
    const { home, records } = await logOf(N);
    writeFileSync(headPath(home), JSON.stringify({ seq: N, hash: records[N - 1]!.hash.replace(/^./, (c) => (c === "0" ? "1" : "0")) }));
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { line: N, seq: N, reason: expect.stringMatching(/anchor/) } });
  });

  it.each([
    ["a fractional seq", 2.5],
    ["a negative seq", -1],
  ])("a damaged head with %s is reported, not thrown", async (_n, seq) => {
    const { home, records } = await logOf(N);
    writeFileSync(headPath(home), JSON.stringify({ seq, hash: records[2]!.hash }));
    let v: ReturnType<typeof verifyAudit> | undefined;
    expect(() => {
      v = verifyAudit(home);
    }).not.toThrow();
    expect(v?.ok).toBe(false);
  });

  it("only the first of several problems is named", async () => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    rs[1] = { ...rs[1]!, detail: "first" };
    rs[3] = { ...rs[3]!, detail: "second" };
    writeRecords(home, rs);
    rmSync(headPath(home));
    expect(verifyAudit(home)).toMatchObject({ ok: false, records: 1, problem: { line: 2, seq: 2 } });
  });

  it("property: removing, duplicating or altering any one record of an intact log is detected", async () => {
    const { home: source } = await logOf(8);
    const original = linesOf(source);
    const head = readFileSync(headPath(source), "utf8");
    const home = newDir();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: original.length - 1 }),
        fc.constantFrom("remove", "duplicate", "alter", "swap"),
        fc.constantFrom("action", "target", "outcome", "detail", "user", "host", "time", "prev", "hash"),
        (i, kind, field) => {
          const lines = [...original];
          if (kind === "remove") lines.splice(i, 1);
          else if (kind === "duplicate") lines.splice(i, 0, lines[i]!);
          else if (kind === "swap") {
            const j = i === lines.length - 1 ? i - 1 : i + 1;
            [lines[i], lines[j]] = [lines[j]!, lines[i]!];
          } else {
            const r = JSON.parse(lines[i]!) as Record<string, unknown>;
            r[field] = field === "outcome" ? (r[field] === "forced" ? "allowed" : "forced") : `${String(r[field])}x`;
            lines[i] = JSON.stringify(r);
          }
          writeLines(home, lines);
          writeFileSync(headPath(home), head);
          expect(verifyAudit(home).ok, `${kind} ${field} at ${i}`).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
    writeLines(home, original);
    expect(verifyAudit(home).ok).toBe(true);
    expect(existsSync(headPath(home))).toBe(true);
  });
});

describe("verifyAudit: fields outside the fixed set", () => {
  it("detects a field added to a record, or one removed", async () => {
    const { home, records } = await logOf(3);
    const path = join(home, "audit.jsonl");
    const lines = readFileSync(path, "utf8").trim().split("\n");
    const added = { ...records[1]!, approved_by: "someone" };
    writeFileSync(path, [lines[0], JSON.stringify(added), lines[2]].join("\n") + "\n");
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { seq: 2 } });
    const { detail: _d, ...removed } = records[1]!;
    writeFileSync(path, [lines[0], JSON.stringify(removed), lines[2]].join("\n") + "\n");
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { seq: 2 } });
  });
});
