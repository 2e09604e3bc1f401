import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AuditOutcome, AuditRecord } from "../../src/security/audit-log.js";
import { appendAudit, auditHash, auditLogState, currentAnchor, readAudit, verifyAudit } from "../../src/security/audit-log.js";
import { BackendError } from "../../src/core/errors.js";
import type { ExpflowError } from "../../src/core/errors.js";
import { readPinFile } from "../../src/security/pin-file.js";
import { rejectionOf, setPin, T0, tempDirs, testClock, thrownBy } from "./helpers.js";

const newDir = tempDirs();
const GENESIS = "0".repeat(64);
const OUTCOMES: AuditOutcome[] = ["allowed", "denied", "forced", "locked", "no-pin", "requested", "expired"];

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
    expect(verifyAudit(home)).toEqual({ ok: true, records: 6, problem: null, problems: [], notes: [] });
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

  it("after a torn last line (a crash mid-write) the next write starts on a fresh line, records the damage first, and verification names the torn line", async () => {
    const { home, records } = await logOf(3);
    appendFileSync(logPath(home), '{"seq":4,"time":"20');
    const next = await appendAudit(home, { action: "x", target: "y", outcome: "denied" }, { now: () => new Date(T0), user: "u", host: "h" });
    const lines = linesOf(home);
    expect(lines).toHaveLength(6);
    expect(lines[3]).toBe('{"seq":4,"time":"20');
    const damage = JSON.parse(lines[4]!) as AuditRecord;
    expect(damage).toMatchObject({ seq: 4, action: "audit.damage", outcome: "damaged", prev: records[2]!.hash });
    expect(damage.detail).toMatch(/last line of the log was not a valid record/);
    expect(JSON.parse(lines[5]!)).toEqual(next);
    expect(next).toMatchObject({ seq: 5, prev: damage.hash });
    expect(readAudit(home)).toHaveLength(5);
    const v = verifyAudit(home);
    expect(v).toMatchObject({ ok: false, problem: { line: 4 } });
    expect(v.problems).toContainEqual(expect.objectContaining({ line: 5, seq: 4, reason: expect.stringMatching(/recorded damage/) }));
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
    expect(verifyAudit(newDir())).toEqual({ ok: true, records: 0, problem: null, problems: [], notes: [] });
  });

  it("is ok for an intact log of any length", async () => {
    for (const n of [1, 2, 17]) {
      const { home } = await logOf(n);
      expect(verifyAudit(home)).toEqual({ ok: true, records: n, problem: null, problems: [], notes: [] });
    }
  });

  it("is ok for an empty log file without a head: there is nothing to anchor (a crash between creating the file and the first write)", () => {
    const home = newDir();
    writeFileSync(logPath(home), "", { mode: 0o600 });
    expect(verifyAudit(home)).toEqual({ ok: true, records: 0, problem: null, problems: [], notes: [] });
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
    // Verification reads on past the first problem (it lists them all): every record is counted.
    expect(v.records).toBe(N);
    expect(v.problems).toHaveLength(1);
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
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { seq: 5, reason: expect.stringMatching(/anchor/) } });
  });

  it("a middle record removed", async () => {
    const { home } = await logOf(N);
    const lines = linesOf(home);
    writeLines(home, [...lines.slice(0, 2), ...lines.slice(3)]);
    const v = verifyAudit(home);
    expect(v).toMatchObject({ ok: false, records: N - 1, problem: { line: 3, seq: 4 } });
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
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { seq: N - 1, reason: expect.stringMatching(/records 4-5 were removed from the end/) } });
  });

  it("every record removed (the log file deleted, the head left)", async () => {
    const { home } = await logOf(N);
    rmSync(logPath(home));
    const v = verifyAudit(home);
    expect(v).toMatchObject({ ok: false, records: 0, problem: { reason: expect.stringMatching(/audit\.jsonl is missing/) } });
    expect(v.problems).toContainEqual(expect.objectContaining({ seq: 1, reason: expect.stringMatching(/records 1-5 were removed/) }));
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
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { reason: expect.stringMatching(/audit\.head is damaged/) } });
  });

  it("a head whose hash does not match the record it anchors", async () => {
    const { home, records } = await logOf(N);
    writeFileSync(headPath(home), JSON.stringify({ seq: N, hash: records[N - 1]!.hash.replace(/^./, (c) => (c === "0" ? "1" : "0")) }));
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { seq: N, reason: expect.stringMatching(/anchor/) } });
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

  it("every one of several problems is listed, in the order of the log; `problem` is the first", async () => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    rs[1] = { ...rs[1]!, detail: "first" };
    rs[3] = { ...rs[3]!, detail: "second" };
    writeRecords(home, rs);
    rmSync(headPath(home));
    const v = verifyAudit(home);
    expect(v).toMatchObject({ ok: false, records: N, problem: { line: 2, seq: 2 } });
    expect(v.problems).toEqual([
      { line: 2, seq: 2, reason: expect.stringMatching(/record 2 was altered/) },
      { line: 4, seq: 4, reason: expect.stringMatching(/record 4 was altered/) },
      { line: null, seq: null, reason: expect.stringMatching(/audit\.head is missing/) },
    ]);
    expect(v.problem).toEqual(v.problems[0]);
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

const actor = (user = "u"): { now: () => Date; user: string; host: string } => ({ now: () => new Date(T0), user, host: "h" });
const append = (home: string, action = "act.next"): Promise<AuditRecord> => appendAudit(home, { action, target: "t", outcome: "allowed" }, actor());
const headOf = (home: string): unknown => JSON.parse(readFileSync(headPath(home), "utf8"));
const reasons = (home: string): string[] => verifyAudit(home).problems.map((p) => p.reason);

/** Problems found before a write: the damaged records the write added, their details. */
function damageDetails(home: string): string[] {
  return readAudit(home)
    .filter((r) => r.outcome === "damaged")
    .map((r) => r.detail ?? "");
}

describe("appendAudit: damage found before a write is recorded first, and verification keeps failing", () => {
  const N = 5;

  it.each([
    [1, /record 5 was missing from the end \(the log ended at record 4, the head anchor at 5\)/],
    [2, /records 4-5 were missing from the end \(the log ended at record 3, the head anchor at 5\)/],
    [N, /the audit log was empty: records 1-5 gone \(the head anchor knew of record 5\)/],
  ] as [number, RegExp][])("the last %i record(s) truncated: the next append records what is missing; verify reports the gap and the damage", async (k, found) => {
    const { home, records } = await logOf(N);
    writeLines(home, linesOf(home).slice(0, N - k));
    expect(verifyAudit(home).ok).toBe(false);
    const next = await append(home);
    const v = verifyAudit(home);
    expect(v.ok).toBe(false);
    const all = readAudit(home);
    expect(all.slice(N - k).map((r) => [r.seq, r.action, r.outcome])).toEqual([
      [N + 1, "audit.damage", "damaged"],
      [N + 2, "act.next", "allowed"],
    ]);
    // The new records chain on to the last record the head knew of, so the gap stays visible.
    expect(all[N - k]!.prev).toBe(records[N - 1]!.hash);
    expect(next).toMatchObject({ seq: N + 2 });
    expect(damageDetails(home)).toEqual([expect.stringMatching(found)]);
    expect(v.problems).toContainEqual(expect.objectContaining({ reason: expect.stringMatching(/removed/) }));
    expect(v.problems).toContainEqual(expect.objectContaining({ seq: N + 1, reason: expect.stringMatching(/recorded damage/) }));
    // And for good: further appends change nothing about that.
    for (let i = 0; i < 3; i++) await append(home);
    expect(verifyAudit(home).ok).toBe(false);
    expect(damageDetails(home)).toHaveLength(1);
  });

  it.each([
    ["deleted", (home: string) => rmSync(headPath(home)), /the head anchor was missing \(the log ends at record 5\)/],
    ["damaged", (home: string) => writeFileSync(headPath(home), "{{{"), /the head anchor was damaged \(the log ends at record 5\)/],
  ] as [string, (home: string) => void, RegExp][])("audit.head %s: verify fails; after one more append it still fails, naming the damaged record", async (_n, tamper, found) => {
    const { home } = await logOf(N);
    tamper(home);
    expect(verifyAudit(home).ok).toBe(false);
    await append(home);
    const v = verifyAudit(home);
    expect(v.ok).toBe(false);
    expect(damageDetails(home)).toEqual([expect.stringMatching(found)]);
    expect(v.problems).toEqual([expect.objectContaining({ line: N + 1, seq: N + 1, reason: expect.stringMatching(found) })]);
  });

  it("audit.jsonl emptied: verify fails; after one more append it still fails (the gap from record 1 and the damaged record)", async () => {
    const { home } = await logOf(N);
    writeFileSync(logPath(home), "");
    expect(verifyAudit(home)).toMatchObject({ ok: false, problem: { reason: expect.stringMatching(/is empty/) } });
    await append(home);
    const v = verifyAudit(home);
    expect(v.ok).toBe(false);
    expect(reasons(home)).toEqual([expect.stringMatching(/records 1-5 were removed/), expect.stringMatching(/recorded damage.*the audit log was empty: records 1-5 gone \(the head anchor knew of record 5\)/)]);
  });

  it("audit.jsonl and audit.head both deleted while a PIN file anchors the log: verify fails; after one more append it still fails", async () => {
    const home = newDir();
    await setPin(home, "1234");
    for (let i = 0; i < N; i++) await append(home, `act.${i}`);
    const anchor = readPinFile(home)?.meta?.audit;
    expect(anchor).toMatchObject({ seq: N, hash: readAudit(home)[N - 1]!.hash, first: readAudit(home)[0]!.hash });
    rmSync(logPath(home));
    rmSync(headPath(home));
    const before = verifyAudit(home);
    expect(before.ok).toBe(false);
    expect(before.problems.map((p) => p.reason)).toEqual([expect.stringMatching(/audit\.jsonl is missing \(the PIN file knew of record 5\)/), expect.stringMatching(/audit\.head is missing/)]);
    await append(home);
    const v = verifyAudit(home);
    expect(v.ok).toBe(false);
    expect(readAudit(home).map((r) => [r.seq, r.outcome])).toEqual([
      [N + 1, "damaged"],
      [N + 2, "allowed"],
    ]);
    expect(damageDetails(home)[0]).toMatch(/the audit log was missing: records 1-5 gone \(the PIN file knew of record 5\); the head anchor was missing/);
    expect(reasons(home)).toEqual([expect.stringMatching(/records 1-5 were removed/), expect.stringMatching(/recorded damage/)]);
  });

  it("the last record altered: the next append records it; verify reports the altered record and the damage", async () => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    rs[N - 1] = { ...rs[N - 1]!, outcome: "allowed", detail: "forged" };
    writeRecords(home, rs);
    await append(home);
    expect(damageDetails(home)).toEqual([expect.stringMatching(/record 5, the last one, was altered/)]);
    expect(reasons(home)).toEqual([expect.stringMatching(/record 5 was altered/), expect.stringMatching(/recorded damage/)]);
  });

  it("the last record replaced with a recomputed hash: the next append records that it no longer matches the head", async () => {
    const { home } = await logOf(N);
    const rs = recordsOf(home);
    rs[N - 1] = rehash({ ...rs[N - 1]!, outcome: "allowed", detail: "forged" });
    writeRecords(home, rs);
    await append(home);
    expect(damageDetails(home)).toEqual([expect.stringMatching(/record 5, the last one, does not match the head anchor/)]);
    expect(verifyAudit(home).ok).toBe(false);
  });

  it("a forged, correctly chained record after the head: verify says unconfirmed; the next append records it as damage and verify keeps failing", async () => {
    const { home, records } = await logOf(N);
    const forged = rehash({ ...records[N - 1]!, seq: N + 1, prev: records[N - 1]!.hash, action: "run.delete", outcome: "allowed", detail: "PIN verified" });
    appendFileSync(logPath(home), `${JSON.stringify(forged)}\n`);
    const v1 = verifyAudit(home);
    expect(v1).toMatchObject({ ok: false, records: N + 1 });
    expect(v1.problems).toEqual([expect.objectContaining({ seq: N + 1, reason: expect.stringMatching(/record 6 after the head anchor \(record 5\) is unconfirmed: not written by expflow/) })]);
    const next = await append(home);
    expect(readAudit(home).slice(N + 1).map((r) => [r.seq, r.outcome, r.prev])).toEqual([
      [N + 2, "damaged", forged.hash],
      [N + 3, "allowed", readAudit(home)[N + 1]!.hash],
    ]);
    expect(next.seq).toBe(N + 3);
    expect(damageDetails(home)).toEqual([expect.stringMatching(/record 6 followed the head anchor \(record 5\) and matches no write expflow announced: unconfirmed/)]);
    expect(verifyAudit(home).ok).toBe(false);
    await append(home);
    expect(verifyAudit(home).ok).toBe(false);
  });

  it("a crash between the append and the head update (the head still announces the write): verify says unconfirmed; the next append confirms it and verify passes with a note", async () => {
    const { home, records } = await logOf(N);
    const remnant = await append(home, "act.crashed");
    // What a crash after step 2 leaves: the record written, the head as step 1 announced it.
    writeFileSync(headPath(home), `${JSON.stringify({ seq: N, hash: records[N - 1]!.hash, next: { seq: N + 1, hash: remnant.hash } })}\n`);
    const v1 = verifyAudit(home);
    expect(v1.ok).toBe(false);
    expect(v1.problems).toEqual([expect.objectContaining({ seq: N + 1, reason: expect.stringMatching(/record 6 after the head anchor \(record 5\) is unconfirmed: it matches the write the anchor announced/) })]);
    const next = await append(home);
    const tail = readAudit(home).slice(N + 1);
    expect(tail.map((r) => [r.seq, r.action, r.outcome, r.prev])).toEqual([
      [N + 2, "audit.remnant", "confirmed", remnant.hash],
      [N + 3, "act.next", "allowed", tail[0]!.hash],
    ]);
    expect(next.seq).toBe(N + 3);
    expect(tail[0]!.detail).toMatch(/record 6 after the head anchor \(record 5\) .*remains of a write interrupted.*confirmed/);
    const v2 = verifyAudit(home);
    expect(v2).toMatchObject({ ok: true, records: N + 3, problems: [] });
    expect(v2.notes).toEqual([expect.stringMatching(/^record 7 \(.*\): record 6 after the head anchor/)]);
    expect(headOf(home)).toEqual({ seq: N + 3, hash: next.hash });
  });

  it("a head announcing a different write than the records after it: not confirmed, recorded as damage", async () => {
    const { home, records } = await logOf(N);
    const remnant = await append(home, "act.crashed");
    writeFileSync(headPath(home), JSON.stringify({ seq: N, hash: records[N - 1]!.hash, next: { seq: N + 1, hash: remnant.hash.replace(/^./, (c) => (c === "a" ? "b" : "a")) } }));
    expect(reasons(home)).toEqual([expect.stringMatching(/unconfirmed: not written by expflow/)]);
    await append(home);
    expect(readAudit(home).some((r) => r.outcome === "confirmed")).toBe(false);
    expect(damageDetails(home)).toHaveLength(1);
    expect(verifyAudit(home).ok).toBe(false);
  });

  it("an intact log gets no damage or remnant records: one record per append", async () => {
    const { home } = await logOf(3);
    await append(home);
    expect(readAudit(home).map((r) => r.outcome)).not.toContain("damaged");
    expect(verifyAudit(home)).toMatchObject({ ok: true, records: 4, problems: [], notes: [] });
  });
});

