import { closeSync, fstatSync, lstatSync, openSync, readFileSync, readSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BackendError, ExpflowError } from "../core/errors.js";
import type { PendingAppend } from "../util/append-file.js";
import { appendTextUnsynced } from "../util/append-file.js";
import { forEachLine } from "../util/jsonl.js";
import { ensurePrivateDir, writeFileAtomic } from "../util/private-files.js";
import { withLock } from "../util/lock.js";
import type { AuditAnchor } from "./pin-file.js";
import { readPinFile, writePinFile } from "./pin-file.js";

/**
 * What happened to a guarded action, a PIN verification or a PIN operation:
 * - `allowed`, `denied`, `forced`, `locked`, `no-pin`: the guard's decisions;
 * - `done`, `failed`: how an operation on the protection itself ended (`pin init`, `pin change`,
 *   `pin clear`, `pin policy`), with the reason of a failure;
 * - `damaged`: written by expflow itself before it chains onto a log it found damaged, saying
 *   what it found; it keeps `audit log --verify` failing for good;
 * - `confirmed`: written by expflow itself when records after the head anchor are the remains of
 *   one of its own writes interrupted by a crash (they match the write the anchor announced);
 * - `requested`, `expired`: an approval request (`app/approvals.ts`) made by an agent, and one
 *   that nobody approved or denied in time. Its approval is `done` or `failed`, its denial `denied`.
 */
export type AuditOutcome = "allowed" | "denied" | "forced" | "locked" | "no-pin" | "done" | "failed" | "damaged" | "confirmed" | "requested" | "expired";

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
export const HEAD_FILE = "audit.head";
const GENESIS = "0".repeat(64);
const HEX64 = /^[0-9a-f]{64}$/;

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

function unreadable(path: string, why: string): BackendError {
  return new BackendError("E_AUDIT_UNREADABLE", `the audit log file ${path} cannot be used: ${why}`, {
    hint: "restore it as a regular file readable and writable by you (or move it aside: the next write records what is missing)",
  });
}

