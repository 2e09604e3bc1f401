import { chmodSync, closeSync, existsSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import type { DamagedLine } from "./jsonl.js";
import { DEFAULT_CHUNK_BYTES, parseObjectLine } from "./jsonl.js";
import { assertRegistryFile } from "./registry-file.js";
import { checkedRecordId } from "./record.js";
import type { RegistryWriter } from "./registry-writer.js";
import { readRaw } from "./registry-writer.js";
import { appendLine } from "./writer.js";
import { replaceFileAtomic, writeAll } from "../../util/atomic-file.js";

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

/**
 * Calls `onLine` with the exact bytes of every line (without its `\n`) and its 1-based number,
 * reading in chunks. Line numbers match {@link forEachLine}'s. Bytes, not text, so that a damaged
 * line that is not valid UTF-8 can be moved aside unchanged.
 */
function forEachLineBytes(path: string, onLine: (bytes: Buffer, line: number) => void, chunkBytes = DEFAULT_CHUNK_BYTES): void {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    let carry: Buffer[] = [];
    let lineNo = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf(0x0a, start)) >= 0) {
        // Copy: the chunk buffer is reused for the next read.
        const piece = Buffer.from(chunk.subarray(start, nl));
        onLine(carry.length > 0 ? Buffer.concat([...carry, piece]) : piece, ++lineNo);
        carry = [];
        start = nl + 1;
      }
      if (start < n) carry.push(Buffer.from(chunk.subarray(start)));
    }
    if (carry.length > 0) onLine(Buffer.concat(carry), ++lineNo);
  } finally {
    closeSync(fd);
  }
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Writes `lines` (each followed by `\n`) to `path` atomically, with `mode`: temp file in the same directory, fsync, rename. */
function writeLinesAtomic(path: string, lines: Iterable<Buffer>, mode: number): void {
  replaceFileAtomic(
    path,
    (fd) => {
      const NEWLINE = Buffer.from("\n");
      let batch: Buffer[] = [];
      let size = 0;
      const flush = (): void => {
        if (batch.length === 0) return;
        writeAll(fd, Buffer.concat(batch, size));
        batch = [];
        size = 0;
      };
      for (const line of lines) {
        batch.push(line, NEWLINE);
        size += line.length + 1;
        if (size >= 1 << 20) flush();
      }
      flush();
    },
    // The registry keeps its own mode, whatever the umask.
    { mode },
  );
}

/**
 * Rewrites the registry with only the latest snapshot of each experiment, dropping tombstoned
 * experiments, under the registry lock so no write is lost.
 *
 * - Experiments stay in order of first appearance (the order `run list` shows), and each kept
 *   line is copied byte for byte, so every reader sees the same records afterwards.
 * - Damaged lines are never dropped: they are appended, before the rewrite, to
 *   `<registry>.damaged`, one JSON object a line:
 *   `{"line", "reason", "text", "moved_at"}` plus `"base64"` (the exact bytes) when the line is
 *   not valid UTF-8. `line` is its number in the file as it was before this compaction.
 * - The rewrite is atomic (a temporary file in the same directory, fsync, rename) and keeps the
 *   registry's mode: a concurrent reader sees the old file or the new one, never a mix.
 *
 * @throws {NotFoundError} `E_REGISTRY_NOT_FOUND` when the file does not exist.
 * @throws {BackendError} `E_LOCK_TIMEOUT` when the lock cannot be had.
 */
export async function compactRegistry(path: string, writer: RegistryWriter, now: () => Date = () => new Date()): Promise<CompactResult> {
  assertRegistryFile(path);
  return writer.locked(() => {
    assertRegistryFile(path);
    const mode = statSync(path).mode & 0o7777;
    const latest = new Map<string, { bytes: Buffer; deleted: boolean }>();
    const damaged: { line: number; reason: string; bytes: Buffer }[] = [];
    let lines = 0;
    let records = 0;
    forEachLineBytes(path, (raw, line) => {
      let bytes = raw;
      if (line === 1 && bytes.subarray(0, 3).equals(BOM)) bytes = bytes.subarray(3);
      if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, -1);
      const text = bytes.toString("utf8");
      if (text.trim() === "") return;
      lines++;
      const parsed = parseObjectLine(text);
      const checked = "reason" in parsed ? parsed : checkedRecordId(parsed.value);
      if ("reason" in checked || !("value" in parsed)) {
        damaged.push({ line, reason: "reason" in checked ? checked.reason : "unreadable", bytes: raw });
        return;
      }
      records++;
      // Map.set on an existing key keeps its first position: the order readers see.
      latest.set(checked.id, { bytes, deleted: parsed.value["deleted"] === true });
    });

    const kept: Buffer[] = [];
    let tombstonesDropped = 0;
    for (const r of latest.values()) {
      if (r.deleted) tombstonesDropped++;
      else kept.push(r.bytes);
    }

    const damagedPath = `${path}.damaged`;
    if (damaged.length > 0) {
      const existed = existsSync(damagedPath);
      const movedAt = now().toISOString();
      const entries = damaged.map((d) => {
        const text = d.bytes.toString("utf8");
        const exact = Buffer.from(text, "utf8").equals(d.bytes);
        return JSON.stringify({ line: d.line, reason: d.reason, text, moved_at: movedAt, ...(exact ? {} : { base64: d.bytes.toString("base64") }) });
      });
      // Appended and fsynced before the rewrite: a crash in between leaves them in both files, never in neither.
      appendLine(damagedPath, entries.join("\n"));
      if (!existed) chmodSync(damagedPath, mode);
    }
    // Through a symlink, replace the file it points to, not the link.
    writeLinesAtomic(realpathSync(path), kept, mode);

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