describe("verifyAudit: the PIN file's anchor", () => {
  const N = 4;

  async function anchoredLog(): Promise<{ home: string; records: AuditRecord[] }> {
    const home = newDir();
    await setPin(home, "1234");
    const records: AuditRecord[] = [];
    for (let i = 1; i <= N; i++) records.push(await append(home, `act.${i}`));
    return { home, records };
  }

  it("every append brings the anchor up to date: the log's first record and its newest", async () => {
    const { home, records } = await anchoredLog();
    expect(readPinFile(home)?.meta?.audit).toEqual({ first: records[0]!.hash, seq: N, hash: records[N - 1]!.hash });
    expect(verifyAudit(home)).toMatchObject({ ok: true, problems: [] });
  });

  it("the last records truncated and the head rewritten to match: the anchored record is missing", async () => {
    const { home, records } = await anchoredLog();
    writeLines(home, linesOf(home).slice(0, 2));
    writeFileSync(headPath(home), JSON.stringify({ seq: 2, hash: records[1]!.hash }));
    expect(reasons(home)).toEqual([expect.stringMatching(/record 4, which the PIN file anchors, is missing/)]);
    await append(home);
    expect(damageDetails(home)).toEqual([expect.stringMatching(/records 3-4 were missing \(the PIN file knew of record 4\)/)]);
    expect(verifyAudit(home).ok).toBe(false);
  });

  it("the whole log replaced by another consistent chain (with its own head): the first record and the anchored record do not match", async () => {
    const { home } = await anchoredLog();
    const { home: other } = await logOf(N);
    writeFileSync(logPath(home), readFileSync(logPath(other)));
    writeFileSync(headPath(home), readFileSync(headPath(other)));
    expect(reasons(home)).toEqual([expect.stringMatching(/record 4 does not match the PIN file's anchor/), expect.stringMatching(/first record is not the one the PIN file names/)]);
  });

  it("a damaged PIN file is reported: the anchor cannot be checked", async () => {
    const { home } = await anchoredLog();
    writeFileSync(join(home, "pin.hash"), `${readFileSync(join(home, "pin.hash"), "utf8").split("\n")[0]}\n{broken\n`);
    expect(reasons(home)).toEqual([expect.stringMatching(/PIN file .* is damaged/)]);
  });
});

describe("audit files that are not regular files", () => {
  const replaceByDirectory = (path: string): void => {
    rmSync(path);
    mkdirSync(path);
  };
  it.each([
    ["audit.jsonl is a directory", "log", (home: string) => replaceByDirectory(logPath(home)), /audit\.jsonl cannot be used: it is a directory/],
    ["audit.head is a directory", "head", (home: string) => replaceByDirectory(headPath(home)), /audit\.head cannot be used: it is a directory/],
    [
      "audit.jsonl is a symbolic link",
      "log",
      (home: string) => {
        const elsewhere = join(newDir(), "log.jsonl");
        writeFileSync(elsewhere, readFileSync(logPath(home)));
        rmSync(logPath(home));
        symlinkSync(elsewhere, logPath(home));
      },
      /audit\.jsonl cannot be used: it is a symbolic link/,
    ],
  ] as [string, "log" | "head", (home: string) => void, RegExp][])("%s: appendAudit and verifyAudit (and readers of the log) throw BackendError E_AUDIT_UNREADABLE (exit 4), never a plain Error; nothing is written", async (_n, which, tamper, message) => {
    const { home } = await logOf(3);
    tamper(home);
    const snapshot = (): string => readdirSync(home).sort().map((f) => `${f}:${statSync(join(home, f)).isFile() ? readFileSync(join(home, f), "utf8") : "<not a file>"}`).join("|");
    const before = snapshot();
    const logReaders = which === "log" ? [thrownBy(() => readAudit(home)), thrownBy(() => auditLogState(home)), thrownBy(() => currentAnchor(home))] : [];
    for (const e of [await rejectionOf(append(home)), thrownBy(() => verifyAudit(home)), ...logReaders]) {
      expect(e).toBeInstanceOf(BackendError);
      expect(e).toMatchObject({ code: "E_AUDIT_UNREADABLE", exitCode: 4 });
      expect((e as Error).message).toMatch(message);
    }
    expect(snapshot()).toBe(before);
  });

  it("a home below a regular file (it cannot be created): BackendError E_AUDIT_WRITE (exit 4), not a raw ENOTDIR", async () => {
    const file = join(newDir(), "not-a-dir");
    writeFileSync(file, "");
    const e = await rejectionOf(append(join(file, "home")));
    expect(e).toBeInstanceOf(BackendError);
    expect(e).toMatchObject({ code: "E_AUDIT_WRITE", exitCode: 4 });
    expect((e as ExpflowError).hint).toMatch(/left as it was/);
  });
});

describe("auditLogState and currentAnchor", () => {
  it("auditLogState: missing, empty, present", async () => {
    const home = newDir();
    expect(auditLogState(home)).toBe("missing");
    writeFileSync(logPath(home), "");
    expect(auditLogState(home)).toBe("empty");
    await append(home);
    expect(auditLogState(home)).toBe("present");
  });

  it("currentAnchor: null without records; else the first record's hash and the last record", async () => {
    const home = newDir();
    expect(currentAnchor(home)).toBeNull();
    writeFileSync(logPath(home), "");
    expect(currentAnchor(home)).toBeNull();
    const a = await append(home);
    expect(currentAnchor(home)).toEqual({ first: a.hash, seq: 1, hash: a.hash });
    await append(home);
    const c = await append(home);
    expect(currentAnchor(home)).toEqual({ first: a.hash, seq: 3, hash: c.hash });
  });
});

describe("property: tampering is never healed by later appends", () => {
  type Tamper = "truncate" | "delete-head" | "damage-head" | "empty-log" | "forge-after-head" | "delete-both" | "truncate-and-rewrite-head";

  function tamper(home: string, kind: Tamper, k: number): void {
    const lines = linesOf(home);
    const records = lines.map((l) => JSON.parse(l) as AuditRecord);
    const last = records.at(-1)!;
    switch (kind) {
      case "truncate":
        writeLines(home, lines.slice(0, Math.max(0, lines.length - k)));
        break;
      case "delete-head":
        rmSync(headPath(home));
        break;
      case "damage-head":
        writeFileSync(headPath(home), JSON.stringify({ seq: "x" }));
        break;
      case "empty-log":
        writeFileSync(logPath(home), "");
        break;
      case "forge-after-head":
        appendFileSync(logPath(home), `${JSON.stringify(rehash({ ...last, seq: last.seq + 1, prev: last.hash, action: "forged", outcome: "allowed" }))}\n`);
        break;
      case "delete-both":
        rmSync(logPath(home));
        rmSync(headPath(home));
        break;
      case "truncate-and-rewrite-head": {
        const keep = Math.max(1, lines.length - k);
        writeLines(home, lines.slice(0, keep));
        writeFileSync(headPath(home), JSON.stringify({ seq: records[keep - 1]!.seq, hash: records[keep - 1]!.hash }));
        break;
      }
    }
  }

  it("any appends, one tampering operation, then any number of appends: verify is not ok after the tampering and after each later append", async () => {
    const withoutPin: Tamper[] = ["truncate", "delete-head", "damage-head", "empty-log", "forge-after-head"];
    // Deleting the log with its head, or truncating it and fixing the head up, leaves nothing to
    // compare with but the PIN file's anchor: those need a PIN file.
    const withPin: Tamper[] = [...withoutPin, "delete-both", "truncate-and-rewrite-head"];
    const scenario = fc.boolean().chain((pin) =>
      fc.record({
        pin: fc.constant(pin),
        before: fc.integer({ min: 1, max: 5 }),
        kind: fc.constantFrom(...(pin ? withPin : withoutPin)),
        k: fc.integer({ min: 1, max: 5 }),
        after: fc.integer({ min: 0, max: 3 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(scenario, async ({ pin, before, kind, k, after }) => {
        const home = newDir();
        if (pin) await setPin(home, "1234");
        for (let i = 0; i < before; i++) await append(home, `before.${i}`);
        expect(verifyAudit(home).ok).toBe(true);
        // Removing records from the end of a log of one record, with its head fixed up, removes nothing.
        fc.pre(!(kind === "truncate-and-rewrite-head" && before === 1));
        tamper(home, kind, Math.min(k, before));
        expect(verifyAudit(home).ok, `${kind} after ${before}`).toBe(false);
        for (let i = 0; i < after; i++) {
          await append(home, `after.${i}`);
          const v = verifyAudit(home);
          expect(v.ok, `${kind} after ${before}, then ${i + 1} appends`).toBe(false);
          expect(v.problems.some((p) => /recorded damage/.test(p.reason)), `${kind}: the damage is recorded`).toBe(true);
        }
      }),
      { numRuns: 40 },
    );
  });
});
