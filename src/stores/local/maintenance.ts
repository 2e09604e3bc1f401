import { accessSync, chmodSync, closeSync, constants, existsSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { BackendError } from "../../core/errors.js";
import type { DamagedLine } from "../../util/jsonl.js";
import { parseObjectLine } from "../../util/jsonl.js";
import { assertRegistryFile } from "./registry-file.js";
import { checkedRecordId } from "./record.js";
import type { RegistryWriter } from "./registry-writer.js";
import { readRaw } from "./registry-writer.js";
import { appendLine } from "./writer.js";
import { fsyncDir } from "../../util/atomic-file.js";

/** What `registry check` reports: the JSON contract of `expflow registry check --json`. */
export interface RegistryHealth {
  readonly path: string;
  /** Non-blank lines. */
  readonly lines: number;
  /** Readable lines: snapshots of some experiment (tombstones included). */
  readonly records: number;
  /** Distinct experiments, tombstoned ones left out (archived ones counted). */
  readonly experiments: number;
  /** Experiments whose latest snapshot is archived (and not deleted). */
  readonly archived: number;
  /** Experiments whose latest snapshot is a tombstone (`deleted: true`). */
  readonly deleted: number;
  /** Every damaged line, by 1-based line number, with the reason. */
  readonly damaged: DamagedLine[];
  /** `true` when no line is damaged. */
  readonly healthy: boolean;
}

/**
 * Reads the whole registry once and counts what it holds. Never modifies the file.
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` when the file does not exist.
 */
export function checkRegistry(path: string): RegistryHealth {
  assertRegistryFile(path);
  const raw = readRaw(path);
  let experiments = 0;
  let archived = 0;
  let deleted = 0;
  for (const r of raw.records.values()) {
    if (r.deleted === true) deleted++;
    else {
      experiments++;
      if (r.archived === true) archived++;
    }
  }
  return {
    path,
    lines: raw.lines,
    records: raw.lines - raw.damaged.length,
    experiments,
    archived,
    deleted,
    damaged: raw.damaged,
    healthy: raw.damaged.length === 0,
  };
}

/** What {@link compactRegistry} did. */
export interface CompactResult {
  readonly path: string;
  /** Where damaged lines went: `<registry>.damaged`. */
  readonly damagedPath: string;
  /** Non-blank lines before. */
  readonly linesBefore: number;
  /** Lines after: one per experiment kept. */
  readonly linesAfter: number;
  /** Experiments kept (not tombstoned). */
  readonly experiments: number;
  /** Older snapshots dropped (superseded by a later line of the same experiment). */
  readonly superseded: number;
  /** Tombstoned experiments dropped, with all their snapshots. */
  readonly tombstonesDropped: number;
  /** Damaged lines moved to {@link damagedPath}. */
  readonly damagedMoved: number;
}

/** Bytes read at a time by `registry compact`: between two reads the event loop runs. */
const COMPACT_CHUNK_BYTES = 1024 * 1024;

/**
 * Calls `onLine` with the exact bytes of every line (without its `\n`), its 1-based number and
 * its byte offset in the file, reading in chunks with asynchronous I/O, so the event loop runs
 * between chunks however large the file. Line numbers match {@link forEachLine}'s. Bytes, not
 * text, so that a damaged line that is not valid UTF-8 can be moved aside unchanged.
 */
async function forEachLineBytes(path: string, onLine: (bytes: Buffer, line: number, offset: number) => void): Promise<void> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(COMPACT_CHUNK_BYTES);
    let carry: Buffer[] = [];
    let carryStart = 0;
    let lineNo = 0;
    let pos = 0;
    for (;;) {
      const { bytesRead: n } = await fh.read(buf, 0, COMPACT_CHUNK_BYTES, pos);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf(0x0a, start)) >= 0) {
        // The chunk buffer is reused for the next read: nothing may keep a view of it.
        if (carry.length > 0) {
          onLine(Buffer.concat([...carry, chunk.subarray(start, nl)]), ++lineNo, carryStart);
          carry = [];
        } else onLine(chunk.subarray(start, nl), ++lineNo, pos + start);
        start = nl + 1;
      }
      if (start < n) {
        if (carry.length === 0) carryStart = pos + start;
        carry.push(Buffer.from(chunk.subarray(start)));
      }
      pos += n;
    }
    if (carry.length > 0) onLine(Buffer.concat(carry), ++lineNo, carryStart);
  } finally {
    await fh.close();
  }
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Why a path cannot be rewritten, or null: no write bit at all (even for root), or access(W_OK) refused (EACCES, EROFS). */
function notWritable(path: string): string | null {
  try {
    if ((statSync(path).mode & 0o222) === 0) return "no write permission";
    accessSync(path, constants.W_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "EROFS" ? "read-only file system" : code === "EACCES" || code === "EPERM" ? "no write permission" : (e as Error).message;
  }
}

/**
 * Checks that `registry compact` may rewrite the registry: the file (its real path, through a
 * symlink) and its directory are writable. A read-only registry is never rewritten.
 *
 * @throws {BackendError} `E_REGISTRY_READ_ONLY` (exit 4) naming which one is not writable.
 */
export function assertCompactable(path: string): void {
  const real = realpathSync(path);
  for (const [what, p] of [
    ["file", real],
    ["directory", dirname(real)],
  ] as const) {
    const why = notWritable(p);
    if (why !== null) {
      throw new BackendError("E_REGISTRY_READ_ONLY", `cannot compact ${path}: its ${what} ${p} is read-only (${why}); the registry was left untouched`, {
        hint: `compacting replaces the file in its directory: make both writable (e.g. chmod u+w) and retry`,
      });
    }
  }
}

/** Where a line lies in the file: what the rewrite copies, and the only thing kept per experiment. */
interface Span {
  readonly offset: number;
  readonly length: number;
}

/** Reads the bytes of `spans` from `fd`, in order, as one buffer each. */
function readSpans(fd: number, spans: readonly Span[]): Buffer[] {
  return spans.map((s) => {
    const b = Buffer.allocUnsafe(s.length);
    let got = 0;
    while (got < s.length) {
      const n = readSync(fd, b, got, s.length - got, s.offset + got);
      if (n === 0) throw new Error(`registry changed during compaction (short read at ${s.offset + got})`);
      got += n;
    }
    return b;
  });
}

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Spans read and written per batch of the rewrite (then the event loop runs). */
const SPAN_BATCH = 2000;

/**
 * Writes the lines at `spans` of `source` (each followed by `\n`) to `target` atomically, with
 * `mode`: a temporary file in the same directory, written in batches with asynchronous I/O,
 * fsynced, renamed over the target, then the directory fsynced.
 */
async function rewriteSpansAtomic(source: string, spans: readonly Span[], target: string, mode: number): Promise<void> {
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  const out = await open(tmp, "wx", mode);
  const src = openSync(source, "r");
  let renamed = false;
  try {
    for (let i = 0; i < spans.length; i += SPAN_BATCH) {
      const parts: Buffer[] = [];
      for (const b of readSpans(src, spans.slice(i, i + SPAN_BATCH))) parts.push(b, NEWLINE);
      const data = Buffer.concat(parts);
      let off = 0;
      while (off < data.length) off += (await out.write(data, off)).bytesWritten;
    }
    await out.sync();
    await out.close();
    // The registry keeps its own mode, whatever the umask.
    chmodSync(tmp, mode);
    await rename(tmp, target);
    renamed = true;
  } finally {
    closeSync(src);
    await out.close().catch(() => {});
    if (!renamed) {
      await rm(tmp, { force: true });
    }
  }
  fsyncDir(dir);
}

const NEWLINE = Buffer.from("\n");

/** Damaged lines appended to `<registry>.damaged` per write. */
const DAMAGED_BATCH = 1000;

/**
 * Rewrites the registry with only the latest snapshot of each experiment, dropping tombstoned
 * experiments, under the registry lock so no write is lost.
 *
 * - It streams: a first pass reads the file in chunks and keeps, per experiment, only where
 *   its latest line lies (and, per damaged line, where it lies); a second pass copies those
 *   lines. Memory grows with the number of experiments (and damaged lines), not with the
 *   file's size, and the event loop runs between chunks.
 * - Experiments stay in order of first appearance (the order `run list` shows), and each kept
 *   line is copied byte for byte, so every reader sees the same records afterwards.
 * - Damaged lines are never dropped: they are appended, before the rewrite, to
 *   `<registry>.damaged`, one JSON object a line:
 *   `{"line", "reason", "text", "moved_at"}` plus `"base64"` (the exact bytes) when the line is
 *   not valid UTF-8. `line` is its number in the file as it was before this compaction.
 * - The rewrite is atomic (a temporary file in the same directory, fsync, rename) and keeps the
 *   registry's mode: a concurrent reader sees the old file or the new one, never a mix.
 * - A read-only registry (file or directory) is never rewritten: {@link assertCompactable}.
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` when the file does not exist.
 * @throws {BackendError} `E_REGISTRY_READ_ONLY` when it cannot be rewritten (nothing changed);
 *   `E_LOCK_TIMEOUT` when the lock cannot be had.
 */
export async function compactRegistry(path: string, writer: RegistryWriter, now: () => Date = () => new Date()): Promise<CompactResult> {
  assertRegistryFile(path);
  assertCompactable(path);
  return writer.locked(async () => {
    assertRegistryFile(path);
    assertCompactable(path);
    // Through a symlink, read and replace the file it points to, not the link.
    const real = realpathSync(path);
    const mode = statSync(real).mode & 0o7777;
    const latest = new Map<string, Span & { deleted: boolean }>();
    const damaged: (Span & { line: number; reason: string })[] = [];
    let lines = 0;
    let records = 0;
    await forEachLineBytes(real, (raw, line, offset) => {
      let bytes = raw;
      let start = offset;
      if (line === 1 && bytes.subarray(0, 3).equals(BOM)) {
        bytes = bytes.subarray(3);
        start += 3;
      }
      if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1);
      const text = bytes.toString("utf8");
      if (text.trim() === "") return;
      lines++;
      const parsed = parseObjectLine(text);
      const checked = "reason" in parsed ? parsed : checkedRecordId(parsed.value);
      if ("reason" in checked || !("value" in parsed)) {
        damaged.push({ line, reason: "reason" in checked ? checked.reason : "unreadable", offset, length: raw.length });
        return;
      }
      records++;
      // Map.set on an existing key keeps its first position: the order readers see.
      latest.set(checked.id, { offset: start, length: bytes.length, deleted: parsed.value["deleted"] === true });
    });

    const kept: Span[] = [];
    let tombstonesDropped = 0;
    for (const r of latest.values()) {
      if (r.deleted) tombstonesDropped++;
      else kept.push(r);
    }

    const damagedPath = `${path}.damaged`;
    if (damaged.length > 0) {
      const existed = existsSync(damagedPath);
      const movedAt = now().toISOString();
      const fd = openSync(real, "r");
      try {
        // Appended and fsynced before the rewrite: a crash in between leaves them in both files, never in neither.
        for (let i = 0; i < damaged.length; i += DAMAGED_BATCH) {
          const batch = damaged.slice(i, i + DAMAGED_BATCH);
          const entries = readSpans(fd, batch).map((bytes, j) => {
            const d = batch[j]!;
            const text = bytes.toString("utf8");
            const exact = Buffer.from(text, "utf8").equals(bytes);
            return JSON.stringify({ line: d.line, reason: d.reason, text, moved_at: movedAt, ...(exact ? {} : { base64: bytes.toString("base64") }) });
          });
          appendLine(damagedPath, entries.join("\n"));
          await yieldToEventLoop();
        }
      } finally {
        closeSync(fd);
      }
      if (!existed) chmodSync(damagedPath, mode);
    }
    await rewriteSpansAtomic(real, kept, real, mode);

    return {
      path,
      damagedPath,
      linesBefore: lines,
      linesAfter: kept.length,
      experiments: kept.length,
      superseded: records - latest.size,
      tombstonesDropped,
      damagedMoved: damaged.length,
    };
  });
}
