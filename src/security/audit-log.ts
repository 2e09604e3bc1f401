import { closeSync, existsSync, fchmodSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ensurePrivateDir, writeFileAtomic } from "./files.js";
import { withLock } from "./lock.js";

/** What happened to a guarded action or a PIN verification. */
export type AuditOutcome = "allowed" | "denied" | "forced" | "locked" | "no-pin";

/** One line of `$EXPFLOW_HOME/audit.jsonl`. */
export interface AuditRecord {
  /** 1, 2, 3, ...: a gap or repeat shows a removed or inserted record. */
  readonly seq: number;
  /** ISO 8601 time. */
  readonly time: string;
  readonly user: string;
  readonly host: string;
  /** What was attempted: `pin.check`, `pin.init`, `pin.change`, `pin.clear`, `run.cancel`, ... */
  readonly action: string;
  /** What it was attempted on (an experiment id, `pin`). */
  readonly target: string;
  readonly outcome: AuditOutcome;
  /** A short human explanation, never the PIN. */
  readonly detail: string | null;
  /** The previous record's `hash` (64 zeros for the first record). */
  readonly prev: string;
  /** SHA-256 over this record's other fields and `prev`. */
  readonly hash: string;
}

/** What an append needs to know about the actor. */
export interface AuditActor {
  readonly now: () => Date;
  readonly user: string;
  readonly host: string;
}

export const AUDIT_FILE = "audit.jsonl";
const HEAD_FILE = "audit.head";
const GENESIS = "0".repeat(64);

/**
 * The record's hash: SHA-256 over every field but `hash` itself (keys sorted, so the result
 * does not depend on their order), `prev` included. A field added, removed or changed shows.
 */
export function auditHash(r: Omit<AuditRecord, "hash"> & Record<string, unknown>): string {
  const fields = Object.keys(r)
    .filter((k) => k !== "hash")
    .sort()
    .map((k) => [k, (r as Record<string, unknown>)[k]]);
  return createHash("sha256").update(JSON.stringify(fields), "utf8").digest("hex");
}

function readLastLine(path: string): { text: string; endsWithNewline: boolean } | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return undefined;
    let chunk = 4096;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const text = buf.toString("utf8");
      const endsWithNewline = text.endsWith("\n");
      const body = endsWithNewline ? text.slice(0, -1) : text;
      const nl = body.lastIndexOf("\n");
      if (nl >= 0 || start === 0) return { text: body.slice(nl + 1), endsWithNewline };
      chunk *= 4;
    }
  } finally {
    closeSync(fd);
  }
}

function readHead(home: string): { seq: number; hash: string } | undefined {
  try {
    const h = JSON.parse(readFileSync(join(home, HEAD_FILE), "utf8")) as { seq?: unknown; hash?: unknown };
    if (Number.isSafeInteger(h.seq) && (h.seq as number) >= 1 && typeof h.hash === "string" && /^[0-9a-f]{64}$/.test(h.hash)) {
      return { seq: h.seq as number, hash: h.hash };
    }
  } catch {
    // missing or damaged: verification reports it
  }
  return undefined;
}

/**
 * Appends one record to the audit log, chained to the previous one, under an inter-process
 * lock so concurrent processes never interleave or fork the chain. The line is one write,
 * fsynced; then the head anchor (`audit.head`: last seq and hash) is replaced atomically, so
 * removing the last record is detectable too.
 */