/** `false` when `path` does not exist; `true` for a regular file. @throws {BackendError} otherwise. */
function regularFile(path: string): boolean {
  try {
    const st = lstatSync(path);
    if (st.isFile()) return true;
    throw unreadable(path, st.isDirectory() ? "it is a directory" : st.isSymbolicLink() ? "it is a symbolic link" : "it is not a regular file");
  } catch (e) {
    if (e instanceof BackendError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return false;
    throw unreadable(path, code ?? (e as Error).message);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw unreadable(path, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
}

/** The head anchor: the last record's seq and hash, and the write in progress (if any). */
interface Head {
  readonly seq: number;
  readonly hash: string;
  /** Announced before an append: the last record that append will write. */
  readonly next?: { readonly seq: number; readonly hash: string } | undefined;
}

type HeadState = { state: "missing" } | { state: "damaged" } | { state: "ok"; head: Head };

function readHead(home: string): HeadState {
  const path = join(home, HEAD_FILE);
  if (!regularFile(path)) return { state: "missing" };
  try {
    const h = JSON.parse(readText(path)) as { seq?: unknown; hash?: unknown; next?: { seq?: unknown; hash?: unknown } };
    const okSeq = (s: unknown): s is number => Number.isSafeInteger(s) && (s as number) >= 0;
    if (okSeq(h.seq) && typeof h.hash === "string" && HEX64.test(h.hash)) {
      const n = h.next;
      const next = n && okSeq(n.seq) && typeof n.hash === "string" && HEX64.test(n.hash) ? { seq: n.seq, hash: n.hash } : undefined;
      return { state: "ok", head: { seq: h.seq, hash: h.hash, next } };
    }
  } catch (e) {
    if (e instanceof BackendError) throw e;
  }
  return { state: "damaged" };
}

function writeHead(home: string, head: Head): void {
  writeFileAtomic(join(home, HEAD_FILE), `${JSON.stringify(head)}\n`);
}

/** A structurally valid record, or `undefined`. */
function parseRecord(line: string): AuditRecord | undefined {
  try {
    const r = JSON.parse(line) as AuditRecord | null;
    if (r === null || typeof r !== "object" || !Number.isSafeInteger(r.seq) || typeof r.hash !== "string" || typeof r.prev !== "string") return undefined;
    return r;
  } catch {
    return undefined;
  }
}

function hashOk(r: AuditRecord): boolean {
  const { hash, ...rest } = r;
  return auditHash(rest) === hash;
}

/** The log's size, its first and last lines, and whether it ends with a line break. */
function readEnds(path: string): { size: number; first: string | undefined; last: string | undefined; endsWithNewline: boolean } {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return { size, first: undefined, last: undefined, endsWithNewline: true };
    const firstBuf = Buffer.alloc(Math.min(size, 64 * 1024));
    readSync(fd, firstBuf, 0, firstBuf.length, 0);
    const firstText = firstBuf.toString("utf8");
    const nl0 = firstText.indexOf("\n");
    const first = nl0 >= 0 ? firstText.slice(0, nl0) : size <= firstBuf.length ? firstText : undefined;
    let chunk = 4096;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const text = buf.toString("utf8");
      const endsWithNewline = text.endsWith("\n");
      const body = endsWithNewline ? text.slice(0, -1) : text;
      const nl = body.lastIndexOf("\n");
      if (nl >= 0 || start === 0) return { size, first, last: body.slice(nl + 1), endsWithNewline };
      chunk *= 4;
    }
  } finally {
    closeSync(fd);
  }
}

function range(from: number, to: number): string {
  return from === to ? `record ${from}` : `records ${from}-${to}`;
}

/** Where the next record chains on, and what was found wrong at the end of the log. */
interface ChainBase {
  readonly seq: number;
  readonly hash: string;
  readonly damage: string[];
  readonly remnant: string | undefined;
}

/**
 * Compares the end of the log with the head anchor and the PIN file's anchor, and decides where
 * the next record chains on. Whatever does not fit is reported in `damage`, for a `damaged`
 * record written before anything chains onto it: a write never heals damage silently.
 */
function chainBase(path: string, logExists: boolean, headState: HeadState, anchor: AuditAnchor | null): ChainBase {
  const ends = logExists ? readEnds(path) : { size: 0, first: undefined, last: undefined, endsWithNewline: true };
  const last = ends.last === undefined ? undefined : parseRecord(ends.last);
  const head = headState.state === "ok" ? headState.head : undefined;
  const damage: string[] = [];
  let remnant: string | undefined;
  let seq: number;
  let hash: string;
  if (ends.last === undefined) {
    // No record at all: a new log, or one that was emptied or removed.
    const known = head ?? (anchor ? { seq: anchor.seq, hash: anchor.hash } : undefined);
    if (known !== undefined && known.seq >= 1) {
      const what = !logExists ? `the audit log was missing` : `the audit log was empty`;
      damage.push(`${what}: ${range(1, known.seq)} gone (${head ? "the head anchor" : "the PIN file"} knew of record ${known.seq})`);
      if (head === undefined) damage.push(`the head anchor was ${headState.state}`);
    } else if (headState.state === "damaged") {
      damage.push("the head anchor was damaged");
    }
    seq = known?.seq ?? 0;
    hash = known?.hash ?? GENESIS;
  } else if (last === undefined) {
    damage.push("the last line of the log was not a valid record (torn or altered)");
    seq = head?.seq ?? anchor?.seq ?? 0;
    hash = head?.hash ?? anchor?.hash ?? GENESIS;
  } else {
    seq = last.seq;
    hash = last.hash;
    if (!hashOk(last)) damage.push(`record ${last.seq}, the last one, was altered (its hash does not match its content)`);
    if (head === undefined) {
      damage.push(headState.state === "damaged" ? `the head anchor was damaged (the log ends at record ${last.seq})` : `the head anchor was missing (the log ends at record ${last.seq})`);
    } else if (head.seq > last.seq) {
      damage.push(`${range(last.seq + 1, head.seq)} ${head.seq > last.seq + 1 ? "were" : "was"} missing from the end (the log ended at record ${last.seq}, the head anchor at ${head.seq})`);
      seq = head.seq;
      hash = head.hash;
    } else if (head.seq < last.seq) {
      if (head.next !== undefined && head.next.seq === last.seq && head.next.hash === last.hash) {
        remnant = `${range(head.seq + 1, last.seq)} after the head anchor (record ${head.seq}) are the remains of a write interrupted before its anchor was updated (they match the write it announced): confirmed`;
      } else {
        const many = last.seq > head.seq + 1;
        damage.push(`${range(head.seq + 1, last.seq)} followed the head anchor (record ${head.seq}) and ${many ? "match" : "matches"} no write expflow announced: unconfirmed, kept as found`);
      }
    } else if (head.hash !== last.hash) {
      damage.push(`record ${last.seq}, the last one, does not match the head anchor (altered or replaced)`);
    }
    if (anchor !== null && anchor.seq > Math.max(last.seq, head?.seq ?? 0)) {
      const from = Math.max(last.seq, head?.seq ?? 0) + 1;
      damage.push(`${range(from, anchor.seq)} ${anchor.seq > from ? "were" : "was"} missing (the PIN file knew of record ${anchor.seq})`);
      seq = anchor.seq;
      hash = anchor.hash;
    }
  }
  return { seq, hash, damage, remnant };
}

/** The file-system error under a typed one (the append's), for {@link writeFailure}'s words. */
function errnoOf(e: unknown): unknown {
  return e instanceof ExpflowError && e.cause !== undefined ? e.cause : e;
}

function writeFailure(path: string, e: unknown): BackendError {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === "ENOSPC" ? "no space left on device" : err.code === "EDQUOT" ? "disk quota exceeded" : (err.code ?? err.message);
  return new BackendError("E_AUDIT_WRITE", `${why} writing the audit log ${path}: the action was not performed`, {
    hint: "free some space (or fix the permissions) and run it again; the log was left as it was",
  });
}

/**
 * Appends one record to the audit log, chained to the previous one, under an inter-process
 * lock so concurrent processes never interleave or fork the chain.
 *
 * Before chaining, the end of the log is compared with the head anchor (`audit.head`) and with
 * the anchor in the PIN file: when records are missing, the log or the head is gone, or records
 * follow the head that expflow did not announce, a `damaged` record stating what was found is
 * written first (and remains, so verification keeps failing). Records after the head that match
 * the write the head announced are the remains of a crash: a `confirmed` record says so.
 *
 * A write is three steps, each leaving a consistent state if it fails: the head announces the
 * records to come (`next`); the records are appended in one write and fsynced (on failure the
 * log is truncated back); the head is moved to the last record (on failure the log is truncated
 * back). Then the PIN file's anchor is brought up to date.
 *
 * @returns the record appended for `entry`.
 * @throws {BackendError} `E_AUDIT_WRITE` (exit 4) when the record could not be written (the log
 *   is left as it was, so nothing is acknowledged without its record); `E_AUDIT_UNREADABLE`
 *   (exit 4) when the log or head is a directory, not a regular file, or unreadable.
 */
export async function appendAudit(
  home: string,
  entry: { action: string; target: string; outcome: AuditOutcome; detail?: string | null },
  actor: AuditActor,
): Promise<AuditRecord> {
  try {
    ensurePrivateDir(home);
  } catch (e) {
    if (e instanceof ExpflowError && e.code === "E_HOME_UNSAFE") throw e; // said as it is
    throw writeFailure(join(home, AUDIT_FILE), e instanceof ExpflowError && e.cause !== undefined ? e.cause : e);
  }
  return withLock(home, "audit", async () => {
    const path = join(home, AUDIT_FILE);
    const logExists = regularFile(path);
    const headState = readHead(home);
    let pin: ReturnType<typeof readPinFile>;
    try {
      pin = readPinFile(home);
    } catch {
      pin = undefined; // the guard fails closed on an unreadable PIN file; the log still records it
    }
    const anchor = pin?.meta?.audit ?? null;
    const base = chainBase(path, logExists, headState, anchor);
    const time = actor.now().toISOString();
    const records: AuditRecord[] = [];
    let prev = base.hash;
    let seq = base.seq;
    const add = (action: string, target: string, outcome: AuditOutcome, detail: string | null): AuditRecord => {
      const fields = { seq: ++seq, time, user: actor.user, host: actor.host, action, target, outcome, detail, prev };
      const record: AuditRecord = { ...fields, hash: auditHash(fields) };
      records.push(record);
      prev = record.hash;
      return record;
    };
    if (base.remnant !== undefined) add("audit.remnant", "audit", "confirmed", base.remnant);
    if (base.damage.length > 0) add("audit.damage", "audit", "damaged", `found before this write: ${base.damage.join("; ")}`);
    const record = add(entry.action, entry.target, entry.outcome, entry.detail ?? null);
    const final = records.at(-1)!;
    // Step 1: announce the write, so that its remains after a crash are recognised as ours.
    try {
      writeHead(home, { seq: base.seq, hash: base.hash, next: { seq: final.seq, hash: final.hash } });
    } catch (e) {
      throw writeFailure(join(home, HEAD_FILE), e);
    }
    // Step 2: the records, in one write, read back and fsynced; on failure nothing of them
    // stays (the one append of util/append-file.ts, which also starts on a fresh line after a
    // torn one, and sets the log's mode: a log restored with looser permissions is 0600 again).
    let pending: PendingAppend;
    try {
      pending = appendTextUnsynced(path, `${records.map((r) => JSON.stringify(r)).join("\n")}\n`, { mode: 0o600, chmod: 0o600 });
    } catch (e) {
      throw writeFailure(path, errnoOf(e));
    }
    // Takes the records back after a failed step and reports it; the announced head still
    // describes the log as it was (or, if even the truncation fails, the records as ours).
    const undo = (failedPath: string, e: unknown): BackendError => {
      pending.takeBack();
      return writeFailure(failedPath, errnoOf(e));
    };
    try {
      pending.sync();
    } catch (e) {
      throw undo(path, e);
    }
    // Step 3: the head moves to the last record; on failure the records are taken back.
    try {
      writeHead(home, { seq: final.seq, hash: final.hash });
    } catch (e) {
      throw undo(join(home, HEAD_FILE), e);
    }
    pending.close();
    if (pin !== undefined && pin.meta !== undefined) await refreshPinAnchor(home, path, final);
    return record;
  });
}

/**
 * Records the log's identity (its first record) and its newest record in the PIN file, under the
 * PIN lock. Best effort: an anchor that lags behind is still true (verification asks only that
 * the anchored record be there), so a failure here loses nothing.
 */
async function refreshPinAnchor(home: string, path: string, last: AuditRecord): Promise<void> {
  try {
    await withLock(home, "pin", () => {
      const pin = readPinFile(home);
      if (pin === undefined || pin.meta === undefined) return;
      const first = parseRecord(readEnds(path).first ?? "");
      if (first === undefined) return;
      writePinFile(home, pin.hash, { ...pin.meta, audit: { first: first.hash, seq: last.seq, hash: last.hash } });
    });
  } catch {
    // see above
  }
}

/**
 * Whether the log holds anything: `missing`, `empty` or `present`.
 *
 * @throws {BackendError} `E_AUDIT_UNREADABLE` (exit 4) when it is a directory or not a regular file.
 */
export function auditLogState(home: string): "missing" | "empty" | "present" {
  const path = join(home, AUDIT_FILE);
  if (!regularFile(path)) return "missing";
  return lstatSync(path).size === 0 ? "empty" : "present";
}

/**
 * The PIN file's anchor for the log as it is now (for `pin init`, which writes a new PIN file):
 * its first record and the one the head names. `null` for an empty or missing log.
 */
export function currentAnchor(home: string): AuditAnchor | null {
  const path = join(home, AUDIT_FILE);
  if (!regularFile(path)) return null;
  const ends = readEnds(path);
  const first = parseRecord(ends.first ?? "");
  const last = parseRecord(ends.last ?? "");
  if (first === undefined || last === undefined) return null;
  return { first: first.hash, seq: last.seq, hash: last.hash };
}

/** One thing wrong with the log, found by {@link verifyAudit}. */
export interface AuditProblem {
  /** The line (1-based) concerned, when there is one. */
  readonly line: number | null;
  /** The record's seq concerned, when known. */
  readonly seq: number | null;
  readonly reason: string;
}

/** The outcome of {@link verifyAudit}. */
export interface AuditVerification {
  readonly ok: boolean;
  /** Records read. */
  readonly records: number;
  /** The first problem (as `problems[0]`), or `null`. */
  readonly problem: AuditProblem | null;
  /** Every problem, in the order of the log; damage recorded by expflow stays here for good. */
  readonly problems: readonly AuditProblem[];
  /** What is not a problem but worth knowing (crash remnants confirmed by a later write). */
  readonly notes: readonly string[];
}

/**
 * Reads every record of the log (damaged lines are skipped; `verifyAudit` reports them).
 *
 * @throws {BackendError} `E_AUDIT_UNREADABLE` when the log is a directory or unreadable.
 */
export function readAudit(home: string): AuditRecord[] {
  const path = join(home, AUDIT_FILE);
  if (!regularFile(path)) return [];
  const out: AuditRecord[] = [];
  // The registry's scan: in chunks, blank lines skipped, a torn last line read as a line.
  try {
    forEachLine(path, (line) => {
      try {
        out.push(JSON.parse(line) as AuditRecord);
      } catch {
        // skipped
      }
    });
  } catch (e) {
    throw unreadable(path, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
  return out;
}

/**
 * Verifies the log: every record's hash, its link to the previous record, the sequence (no gaps
 * or repeats), the head anchor (nothing removed from the end, nothing added after it unconfirmed)
 * and the PIN file's anchor (the log's identity and a recent record, so that deleting the log and
 * its head together shows while a PIN is set). Damage that a later write recorded (`damaged`
 * records) is reported every time, beside what is still visible of it.
 *
 * @throws {BackendError} `E_AUDIT_UNREADABLE` (exit 4) when a file is a directory or unreadable.
 */
export function verifyAudit(home: string): AuditVerification {
  const path = join(home, AUDIT_FILE);
  const exists = regularFile(path);
  const headState = readHead(home);
  let anchor: AuditAnchor | null = null;
  let pinDamaged = false;
  try {
    const pin = readPinFile(home);
    if (pin !== undefined && pin.meta === undefined) pinDamaged = true;
    anchor = pin?.meta?.audit ?? null;
  } catch {
    pinDamaged = true;
  }
  const lines = exists ? readText(path).split("\n") : [];
  if (lines.at(-1) === "") lines.pop();
  const problems: AuditProblem[] = [];
  const notes: string[] = [];
  const problem = (line: number | null, seq: number | null, reason: string): void => {
    problems.push({ line, seq, reason });
  };
  if (pinDamaged) problem(null, null, `the PIN file ${join(home, "pin.hash")} is damaged, so the log's anchor cannot be checked`);
  if (lines.length === 0) {
    if (headState.state === "missing" && anchor === null) return finish(0);
    if (!exists) problem(null, null, `the audit log ${path} is missing${anchor ? ` (the PIN file knew of record ${anchor.seq})` : ""}`);
    else problem(null, null, `the audit log ${path} is empty${anchor ? ` (the PIN file knew of record ${anchor.seq})` : ""}`);
    if (headState.state !== "ok") problem(null, null, `the head anchor ${join(home, HEAD_FILE)} is ${headState.state}`);
    else problem(null, 1, `${range(1, headState.head.seq)} were removed (the head anchor is at record ${headState.head.seq})`);
    return finish(0);
  }
  let prev: string | null = GENESIS;
  let expected: number | null = 1;
  let count = 0;
  const bySeq = new Map<number, string>();
  let lastSeq = 0;
  let firstHash: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const r = parseRecord(lines[i]!);
    if (r === undefined) {
      problem(lineNo, expected, `line ${lineNo} is not a valid record (altered or damaged)`);
      prev = null;
      expected = null;
      continue;
    }
    if (i === 0) firstHash = r.hash;
    if (expected !== null && r.seq !== expected) {
      problem(
        lineNo,
        r.seq,
        r.seq > expected
          ? `${range(expected, r.seq - 1)} ${r.seq - expected > 1 ? "were" : "was"} removed (line ${lineNo} holds record ${r.seq})`
          : `line ${lineNo} holds record ${r.seq} where record ${expected} belongs: inserted or duplicated`,
      );
    } else if (prev !== null && r.prev !== prev) {
      problem(lineNo, r.seq, `record ${r.seq} does not follow record ${r.seq - 1}: a record was removed, inserted or altered before it`);
    }
    if (!hashOk(r)) problem(lineNo, r.seq, `record ${r.seq} was altered (its hash does not match its content)`);
    if (r.outcome === "damaged") problem(lineNo, r.seq, `record ${r.seq} (${r.time}) recorded damage that expflow found before writing it: ${String(r.detail ?? "").replace(/^found before this write: /, "")}`);
    if (r.outcome === "confirmed") notes.push(`record ${r.seq} (${r.time}): ${r.detail ?? ""}`);
    prev = r.hash;
    expected = r.seq + 1;
    bySeq.set(r.seq, r.hash);
    lastSeq = r.seq;
    count++;
  }
  if (headState.state !== "ok") {
    problem(null, null, `the head anchor ${join(home, HEAD_FILE)} is ${headState.state}`);
  } else {
    const head = headState.head;
    if (head.seq > lastSeq) {
      problem(null, lastSeq + 1, `${range(lastSeq + 1, head.seq)} ${head.seq > lastSeq + 1 ? "were" : "was"} removed from the end (the log ends at record ${lastSeq}, the anchor at ${head.seq})`);
    } else if (head.seq < lastSeq) {
      const matches = head.next !== undefined && head.next.seq === lastSeq && head.next.hash === bySeq.get(lastSeq);
      problem(
        head.seq + 1,
        head.seq + 1,
        matches
          ? `${range(head.seq + 1, lastSeq)} after the head anchor (record ${head.seq}) ${lastSeq > head.seq + 1 ? "are" : "is"} unconfirmed: ${lastSeq > head.seq + 1 ? "they match" : "it matches"} the write the anchor announced (a crash before the anchor was updated); the next write confirms it`
          : `${range(head.seq + 1, lastSeq)} after the head anchor (record ${head.seq}) ${lastSeq > head.seq + 1 ? "are" : "is"} unconfirmed: not written by expflow, or inserted after the fact`,
      );
    } else if (bySeq.get(head.seq) !== head.hash) {
      problem(null, head.seq, `record ${head.seq} was altered or replaced (it does not match the head anchor)`);
    }
  }
  if (anchor !== null) {
    if (!bySeq.has(anchor.seq)) problem(null, anchor.seq, `record ${anchor.seq}, which the PIN file anchors, is missing`);
    else if (bySeq.get(anchor.seq) !== anchor.hash) problem(null, anchor.seq, `record ${anchor.seq} does not match the PIN file's anchor (altered or replaced)`);
    if (firstHash !== null && firstHash !== anchor.first) problem(1, null, "the log's first record is not the one the PIN file names: the log was replaced or its start removed");
  }
  return finish(count);

  function finish(records: number): AuditVerification {
    return { ok: problems.length === 0, records, problem: problems[0] ?? null, problems, notes };
  }
}
