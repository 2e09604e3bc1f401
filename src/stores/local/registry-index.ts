import { closeSync, fstatSync, openSync } from "node:fs";
import { isValidId } from "../../core/ids.js";
import { forEachLineBackwards, parseObjectLine, readFully } from "../../util/jsonl.js";
import type { RegistryRecord } from "./record.js";
import { recordId } from "./record.js";

/** Bytes kept from just before the indexed end, to notice a file rewritten in place. */
const TAIL_BYTES = 64;
/** More new bytes than this since the last look, and the index starts again (cheaper than parsing them all). */
const MAX_CATCH_UP_BYTES = 8 * 1024 * 1024;
/** More ids than this, and the index starts again: its memory stays bounded. */
const MAX_IDS = 100_000;
/**
 * How long the index trusts what it has read (ms): then it starts again, so that a registry
 * edited by hand in place (same length, same end) while no writer ran is read as it is now.
 */
export const INDEX_TRUST_MS = 1000;

/**
 * Where one writer last saw each record of a registry, so that a change made under the
 * registry lock reads only what other writers appended since its last look, not the file back
 * to the record. Without it a record's latest line is searched for from the end of the file,
 * which with several writers interleaving their lines costs more the more writers there are.
 *
 * Sound because every writer appends under the lock and nothing else changes the file in
 * place: the index is used only under the lock, and it starts again whenever the file is
 * another file (another device or inode: compacted, replaced), is shorter than the index has
 * seen, no longer has the bytes it saw just before its end (rewritten in place), or after
 * {@link INDEX_TRUST_MS} (a hand edit in place that kept the length and the end). Each record
 * it points at is read and checked (its id) before use; a mismatch starts it again. What it
 * answers is what {@link readOne} would: the latest valid line of the id.
 */
export class RegistryIndex {
  /** When the index last started from the file as it was (ms, from `now`). */
  private since = -Infinity;

  constructor(private readonly now: () => number = Date.now) {}

  private dev = -1;
  private ino = -1;
  /** Bytes of the file accounted for, always just after a line break (or 0). */
  private size = 0;
  private tail: Buffer = Buffer.alloc(0);
  /** The latest line of each id known to start in [0, size); null: the id has no line there. */
  private readonly at = new Map<string, number | null>();

  /**
   * The latest raw record of `id` (a deleted one included, as written), or undefined when the
   * registry holds none. The caller holds the registry lock.
   */
  lookup(path: string, id: string): RegistryRecord | undefined {
    if (!isValidId(id)) return undefined;
    return this.withFile(path, (fd) => {
      const fileSize = this.catchUp(fd);
      // A last line without its line break (a writer died before writing it) counts as a
      // line, as for every reader; it is indexed once the next append has ended it.
      if (fileSize > this.size) {
        const last = recordAt(fd, this.size);
        if (last !== undefined && recordId(last) === id) return last;
      }
      const known = this.at.get(id);
      if (known === null) return undefined;
      if (known !== undefined) {
        const record = recordAt(fd, known);
        if (record !== undefined && recordId(record) === id) return record;
        // Not what was indexed there: the file changed under the index. Look the slow way.
        this.reset();
        this.catchUp(fd);
      }
      return this.search(path, id);
    });
  }

  /** Brings the index up to date with the file, before an append that looks nothing up. */
  sync(path: string): void {
    this.withFile(path, (fd) => void this.catchUp(fd));
  }