export async function appendAudit(
  home: string,
  entry: { action: string; target: string; outcome: AuditOutcome; detail?: string | null },
  actor: AuditActor,
): Promise<AuditRecord> {
  ensurePrivateDir(home);
  return withLock(home, "audit", () => {
    const path = join(home, AUDIT_FILE);
    const last = readLastLine(path);
    let prev = GENESIS;
    let seq = 1;
    let parsedLast: Partial<AuditRecord> | undefined;
    try {
      parsedLast = last ? (JSON.parse(last.text) as Partial<AuditRecord>) : undefined;
    } catch {
      parsedLast = undefined;
    }
    if (parsedLast && typeof parsedLast.hash === "string" && typeof parsedLast.seq === "number") {
      prev = parsedLast.hash;
      seq = parsedLast.seq + 1;
    } else if (last) {
      // A torn or damaged last line: chain from the anchor; verification will name the damage.
      const head = readHead(home);
      if (head) {
        prev = head.hash;
        seq = head.seq + 1;
      }
    }
    const base = {
      seq,
      time: actor.now().toISOString(),
      user: actor.user,
      host: actor.host,
      action: entry.action,
      target: entry.target,
      outcome: entry.outcome,
      detail: entry.detail ?? null,
      prev,
    };
    const record: AuditRecord = { ...base, hash: auditHash(base) };
    const fd = openSync(path, "a", 0o600);
    try {
      fchmodSync(fd, 0o600); // also for a log that existed with looser permissions
      // Start on a fresh line if a crash left the last one unterminated.
      const lead = last && !last.endsWithNewline ? "\n" : "";
      writeSync(fd, `${lead}${JSON.stringify(record)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    writeFileAtomic(join(home, HEAD_FILE), `${JSON.stringify({ seq: record.seq, hash: record.hash })}\n`);
    return record;
  });
}

/** The outcome of {@link verifyAudit}. */
export interface AuditVerification {
  readonly ok: boolean;
  /** Records read. */
  readonly records: number;
  /** The first problem: the line (1-based) and seq concerned, and what is wrong. */
  readonly problem: { line: number | null; seq: number | null; reason: string } | null;
}

/** Reads every record of the log (damaged lines are skipped; `verifyAudit` reports them). */
export function readAudit(home: string): AuditRecord[] {
  const path = join(home, AUDIT_FILE);
  if (!existsSync(path)) return [];
  const out: AuditRecord[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as AuditRecord);
    } catch {
      // skipped
    }
  }
  return out;
}

/**
 * Verifies the hash chain: every record's hash, its link to the previous record, the sequence
 * (no gaps or repeats), and the head anchor (nothing removed from the end).
 */
export function verifyAudit(home: string): AuditVerification {
  const path = join(home, AUDIT_FILE);
  const head = readHead(home);
  const exists = existsSync(path);
  if (!exists && head === undefined) return { ok: true, records: 0, problem: null };
  const lines = exists ? readFileSync(path, "utf8").split("\n") : [];
  if (lines.at(-1) === "") lines.pop();
  // An empty log without an anchor: a crash before the first record was written.
  if (lines.length === 0 && head === undefined) return { ok: true, records: 0, problem: null };
  let prev = GENESIS;
  let expected = 1;
  let count = 0;
  const fail = (line: number | null, seq: number | null, reason: string): AuditVerification => ({ ok: false, records: count, problem: { line, seq, reason } });
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let r: AuditRecord;
    try {
      r = JSON.parse(lines[i]!) as AuditRecord;
    } catch {
      return fail(lineNo, expected, `line ${lineNo} is not a valid record (altered or damaged)`);
    }
    if (r === null || typeof r !== "object" || typeof r.seq !== "number" || typeof r.hash !== "string") {
      return fail(lineNo, expected, `line ${lineNo} is not a valid record (altered or damaged)`);
    }
    if (r.seq !== expected) {
      return fail(
        lineNo,
        r.seq,
        r.seq > expected
          ? `record ${expected}${r.seq - expected > 1 ? `-${r.seq - 1}` : ""} was removed (line ${lineNo} holds record ${r.seq})`
          : `line ${lineNo} holds record ${r.seq} where record ${expected} belongs: inserted or duplicated`,
      );
    }
    if (r.prev !== prev) return fail(lineNo, r.seq, `record ${r.seq} does not follow record ${r.seq - 1}: a record was removed, inserted or altered before it`);
    const { hash, ...rest } = r;
    if (auditHash(rest) !== hash) return fail(lineNo, r.seq, `record ${r.seq} was altered (its hash does not match its content)`);
    prev = hash;
    expected++;
    count++;
  }
  if (head === undefined) return fail(null, null, `the head anchor ${join(home, HEAD_FILE)} is missing or damaged`);
  if (head.seq > count) {
    return fail(null, count + 1, `record ${count + 1}${head.seq > count + 1 ? `-${head.seq}` : ""} was removed from the end (the log ends at record ${count}, the anchor at ${head.seq})`);
  }
  // One record past the anchor is the window between an append and its anchor update (a
  // crash there); more than one was not written by expflow.
  if (count > head.seq + 1) {
    return fail(head.seq + 2, head.seq + 2, `records ${head.seq + 2}-${count} follow the head anchor (record ${head.seq}): inserted after the fact`);
  }
  // The anchored record itself must match.
  if (head.seq >= 1) {
    const anchored = JSON.parse(lines[head.seq - 1]!) as AuditRecord;
    if (anchored.hash !== head.hash) return fail(head.seq, head.seq, `record ${head.seq} was altered (it does not match the head anchor)`);
  }
  return { ok: true, records: count, problem: null };
}