  /**
   * Records this writer's own append of `line` (ending with its line break) for `id` at
   * `offset`, called under the lock right after it, after a {@link sync} or {@link lookup}
   * under the same lock: the index stays current without reading the line back. An append
   * that did not start where the index ends (it began with a line break after a torn line)
   * starts the index again.
   */
  appended(id: string, offset: number, line: string): void {
    if (offset !== this.size || this.dev === -1) return this.reset();
    const bytes = Buffer.from(line, "utf8");
    this.at.set(id, offset);
    this.size = offset + bytes.length;
    this.tail = Buffer.concat([this.tail, bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES))]).subarray(-TAIL_BYTES);
  }

  /** Runs `fn` on the file open for reading; a missing file resets the index and gives undefined. */
  private withFile<T>(path: string, fn: (fd: number) => T): T | undefined {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      this.reset();
      return undefined;
    }
    try {
      return fn(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Forgets everything: the next lookup starts from the file as it is then. */
  reset(): void {
    this.dev = -1;
    this.ino = -1;
    this.size = 0;
    this.tail = Buffer.alloc(0);
    this.at.clear();
  }

  /**
   * Indexes the whole lines appended since the last look (or starts again; see the class).
   * Returns the file's size.
   */
  private catchUp(fd: number): number {
    const st = fstatSync(fd);
    const same = st.dev === this.dev && st.ino === this.ino && st.size >= this.size && this.at.size <= MAX_IDS && this.now() - this.since <= INDEX_TRUST_MS;
    if (!same || !this.tailMatches(fd) || st.size - this.size > MAX_CATCH_UP_BYTES) {
      this.startAt(fd, st.dev, st.ino, st.size);
      return st.size;
    }
    if (st.size === this.size) return st.size;
    const data = Buffer.allocUnsafe(st.size - this.size);
    const got = readAt(fd, data, this.size);
    // Index only whole lines: a torn last line becomes a damaged line when the next append
    // starts on a fresh line, and is read again then.
    const end = lastLineBreak(data, got) + 1;
    for (let start = 0; start < end; ) {
      const nl = data.indexOf(0x0a, start);
      let text = data.toString("utf8", start, nl).replace(/\r$/, "");
      if (this.size + start === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      const parsed = parseObjectLine(text);
      if ("value" in parsed) {
        const id = recordId(parsed.value);
        if (typeof id === "string" && isValidId(id)) this.at.set(id, this.size + start);
      }
      start = nl + 1;
    }
    if (end > 0) {
      this.size += end;
      this.tail = Buffer.from(data.subarray(Math.max(0, end - TAIL_BYTES), end));
    }
    return st.size;
  }

  /** Starts the index at the last line break of a file of `size` bytes, knowing no ids. */
  private startAt(fd: number, dev: number, ino: number, size: number): void {
    this.reset();
    this.dev = dev;
    this.ino = ino;
    this.since = this.now();
    // The bytes after the last line break (a torn line) are read again at the next look.
    const back = Buffer.allocUnsafe(Math.min(size, 64 * 1024));
    let from = size;
    while (from > 0) {
      const start = Math.max(0, from - back.length);
      const got = readAt(fd, back.subarray(0, from - start), start);
      if (got === 0) break;
      const nl = lastLineBreak(back, got);
      if (nl >= 0) {
        this.size = start + nl + 1;
        const tail = Buffer.allocUnsafe(Math.min(TAIL_BYTES, this.size));
        readAt(fd, tail, this.size - tail.length);
        this.tail = tail;
        return;
      }
      from = start;
    }
    this.size = 0;
  }

  private tailMatches(fd: number): boolean {
    if (this.tail.length === 0) return this.size === 0;
    const now = Buffer.allocUnsafe(this.tail.length);
    return readAt(fd, now, this.size - this.tail.length) === now.length && now.equals(this.tail);
  }

  /** The latest line of `id` before the indexed end, searched for from there backwards. */
  private search(path: string, id: string): RegistryRecord | undefined {
    let found: RegistryRecord | undefined;
    let offset: number | null = null;
    forEachLineBackwards(
      path,
      (text, at) => {
        const parsed = parseObjectLine(text);
        if ("value" in parsed && recordId(parsed.value) === id) {
          found = parsed.value as RegistryRecord;
          offset = at;
          return true;
        }
        return false;
      },
      { containing: id, end: this.size },
    );
    this.at.set(id, offset);
    return found;
  }
}

/** The last line break among the first `length` bytes of `buf`, or -1. */
function lastLineBreak(buf: Buffer, length: number): number {
  // (A negative offset would make Buffer#lastIndexOf count from the end.)
  return length <= 0 ? -1 : buf.lastIndexOf(0x0a, length - 1);
}

/** Reads into `buf` at `position`; how many bytes (fewer only at the end of the file). */
function readAt(fd: number, buf: Buffer, position: number): number {
  return readFully(fd, buf, buf.length, position);
}

/** The record whose line starts at `offset`, or undefined when there is no valid one. */
function recordAt(fd: number, offset: number): RegistryRecord | undefined {
  const parts: Buffer[] = [];
  for (let pos = offset, size = 4096; ; size = Math.min(size * 2, 4 * 1024 * 1024)) {
    const buf = Buffer.allocUnsafe(size);
    const got = readAt(fd, buf, pos);
    const nl = buf.subarray(0, got).indexOf(0x0a);
    if (nl >= 0 || got < size) {
      parts.push(buf.subarray(0, nl >= 0 ? nl : got));
      break;
    }
    parts.push(buf);
    pos += got;
  }
  let text = Buffer.concat(parts).toString("utf8").replace(/\r$/, "");
  if (offset === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const parsed = parseObjectLine(text);
  return "value" in parsed ? (parsed.value as RegistryRecord) : undefined;
}
